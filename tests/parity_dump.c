/*
 * PyTorch parity, the device half: runs each case (core layers and op
 * plugins) on the device with seeded inputs and weights, backpropagates
 * L = <y, r>, and writes every input, weight, output and gradient as raw
 * little-endian float32 files plus DIR/manifest.json describing the cases.
 * tests/parity.py runs the same cases through torch and compares.
 *
 * usage: parity_dump DIR PLUGIN_DIR
 */
#include "autograd.h"
#include "error.h"
#include "exec.h"
#include "nn.h"
#include "op.h"
#include "plugin.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static FILE *manifest;
static dam_exec *ex;
static uint64_t rng = 12345;
static int n_cases;

static float uniform(void) { return (float)(dam_uniform01(&rng) * 2.0 - 1.0); }

static void die(const char *what) {
  fprintf(stderr, "parity_dump: %s: %s\n", what, dam_last_error());
  exit(1);
}

/* A persistent tensor with uniform [-1, 1) values (requires_grad as
 * given). */
static dam_tensor *random_tensor(dam_shape s, bool grad) {
  dam_tensor *t = dam_tensor_new(ex, &s, true);
  if (!t)
    die("tensor");
  float *v = malloc(t->numel * sizeof *v);
  for (uint64_t i = 0; i < t->numel; i++)
    v[i] = uniform();
  if (dam_tensor_upload(ex, t, v))
    die("upload");
  free(v);
  t->requires_grad = grad;
  return t;
}

/* Write t as DIR/<case>_<name>.f32 and list it in the manifest. */
static void dump(const char *name, const dam_tensor *t, bool first) {
  float *v = malloc(t->numel * sizeof *v);
  if (dam_tensor_download(ex, t, v))
    die("download");
  char path[512];
  snprintf(path, sizeof path, "%s/c%d_%s.f32", dir, n_cases, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(v, sizeof *v, t->numel, f) != t->numel || fclose(f))
    die(path);
  free(v);
  fprintf(manifest, "%s\"%s\": [\"c%d_%s.f32\", [", first ? "" : ", ",
          name, n_cases, name);
  for (uint32_t i = 0; i < t->shape.ndim; i++)
    fprintf(manifest, "%s%u", i ? ", " : "", t->shape.dim[i]);
  fprintf(manifest, "]]");
}

/* Backpropagate <y, r> and write the case: its named tensors, then y, r
 * and the gradients of the tensors that require one. */
static void finish_case(const char *kind, const char *args, dam_tensor *y,
                        const char *const *names, dam_tensor *const *ts,
                        uint32_t n) {
  if (!y)
    die(kind);
  dam_tensor *r = random_tensor(y->shape, false);
  if (dam_backward(ex, dam_dot(ex, y, r)))
    die("backward");
  fprintf(manifest, "%s{\"kind\": \"%s\", \"args\": {%s}, \"tensors\": {",
          n_cases ? ",\n" : "", kind, args);
  dump("y", y, true);
  dump("r", r, false);
  for (uint32_t i = 0; i < n; i++) {
    char g[64];
    dump(names[i], ts[i], false);
    snprintf(g, sizeof g, "grad_%s", names[i]);
    if (ts[i]->grad)
      dump(g, ts[i]->grad, false);
  }
  fprintf(manifest, "}}");
  n_cases++;
  if (dam_exec_end_step(ex))
    die("end step");
}

static void conv_case(dam_shape xs, dam_shape ws, dam_conv2d_geom g) {
  dam_tensor *x = random_tensor(xs, true), *w = random_tensor(ws, true);
  char args[160];
  snprintf(args, sizeof args, "\"stride\": %u, \"pad\": %u, \"dilation\": "
           "%u, \"groups\": %u", g.stride[0], g.pad[0], g.dilation[0],
           g.groups);
  const char *names[] = {"x", "w"};
  dam_tensor *ts[] = {x, w};
  finish_case("conv2d", args, dam_conv2d(ex, x, w, &g), names, ts, 2);
}

static void pool_case(dam_shape xs, uint32_t kind, uint32_t stride) {
  dam_tensor *x = random_tensor(xs, true);
  dam_pool_args a = {kind, 3, stride, 1};
  char args[96];
  snprintf(args, sizeof args, "\"max\": %s, \"stride\": %u",
           kind == DAM_POOL_MAX ? "true" : "false", stride);
  const char *names[] = {"x"};
  finish_case("pool", args, dam_pool2d(ex, x, &a), names, &x, 1);
}

static void bn_case(dam_shape xs) {
  dam_shape c = dam_shape4(xs.dim[1], 0, 0, 0);
  dam_tensor *x = random_tensor(xs, true), *gamma = random_tensor(c, true),
             *beta = random_tensor(c, true);
  dam_bn_args a = {1e-5f, 0.1f};
  const char *names[] = {"x", "gamma", "beta"};
  dam_tensor *ts[] = {x, gamma, beta};
  finish_case("batchnorm", "",
              dam_batchnorm(ex, x, gamma, beta, NULL, NULL, &a, true), names,
              ts, 3);
}

