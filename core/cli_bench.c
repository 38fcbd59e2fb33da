/*
 * `diffautoml bench kernels`: throughput of the core kernels on the
 * selected device, over the shapes a DARTS search on 32x32 images runs
 * (stem, pointwise, depthwise, dilated, strided and reduction convolutions;
 * elementwise and reduction kernels).  Each row is timed by wall clock over
 * back-to-back calls recorded into one command buffer per round, after a
 * warm-up call that creates the pipeline; the best of three trials is
 * reported.
 */
#include "cli.h"
#include "conv.h"
#include "device.h"
#include "error.h"
#include "kernels.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most calls per round (recorded, then one wait that also frees the
 * step's temporaries), and how long and how often a row is measured. */
#define MAX_CALLS_PER_ROUND 64
#define TRIAL_SECONDS 0.1
#define TRIALS 3
#define ELEMENTWISE_N (1u << 20)

enum pass { FWD, GRAD_INPUT, GRAD_WEIGHT };
static const char *const pass_name[] = {"conv2d", "conv2d_grad_input",
                                        "conv2d_grad_weight"};

typedef struct conv_bench {
  const char *name;
  uint32_t c, hw, k, ks; /* channels in, image side, channels out, kernel */
  dam_conv2d_geom g;
} conv_bench;

static const conv_bench conv_cases[] = {
    {"stem 3x3 3->48 @32", 3, 32, 48, 3, {.pad = {1, 1}}},
    {"1x1 16->16 @32", 16, 32, 16, 1, {.groups = 1}},
    {"1x1 32->32 @16", 32, 16, 32, 1, {.groups = 1}},
    {"1x1 64->64 @8", 64, 8, 64, 1, {.groups = 1}},
    {"1x1 s2 32->16 @32", 32, 32, 16, 1, {.stride = {2, 2}}},
    {"dw3x3 16 @32", 16, 32, 16, 3, {.pad = {1, 1}, .groups = 16}},
    {"dw5x5 16 @32", 16, 32, 16, 5, {.pad = {2, 2}, .groups = 16}},
    {"dw3x3 d2 16 @32", 16, 32, 16, 3,
     {.pad = {2, 2}, .dilation = {2, 2}, .groups = 16}},
    {"dw3x3 s2 32 @32", 32, 32, 32, 3,
     {.stride = {2, 2}, .pad = {1, 1}, .groups = 32}},
    {"3x3 64->64 @8", 64, 8, 64, 3, {.pad = {1, 1}}},
};

typedef struct bench {
  dam_exec *ex;
  uint32_t batch;
  const char *filter;
  FILE *out;
} bench;

/* One row's work: `call` records one call of the kernel. */
typedef struct row {
  const char *kernel, *shape, *path;
  double flops, bytes; /* per call; 0 where meaningless */
  int (*call)(struct row *r, dam_exec *ex);
  int kind; /* enum pass, or enum elementwise */
  const dam_conv2d_geom *g;
  dam_tensor *t[3];
  float alpha;
} row;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per call, the best of TRIALS: after a warm-up call, each trial
 * runs rounds of 1, 2, 4, ... up to MAX_CALLS_PER_ROUND calls until
 * TRIAL_SECONDS have passed.  The best trial is the one least disturbed
 * by other work on the machine. */
static int time_row(bench *b, row *r, double *per_call) {
  int err = r->call(r, b->ex);
  if (!err)
    err = dam_exec_end_step(b->ex);
  *per_call = 0;
  for (int trial = 0; trial < TRIALS && !err; trial++) {
    double start = now(), elapsed = 0;
    uint64_t calls = 0, round = 1;
    while (!err && elapsed < TRIAL_SECONDS) {
      for (uint64_t i = 0; i < round && !err; i++)
        err = r->call(r, b->ex);
      if (!err)
        err = dam_exec_end_step(b->ex);
      calls += round;
      if (round < MAX_CALLS_PER_ROUND)
        round *= 2;
      elapsed = now() - start;
    }
    double t = elapsed / (double)calls;
    if (trial == 0 || t < *per_call)
      *per_call = t;
  }
  return err;
}

static int print_row(bench *b, row *r) {
  char label[96];
  snprintf(label, sizeof label, "%s %s", r->kernel, r->shape);
  if (b->filter && !strstr(label, b->filter))
    return DAM_OK;
  double s = 0;
  int err = time_row(b, r, &s);
  if (err)
    return err;
  fprintf(b->out, "%-20s %-20s %-10s %10.3f", r->kernel, r->shape, r->path,
          s * 1e3);
  if (r->flops > 0)
    fprintf(b->out, " %9.2f", r->flops / s * 1e-9);
  else
    fprintf(b->out, " %9s", "-");
  fprintf(b->out, " %9.2f\n", r->bytes / s * 1e-9);
  fflush(b->out);
  return DAM_OK;
}

