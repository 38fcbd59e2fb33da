/*
 * `diffautoml bench kernels`: throughput of the core kernels on the
 * selected device at the shapes of a DARTS search network on 28x28 images
 * (batch 64; 16 channels at 28x28, 32 at 14x14, 64 at 7x7), with two
 * copy bandwidths for reference over one activation of the first stage
 * (the size the layer kernels move): vkCmdCopyBuffer and a copy shader.  Each
 * row is timed by wall clock over back-to-back calls recorded into one
 * command buffer per round, after a warm-up call that creates the
 * pipeline; the best of three trials is reported.
 */
#include "batchnorm.h"
#include "channels.h"
#include "cli.h"
#include "conv.h"
#include "device.h"
#include "error.h"
#include "kernels.h"
#include "linear.h"
#include "loss.h"
#include "optim.h"
#include "part_sums.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most calls per round (recorded, then one wait that also frees the
 * step's temporaries), and how long and how often a row is measured. */
#define MAX_CALLS_PER_ROUND 64
#define TRIAL_SECONDS 0.1
#define TRIALS 3

/* The three stages of the network: channels and image side. */
static const struct {
  uint32_t c, hw;
} stages[] = {{16, 28}, {32, 14}, {64, 7}};

typedef struct bench {
  dam_exec *ex;
  uint32_t batch;
  const char *filter;
  double copy_gbs;   /* vkCmdCopyBuffer; measured first, 0 until then */
  double shader_gbs; /* the copy shader (dam_k_copy) */
} bench;