static void xent_case(uint32_t n, uint32_t k) {
  dam_shape ls = dam_shape4(n, 0, 0, 0);
  dam_tensor *z = random_tensor(dam_shape4(n, k, 0, 0), true);
  dam_tensor *labels = dam_tensor_new(ex, &ls, true);
  float lab[64];
  for (uint32_t i = 0; i < n; i++)
    lab[i] = (float)((i * 7 + 3) % k);
  if (!labels || dam_tensor_upload(ex, labels, lab))
    die("labels");
  const char *names[] = {"z", "labels"};
  dam_tensor *ts[] = {z, labels};
  finish_case("xent", "", dam_softmax_xent(ex, z, labels), names, ts, 2);
}

/* An op plugin at a site: its input and every weight it made. */
static void op_case(const dam_registry *reg, const char *name,
                    dam_shape xs, uint32_t stride) {
  const dam_op_desc *d =
      (const dam_op_desc *)dam_registry_find(reg, DAM_KIND_OP, name, NULL);
  dam_op_site site = {sizeof site, stride, xs.dim[1], xs.dim[1]};
  dam_op *op;
  if (!d || dam_op_create(ex, d, NULL, &site, &op))
    die(name);
  dam_tensor *x = random_tensor(xs, true);
  dam_tensor *y = dam_op_forward(ex, op, x, true);
  char args[96], wn[8][8];
  const char *names[9] = {"x"};
  dam_tensor *ts[9] = {x};
  for (uint32_t i = 0; i < op->weights.n && i < 8; i++) {
    snprintf(wn[i], sizeof wn[i], "w%u", i);
    names[i + 1] = wn[i];
    ts[i + 1] = op->weights.t[i];
  }
  snprintf(args, sizeof args, "\"op\": \"%s\", \"stride\": %u", name, stride);
  finish_case("op", args, y, names, ts, op->weights.n + 1);
  dam_op_destroy(op);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: parity_dump DIR PLUGIN_DIR\n");
    return 2;
  }
  dir = argv[1];
  char path[512];
  snprintf(path, sizeof path, "%s/manifest.json", dir);
  dam_device *dev;
  dam_registry *reg = dam_registry_new();
  if (!(manifest = fopen(path, "w")) ||
      dam_device_open(dam_device_spec(NULL, NULL), &dev) ||
      dam_exec_create(dev, &ex) || !reg ||
      dam_registry_load_dir(reg, argv[2]) != 0)
    die("setup");
  fprintf(manifest, "[\n");
  conv_case(dam_shape4(7, 3, 9, 9), dam_shape4(5, 3, 3, 3),
            (dam_conv2d_geom){{2, 2}, {1, 1}, {1, 1}, 1});
  conv_case(dam_shape4(1, 6, 8, 8), dam_shape4(4, 3, 3, 3),
            (dam_conv2d_geom){{1, 1}, {1, 1}, {1, 1}, 2});
  conv_case(dam_shape4(2, 5, 11, 11), dam_shape4(5, 1, 5, 5),
            (dam_conv2d_geom){{1, 1}, {4, 4}, {2, 2}, 5});
  conv_case(dam_shape4(3, 8, 7, 7), dam_shape4(16, 8, 1, 1),
            (dam_conv2d_geom){{1, 1}, {0, 0}, {1, 1}, 1});
  conv_case(dam_shape4(2, 4, 4, 4), dam_shape4(4, 4, 1, 1),
            (dam_conv2d_geom){{1, 1}, {0, 0}, {1, 1}, 1});
  conv_case(dam_shape4(2, 4, 7, 7), dam_shape4(4, 1, 5, 5),
            (dam_conv2d_geom){{2, 2}, {2, 2}, {1, 1}, 4});
  pool_case(dam_shape4(7, 3, 9, 9), DAM_POOL_MAX, 2);
  pool_case(dam_shape4(1, 4, 8, 8), DAM_POOL_AVG, 1);
  pool_case(dam_shape4(2, 2, 7, 7), DAM_POOL_AVG, 2);
  bn_case(dam_shape4(7, 5, 6, 6));
  xent_case(7, 10);
  const char *ops[] = {"sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
                       "dil_conv_5x5", "max_pool_3x3", "avg_pool_3x3",
                       "skip_connect"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    for (uint32_t stride = 1; stride <= 2; stride++)
      for (uint32_t hw = 7; hw <= 8; hw++)
        op_case(reg, ops[i], dam_shape4(2, 4, hw, hw), stride);
  fprintf(manifest, "\n]\n");
  if (fclose(manifest))
    die("manifest");
  dam_exec_destroy(ex);
  dam_device_close(dev);
  dam_registry_free(reg);
  return 0;
}