static int conv_call(row *r, dam_exec *ex) {
  switch ((enum pass)r->kind) {
  case FWD: return dam_k_conv2d(ex, r->t[0], r->t[1], r->g, r->t[2]);
  case GRAD_INPUT:
    return dam_k_conv2d_grad_input_acc(ex, r->t[2], r->t[1], r->g, r->t[0]);
  case GRAD_WEIGHT:
    return dam_k_conv2d_grad_weight_acc(ex, r->t[0], r->t[2], r->g, r->t[1]);
  }
  return DAM_EINVAL;
}

static dam_tensor *filled(dam_exec *ex, dam_shape s, float v) {
  dam_tensor *t = dam_tensor_new(ex, &s, true);
  if (t && dam_k_fill(ex, t, v)) {
    dam_tensor_free(ex, t);
    return NULL;
  }
  return t;
}

static int bench_conv(bench *b, const conv_bench *cb) {
  dam_shape xs = dam_shape4(b->batch, cb->c, cb->hw, cb->hw);
  uint32_t groups = cb->g.groups ? cb->g.groups : 1;
  dam_shape ws = dam_shape4(cb->k, cb->c / groups, cb->ks, cb->ks), ys;
  int err = dam_conv2d_out_shape(&xs, &ws, &cb->g, &ys);
  if (err)
    return err;
  row r = {.shape = cb->name, .call = conv_call, .g = &cb->g};
  r.path = dam__conv2d_path(b->ex, &xs, &ws, &cb->g);
  r.t[0] = filled(b->ex, xs, 0.5f);
  r.t[1] = filled(b->ex, ws, 0.25f);
  r.t[2] = filled(b->ex, ys, 0.125f);
  if (!r.t[0] || !r.t[1] || !r.t[2])
    err = dam_fail(DAM_ENOMEM, "bench: %s: %s", cb->name, dam_last_error());
  double macs = (double)dam_conv2d_macs(&xs, &ws, &cb->g);
  double nx = (double)dam_shape_numel(&xs), nw = (double)dam_shape_numel(&ws),
         ny = (double)dam_shape_numel(&ys);
  for (int p = FWD; p <= GRAD_WEIGHT && !err; p++) {
    r.kind = p;
    r.kernel = pass_name[p];
    r.flops = 2 * macs;
    /* each operand read once, the output written (read too if added to) */
    r.bytes = 4 * (p == FWD ? nx + nw + ny
                   : p == GRAD_INPUT ? ny + nw + 2 * nx
                                     : nx + ny + 2 * nw);
    err = print_row(b, &r);
  }
  for (int i = 0; i < 3; i++)
    dam_tensor_free(b->ex, r.t[i]);
  return err;
}

enum elementwise { ADD, AXPBY, RELU_BWD, SUM, DOT };

static int elementwise_call(row *r, dam_exec *ex) {
  switch ((enum elementwise)r->kind) {
  case ADD: return dam_k_add(ex, r->t[0], r->t[1], r->t[2]);
  case AXPBY: return dam_k_axpby(ex, r->alpha, r->t[0], 0.5f, r->t[2]);
  case RELU_BWD: return dam_k_relu_backward(ex, r->t[0], r->t[1], r->t[2]);
  case SUM: return dam_k_sum(ex, r->t[0], r->t[2]);
  case DOT: return dam_k_dot(ex, r->t[0], r->t[1], r->t[2]);
  }
  return DAM_EINVAL;
}

static int bench_elementwise(bench *b) {
  static const struct {
    const char *name;
    enum elementwise kind;
    double reads, writes; /* per element */
  } kinds[] = {{"add", ADD, 2, 1},
               {"axpby", AXPBY, 2, 1},
               {"relu_backward", RELU_BWD, 3, 1},
               {"sum", SUM, 1, 0},
               {"dot", DOT, 2, 0}};
  char shape[32];
  snprintf(shape, sizeof shape, "%u elements", ELEMENTWISE_N);
  row r = {.shape = shape, .path = "-", .call = elementwise_call,
           .alpha = 1.5f};
  dam_shape n = dam_shape4(ELEMENTWISE_N, 0, 0, 0);
  r.t[0] = filled(b->ex, n, 0.5f);
  r.t[1] = filled(b->ex, n, -0.25f);
  int err = DAM_OK;
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds && !err; i++) {
    bool reduce = kinds[i].kind == SUM || kinds[i].kind == DOT;
    r.t[2] = filled(b->ex, reduce ? dam_shape4(1, 0, 0, 0) : n, 0.0f);
    if (!r.t[0] || !r.t[1] || !r.t[2]) {
      err = dam_fail(DAM_ENOMEM, "bench: %s", dam_last_error());
    } else {
      r.kernel = kinds[i].name;
      r.kind = kinds[i].kind;
      r.bytes = 4.0 * ELEMENTWISE_N * (kinds[i].reads + kinds[i].writes);
      r.flops = 0;
      err = print_row(b, &r);
    }
    dam_tensor_free(b->ex, r.t[2]);
  }
  dam_tensor_free(b->ex, r.t[0]);
  dam_tensor_free(b->ex, r.t[1]);
  return err;
}