/* One row: `call` records one call of the kernel on t[]. */
typedef struct row {
  const char *kernel, *path;
  char shape[40];
  double flops, bytes; /* per call; flops 0 for memory-bound kernels */
  int (*call)(const struct row *r, dam_exec *ex);
  int pass;
  dam_tensor *t[9];
  union {
    dam_conv2d_geom conv;
    dam_pool_args pool;
    dam_bn_args bn;
  } a;
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
static int time_row(bench *b, const row *r, double *per_call) {
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

/* Time and print r unless the filter leaves it out.  Memory-bound rows
 * also show their share of the copy bandwidth. */
static int print_row(bench *b, const row *r) {
  char label[96];
  snprintf(label, sizeof label, "%s %s", r->kernel, r->shape);
  if (b->filter && !strstr(label, b->filter))
    return DAM_OK;
  double s = 0;
  int err = time_row(b, r, &s);
  if (err)
    return dam_fail(err, "%s: %s", label, dam_last_error());
  double gbs = r->bytes / s * 1e-9;
  printf("%-20s %-22s %-10s %9.3f", r->kernel, r->shape, r->path, s * 1e3);
  if (r->flops > 0)
    printf(" %9.2f %9.2f\n", r->flops / s * 1e-9, gbs);
  else if (b->shader_gbs > 0)
    printf(" %9s %9.2f  %3.0f%% / %3.0f%%\n", "-", gbs,
           100 * gbs / b->copy_gbs, 100 * gbs / b->shader_gbs);
  else
    printf(" %9s %9.2f\n", "-", gbs);
  fflush(stdout);
  return DAM_OK;
}

/* Make r's tensors of the n shapes; DAM_ENOMEM naming the row. */
static int make_tensors(bench *b, row *r, const dam_shape *shapes,
                        uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (!(r->t[i] = dam_state_new(b->ex, &shapes[i],
                                  0.25f + 0.125f * (float)i)))
      return dam_fail(DAM_ENOMEM, "bench: %s: %s", r->kernel,
                      dam_last_error());
  return 0;
}

static void free_tensors(bench *b, row *r) {
  for (size_t i = 0; i < sizeof r->t / sizeof *r->t; i++) {
    dam_tensor_free(b->ex, r->t[i]);
    r->t[i] = NULL;
  }
}

static double bytes_of(const row *r, uint32_t n) {
  double sum = 0;
  for (uint32_t i = 0; i < n; i++)
    sum += 4.0 * (double)r->t[i]->numel;
  return sum;
}

/* ---- copy bandwidth ---------------------------------------------------- */

static int copy_call(const row *r, dam_exec *ex) {
  if (r->pass)
    return dam_k_copy(ex, r->t[0], r->t[1]);
  return dam_exec_copy(ex, dam_tensor_range(r->t[0]),
                       dam_tensor_range(r->t[1]));
}

/* The two references over a first-stage activation (bytes read plus
 * bytes written): vkCmdCopyBuffer, and the copy shader (what any shader
 * can move). */
static int bench_copy(bench *b) {
  row r = {.path = "-", .call = copy_call};
  dam_shape s = dam_shape4(b->batch, stages[0].c, stages[0].hw, stages[0].hw);
  const dam_shape shapes[] = {s, s};
  snprintf(r.shape, sizeof r.shape, "%ux%ux%ux%u", s.dim[0], s.dim[1],
           s.dim[2], s.dim[3]);
  int err = make_tensors(b, &r, shapes, 2);
  double bytes = 2.0 * 4.0 * (double)dam_shape_numel(&s);
  for (r.pass = 0; r.pass < 2 && !err; r.pass++) {
    double t = 0, t2, *gbs = r.pass ? &b->shader_gbs : &b->copy_gbs;
    r.kernel = r.pass ? "copy (shader)" : "copy (vkCmdCopyBuffer)";
    /* three times as many trials: every other row is measured against it */
    err = time_row(b, &r, &t);
    for (int i = 0; i < 2 && !err; i++)
      if (!(err = time_row(b, &r, &t2)) && t2 < t)
        t = t2;
    if (!err) {
      *gbs = bytes / t * 1e-9;
      printf("%-22s %-20s %-10s %9.3f %9s %9.2f  reference\n", r.kernel,
             r.shape, r.path, t * 1e3, "-", *gbs);
    }
  }
  free_tensors(b, &r);
  return err;
}

/* ---- convolutions ------------------------------------------------------ */

enum conv_pass { FWD, GRAD_INPUT, GRAD_WEIGHT };
static const char *const conv_pass_name[] = {"conv2d", "conv2d_grad_input",
                                             "conv2d_grad_weight"};

static int conv_call(const row *r, dam_exec *ex) {
  switch ((enum conv_pass)r->pass) {
  case FWD: return dam_k_conv2d(ex, r->t[0], r->t[1], &r->a.conv, r->t[2]);
  case GRAD_INPUT:
    return dam_k_conv2d_grad_input_acc(ex, r->t[2], r->t[1], &r->a.conv,
                                       r->t[0]);
  case GRAD_WEIGHT:
    return dam_k_conv2d_grad_weight_acc(ex, r->t[0], r->t[2], &r->a.conv,
                                        r->t[1]);
  }
  return DAM_EINVAL;
}

/* Forward and both gradients of one convolution: c_in -> c_out, kernel
 * ks, on hw x hw images. */
static int bench_conv(bench *b, const char *name, uint32_t c_in,
                      uint32_t c_out, uint32_t hw, uint32_t ks,
                      dam_conv2d_geom g) {
  row r = {.call = conv_call, .a.conv = g};
  uint32_t groups = g.groups ? g.groups : 1;
  dam_shape s[3] = {dam_shape4(b->batch, c_in, hw, hw),
                    dam_shape4(c_out, c_in / groups, ks, ks)};
  int err = dam_conv2d_out_shape(&s[0], &s[1], &g, &s[2]);
  if (!err)
    err = make_tensors(b, &r, s, 3);
  snprintf(r.shape, sizeof r.shape, "%s @%u", name, hw);
  r.path = dam__conv2d_path(b->ex, &s[0], &s[1], &g);
  r.flops = 2.0 * (double)dam_conv2d_macs(&s[0], &s[1], &g);
  for (int p = FWD; p <= GRAD_WEIGHT && !err; p++) {
    r.pass = p;
    r.kernel = conv_pass_name[p];
    /* the output is read too when the pass adds to it */
    r.bytes = bytes_of(&r, 3) + (p == FWD ? 0 : p == GRAD_INPUT
                                                ? 4.0 * r.t[0]->numel
                                                : 4.0 * r.t[1]->numel);
    err = print_row(b, &r);
  }
  free_tensors(b, &r);
  return err;
}

static int bench_convs(bench *b, uint32_t c, uint32_t hw) {
  char name[40];
  int err = 0;
  snprintf(name, sizeof name, "3x3 %u->%u", c, c);
  err = bench_conv(b, name, c, c, hw, 3, (dam_conv2d_geom){.pad = {1, 1}});
  snprintf(name, sizeof name, "1x1 %u->%u", c, c);
  if (!err)
    err = bench_conv(b, name, c, c, hw, 1, (dam_conv2d_geom){0});
  snprintf(name, sizeof name, "dw3x3 %u", c);
  if (!err)
    err = bench_conv(b, name, c, c, hw, 3,
                     (dam_conv2d_geom){.pad = {1, 1}, .groups = c});
  snprintf(name, sizeof name, "dw5x5 %u", c);
  if (!err)
    err = bench_conv(b, name, c, c, hw, 5,
                     (dam_conv2d_geom){.pad = {2, 2}, .groups = c});
  snprintf(name, sizeof name, "dw3x3 d2 %u", c);
  if (!err)
    err = bench_conv(b, name, c, c, hw, 3,
                     (dam_conv2d_geom){.pad = {2, 2}, .dilation = {2, 2},
                                       .groups = c});
  snprintf(name, sizeof name, "dw5x5 d2 %u", c);
  if (!err)
    err = bench_conv(b, name, c, c, hw, 5,
                     (dam_conv2d_geom){.pad = {4, 4}, .dilation = {2, 2},
                                       .groups = c});
  snprintf(name, sizeof name, "dw3x3 s2 %u", c);
  if (!err)
    err = bench_conv(b, name, c, c, hw, 3,
                     (dam_conv2d_geom){.stride = {2, 2}, .pad = {1, 1},
                                       .groups = c});
  return err;
}

/* The stems of the two benchmark configs on Fashion-MNIST's 28x28x1
 * images: the quick start's 1->24 at stride 2, DARTS' default 1->48. */
static int bench_stems(bench *b) {
  int err = bench_conv(b, "stem 1->24 s2", 1, 24, 28, 3,
                       (dam_conv2d_geom){.stride = {2, 2}, .pad = {1, 1}});
  return err ? err
             : bench_conv(b, "stem 1->48", 1, 48, 28, 3,
                          (dam_conv2d_geom){.pad = {1, 1}});
}

/* The quick start's 1x1 and 3x3 / 5x5 depthwise convolutions (channels 8,
 * 16, 32 at 14x14, 7x7, 4x4): narrow tiles, small planes, and 7x7 planes
 * of 4m + 1 pixels. */
static int bench_quickstart(bench *b) {
  static const struct { uint32_t c, hw; } qs[] = {{8, 14}, {16, 7}, {32, 4}};
  int err = 0;
  for (size_t i = 0; i < sizeof qs / sizeof *qs && !err; i++) {
    uint32_t c = qs[i].c;
    char name[40];
    snprintf(name, sizeof name, "qs 1x1 %u->%u", c, c);
    err = bench_conv(b, name, c, c, qs[i].hw, 1, (dam_conv2d_geom){0});
    for (uint32_t ks = 3; ks <= 5 && !err; ks += 2) {
      snprintf(name, sizeof name, "qs dw%ux%u %u", ks, ks, c);
      err = bench_conv(b, name, c, c, qs[i].hw, ks,
                       (dam_conv2d_geom){.pad = {ks / 2, ks / 2},
                                         .groups = c});
    }
  }
  return err;
}

/* ---- memory-bound layers ----------------------------------------------- */

enum layer {
  RELU, RELU_BWD, BN_TRAIN, BN_BWD, MAX_POOL, MAX_POOL_BWD, AVG_POOL,
  AVG_POOL_BWD, CONCAT, GAP, GAP_BWD, PHASES, PHASES_BWD
};

static int layer_call(const row *r, dam_exec *ex) {
  dam_tensor *const *t = r->t;
  switch ((enum layer)r->pass) {
  case RELU: return dam_k_relu(ex, t[0], t[1]);
  case RELU_BWD: return dam_k_relu_backward(ex, t[0], t[1], t[2]);
  case BN_TRAIN:
    return dam_k_batchnorm_train(ex, t[0], NULL, NULL, NULL, NULL, &r->a.bn,
                                 t[1], t[6], t[7]);
  case BN_BWD:
    return dam_k_batchnorm_backward(ex, t[0], t[1], NULL, t[6], t[7], t[2],
                                    NULL, NULL);
  case MAX_POOL:
  case AVG_POOL: return dam_k_pool2d(ex, t[0], &r->a.pool, t[5]);
  case MAX_POOL_BWD:
  case AVG_POOL_BWD:
    return dam_k_pool2d_backward(ex, t[0], t[5], &r->a.pool, t[2]);
  case CONCAT: {
    const dam_tensor *halves[] = {t[0], t[1]};
    return dam_k_channel_concat(ex, halves, 2, t[3]);
  }
  case GAP: return dam_k_global_avg_pool(ex, t[0], t[4]);
  case GAP_BWD: return dam_k_global_avg_pool_backward(ex, t[4], t[2]);
  case PHASES: return dam_k_subsample(ex, t[0], 2, 0, t[8]);
  case PHASES_BWD: return dam_k_subsample_backward_acc(ex, t[8], 2, 0, t[2]);
  }
  return DAM_EINVAL;
}

/* The memory-bound layers of one stage.  t: 0 x, 1 y or gy, 2 gx, 3 a
 * concat of two x-sized halves, 4 [N, C], 5 the pooled output, 6 and 7 the
 * batch-norm mean and inverse std, 8 x's two pixel phases (a factorized
 * reduce's subsample). */
static int bench_layers(bench *b, uint32_t c, uint32_t hw) {
  static const struct {
    const char *name;
    enum layer layer;
    double reads, writes; /* in x-sized tensors */
  } layers[] = {
      {"relu", RELU, 1, 1},          {"relu_backward", RELU_BWD, 3, 1},
      {"batchnorm", BN_TRAIN, 2, 1}, {"batchnorm_backward", BN_BWD, 3, 1},
      {"max_pool3x3", MAX_POOL, 1, 1},
      {"max_pool3x3_backward", MAX_POOL_BWD, 3, 1},
      {"avg_pool3x3", AVG_POOL, 1, 1},
      {"avg_pool3x3_backward", AVG_POOL_BWD, 2, 1},
      {"concat", CONCAT, 2, 2}, {"global_avg_pool", GAP, 1, 0},
      {"global_avg_pool_bwd", GAP_BWD, 1, 1},
      {"subsample", PHASES, 0.5, 0.5},
      {"subsample_backward", PHASES_BWD, 1, 0.5},
  };
  row r = {.path = "-", .call = layer_call};
  uint32_t n = b->batch;
  dam_shape x = dam_shape4(n, c, hw, hw);
  const dam_shape shapes[] = {x,
                              x,
                              x,
                              dam_shape4(n, 2 * c, hw, hw),
                              dam_shape4(n, c, 0, 0),
                              x,
                              dam_shape4(c, 0, 0, 0),
                              dam_shape4(c, 0, 0, 0),
                              dam_shape4(n, 2 * c, (hw + 1) / 2,
                                         (hw + 1) / 2)};
  int err = make_tensors(b, &r, shapes, 9);
  snprintf(r.shape, sizeof r.shape, "%ux%ux%ux%u", n, c, hw, hw);
  double xb = 4.0 * (double)r.t[0]->numel;
  r.a.bn = (dam_bn_args){1e-5f, 0.1f};
  for (size_t i = 0; i < sizeof layers / sizeof *layers && !err; i++) {
    r.kernel = layers[i].name;
    r.pass = layers[i].layer;
    if (r.pass >= MAX_POOL && r.pass <= AVG_POOL_BWD)
      r.a.pool = (dam_pool_args){r.pass <= MAX_POOL_BWD ? DAM_POOL_MAX
                                                        : DAM_POOL_AVG,
                                 3, 1, 1};
    r.bytes = xb * (layers[i].reads + layers[i].writes);
    err = print_row(b, &r);
  }
  free_tensors(b, &r);
  return err;
}

/* ---- classifier, loss and optimizer ------------------------------------ */

enum head { LINEAR, LINEAR_GRAD_IN, LINEAR_GRAD_W, XENT, XENT_BWD, SGD };

static int head_call(const row *r, dam_exec *ex) {
  dam_tensor *const *t = r->t;
  switch ((enum head)r->pass) {
  case LINEAR: return dam_k_linear(ex, t[0], t[1], t[2], t[3]);
  case LINEAR_GRAD_IN: return dam_k_linear_grad_input(ex, t[3], t[1], t[0]);
  case LINEAR_GRAD_W:
    return dam_k_linear_grad_weight(ex, t[0], t[3], t[1], t[2]);
  case XENT: return dam_k_softmax_xent(ex, t[3], t[4], t[5], t[6]);
  case XENT_BWD: return dam_k_softmax_xent_backward(ex, t[6], t[4], t[5],
                                                    t[3]);
  case SGD: return dam_k_sgd(ex, t[0], t[1], t[2], 0.025f, 3e-4f, 0.9f,
                             false);
  }
  return DAM_EINVAL;
}

/* The classifier of the last stage (64 channels -> 10 classes) with its
 * loss, and one SGD step over a million weights. */
static int bench_head(bench *b) {
  static const char *const names[] = {"linear", "linear_grad_input",
                                      "linear_grad_weight", "softmax_xent",
                                      "softmax_xent_backward"};
  uint32_t n = b->batch, features = 256, classes = 10;
  row r = {.path = "-", .call = head_call};
  const dam_shape shapes[] = {
      dam_shape4(n, features, 0, 0), dam_shape4(classes, features, 0, 0),
      dam_shape4(classes, 0, 0, 0),  dam_shape4(n, classes, 0, 0),
      dam_shape4(n, 0, 0, 0),        dam_shape4(n, 0, 0, 0),
      dam_shape4(n, classes, 0, 0)};
  int err = make_tensors(b, &r, shapes, 7);
  if (!err) /* class 0 for every sample: a valid label */
    err = dam_k_fill(b->ex, r.t[4], 0.0f);
  snprintf(r.shape, sizeof r.shape, "%u x %u -> %u", n, features, classes);
  double macs = (double)n * features * classes;
  for (int p = LINEAR; p <= XENT_BWD && !err; p++) {
    r.kernel = names[p];
    r.pass = p;
    r.flops = p <= LINEAR_GRAD_W ? 2 * macs : 0;
    r.bytes = p <= LINEAR_GRAD_W ? bytes_of(&r, 4)
                                 : 4.0 * n * (2 * classes + 2);
    err = print_row(b, &r);
  }
  free_tensors(b, &r);
  dam_shape w = dam_shape4(1u << 20, 0, 0, 0);
  const dam_shape params[] = {w, w, w};
  if (!err)
    err = make_tensors(b, &r, params, 3);
  r.kernel = "sgd";
  r.pass = SGD;
  r.flops = 0;
  snprintf(r.shape, sizeof r.shape, "%u weights", 1u << 20);
  if (!err) {
    r.bytes = bytes_of(&r, 3) + 4.0 * 2 * (double)w.dim[0];
    err = print_row(b, &r);
  }
  free_tensors(b, &r);
  return err;
}

/* ---- deferred partial sums --------------------------------------------- */

static int part_sums_call(const row *r, dam_exec *ex) {
  int err = DAM_OK;
  for (int i = 1; i <= DAM_PENDING_SUMS && !err; i++)
    err = dam_part_sums_add(ex, r->t[0], (uint32_t)r->pass, r->t[i]);
  return err ? err : dam_part_sums_flush(ex);
}

/* One full dispatch of the deferred sums behind the weight gradients
 * (part_sums.c): DAM_PENDING_SUMS sums of `parts` slices of 4096 floats
 * (a 64->64 1x1 convolution's weights, the largest of the sums a
 * DARTS-mode step queues most often). */
static int bench_part_sums(bench *b, uint32_t parts) {
  uint32_t n = 4096;
  row r = {.kernel = "part_sums", .path = "-", .call = part_sums_call,
           .pass = (int)parts};
  dam_shape shapes[1 + DAM_PENDING_SUMS];
  shapes[0] = dam_shape4(parts, n, 0, 0);
  for (int i = 1; i <= DAM_PENDING_SUMS; i++)
    shapes[i] = dam_shape4(n, 0, 0, 0);
  int err = make_tensors(b, &r, shapes, 1 + DAM_PENDING_SUMS);
  snprintf(r.shape, sizeof r.shape, "%d x %u x %u parts", DAM_PENDING_SUMS,
           n, parts);
  r.bytes = 4.0 * DAM_PENDING_SUMS * n * (parts + 2);
  if (!err)
    err = print_row(b, &r);
  free_tensors(b, &r);
  return err;
}

/* ---- the command ------------------------------------------------------- */

static void bench_usage(FILE *out) {
  fprintf(out,
          "usage: diffautoml [-d DEVICE] bench kernels [OPTIONS] [FILTER]\n"
          "       diffautoml [-d DEVICE] bench step --config CONFIG [OPTIONS]\n"
          "         (bench step --help)\n"
          "  time each core kernel on DARTS-sized shapes; FILTER keeps rows\n"
          "  whose kernel and shape contain it\n"
          "  --batch N         images per batch (default 64)\n"
          "  --variant V       conv2d implementation: auto (default),\n"
          "                    register or shared\n"
          "columns: milliseconds per call, GFLOP/s (2 per multiply-add),\n"
          "GB/s of operand traffic (each operand once), and for memory-bound\n"
          "kernels their share of the two copy bandwidths (vkCmdCopyBuffer /\n"
          "copy shader)\n");
}

/* Parse `bench kernels` arguments into b; 0, -1 after --help, or
 * DAM_EXIT_USAGE after a message. */
static int parse(int argc, char **argv, bench *b,
                 dam__conv2d_variant *variant) {
  if (argc < 2 || strcmp(argv[1], "kernels") != 0) {
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
      bench_usage(stdout);
      return -1;
    }
    fprintf(stderr, "diffautoml bench: expected 'kernels' or 'step'%s%s\n",
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

static int run(bench *b) {
  int err = bench_copy(b);
  if (!err)
    err = bench_stems(b);
  if (!err)
    err = bench_quickstart(b);
  for (size_t i = 0; i < sizeof stages / sizeof *stages && !err; i++) {
    err = bench_convs(b, stages[i].c, stages[i].hw);
    if (!err)
      err = bench_layers(b, stages[i].c, stages[i].hw);
  }
  if (!err)
    err = bench_part_sums(b, 8);
  return err ? err : bench_head(b);
}

int dam_cmd_bench(const dam_cli_opts *opts, int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "step") == 0)
    return dam_cmd_bench_step(opts, argc - 1, argv + 1);
  bench b = {.batch = 64};
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
  printf("device: %s (%s), batch %u\n", dev->info.name,
         dam_device_type_name(dev->info.type), b.batch);
  printf("%-20s %-22s %-10s %9s %9s %9s\n", "kernel", "shape", "path",
         "ms/call", "GFLOP/s", "GB/s");
  err = run(&b);
  dam__conv2d_force(DAM__CONV2D_AUTO, 0);
  if (err)
    fprintf(stderr, "diffautoml bench: %s\n", dam_last_error());
  dam_exec_destroy(b.ex);
  dam_device_close(dev);
  return err ? DAM_EXIT_RUNTIME : DAM_EXIT_OK;
}