static void bench_usage(FILE *out) {
  fprintf(out,
          "usage: diffautoml [-d DEVICE] bench kernels [OPTIONS] [FILTER]\n"
          "  time each core kernel on DARTS-sized shapes; FILTER keeps rows\n"
          "  whose kernel and shape contain it\n"
          "  --batch N         images per batch (default 64)\n"
          "  --variant V       conv2d implementation: auto (default),\n"
          "                    register or shared\n"
          "columns: milliseconds per call, GFLOP/s (2 per multiply-add),\n"
          "GB/s of operand traffic (each operand once)\n");
}

/* Parse `bench kernels` arguments into b; 0, or DAM_EXIT_USAGE after a
 * message. */
static int parse(int argc, char **argv, bench *b,
                 dam__conv2d_variant *variant) {
  if (argc < 2 || strcmp(argv[1], "kernels") != 0) {
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
      bench_usage(stdout);
      return -1;
    }
    fprintf(stderr, "diffautoml bench: expected 'kernels'%s%s\n",
            argc >= 2 ? ", got " : "", argc >= 2 ? argv[1] : "");
    bench_usage(stderr);
    return DAM_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      bench_usage(stdout);
      return -1;
    } else if (strcmp(a, "--batch") == 0 && v) {
      char *end;
      unsigned long n = strtoul(v, &end, 10);
      if (*end || n == 0 || n > 4096) {
        fprintf(stderr, "diffautoml bench: --batch takes 1..4096, got "
                "'%s'\n", v);
        return DAM_EXIT_USAGE;
      }
      b->batch = (uint32_t)n;
      i++;
    } else if (strcmp(a, "--variant") == 0 && v) {
      if (strcmp(v, "auto") == 0) *variant = DAM__CONV2D_AUTO;
      else if (strcmp(v, "register") == 0) *variant = DAM__CONV2D_REGISTER;
      else if (strcmp(v, "shared") == 0) *variant = DAM__CONV2D_SHARED;
      else {
        fprintf(stderr, "diffautoml bench: --variant is auto, register or "
                "shared, got '%s'\n", v);
        return DAM_EXIT_USAGE;
      }
      i++;
    } else if (a[0] == '-' || b->filter) {
      fprintf(stderr, "diffautoml bench: unexpected argument '%s'\n", a);
      bench_usage(stderr);
      return DAM_EXIT_USAGE;
    } else {
      b->filter = a;
    }
  }
  return 0;
}

int dam_cmd_bench(const dam_cli_opts *opts, int argc, char **argv) {
  bench b = {.batch = 64, .out = stdout};
  dam__conv2d_variant variant = DAM__CONV2D_AUTO;
  int rc = parse(argc, argv, &b, &variant);
  if (rc)
    return rc < 0 ? DAM_EXIT_OK : rc;
  dam_device *dev = NULL;
  int err = dam_device_open(dam_device_spec(opts->device, NULL), &dev);
  if (!err)
    err = dam_exec_create(dev, &b.ex);
  if (err) {
    fprintf(stderr, "diffautoml: %s\n", dam_last_error());
    dam_device_close(dev);
    return err == DAM_ENOTFOUND ? DAM_EXIT_USAGE : DAM_EXIT_RUNTIME;
  }
  dam__conv2d_force(variant, 0);
  fprintf(b.out, "device: %s (%s), batch %u\n", dev->info.name,
          dam_device_type_name(dev->info.type), b.batch);
  fprintf(b.out, "%-20s %-20s %-10s %10s %9s %9s\n", "kernel", "shape",
          "path", "ms/call", "GFLOP/s", "GB/s");
  for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases && !err; i++)
    err = bench_conv(&b, &conv_cases[i]);
  if (!err)
    err = bench_elementwise(&b);
  dam__conv2d_force(DAM__CONV2D_AUTO, 0);
  if (err)
    fprintf(stderr, "diffautoml bench: %s\n", dam_last_error());
  dam_exec_destroy(b.ex);
  dam_device_close(dev);
  return err ? DAM_EXIT_RUNTIME : DAM_EXIT_OK;
}
