/*
 * Internal to core/conv.c and core/conv_depthwise.c: the push constants
 * of every conv2d shader and the depthwise paths' entry points.  Not part
 * of the public API.
 */
#ifndef DAM_CONV_INTERNAL_H
#define DAM_CONV_INTERNAL_H

#include "error.h"
#include "exec.h"
#include "kernel_util.h"
#include "tensor.h"

#include <stdbool.h>
#include <stdint.h>

/* Must match the P block of shaders/conv2d.glsl. */
typedef struct conv_push {
  uint32_t N, C, H, W;
  uint32_t K, OH, OW, KH;
  uint32_t KW, sh, sw, ph;
  uint32_t pw, dh, dw, Cg;
  uint32_t Kg, groups, count, tiles_n;
  uint32_t tiles_m, parts, rows_per_part, accumulate;
  uint32_t transpose, raw_w, relu_x;
} conv_push;

/* PASS_FORWARD_KEEP2: the forward of a stride-2 depthwise conv as its
 * stride-1 _flat twin (dam__dw_flat_twin) storing only the kept pixels. */
enum conv_pass {
  PASS_FORWARD, PASS_GRAD_INPUT, PASS_GRAD_WEIGHT, PASS_FORWARD_KEEP2
};

/* The most floats of a weight gradient's partial sums. */
#define MAX_PARTIAL (16u << 20)

static inline uint32_t div_up(uint64_t a, uint64_t b) {
  return (uint32_t)((a + b - 1) / b);
}

/* Dispatch s, its pipeline specialized on `shape` (dam__k_run_shaped),
 * over `invocations` invocations (d->count set to them). */
static inline int run_shaped(dam_exec *ex, const dam_shader *s,
                             uint32_t shape, const dam_tensor *const *t,
                             conv_push *d, uint64_t invocations) {
  if (invocations > UINT32_MAX)
    return dam_fail(DAM_ERANGE, "%s: too many invocations", s->name);
  d->count = (uint32_t)invocations;
  return dam__k_run_shaped(ex, s, shape, t, d, d->count);
}

/* Dispatch s over `invocations` invocations (d->count set to them). */
static inline int run_counted(dam_exec *ex, const dam_shader *s,
                              const dam_tensor *const *t, conv_push *d,
                              uint64_t invocations) {
  return run_shaped(ex, s, 0, t, d, invocations);
}

/* A 1x1 convolution at stride 1 without padding: a GEMM over pixels. */
static inline bool is_1x1(const conv_push *d) {
  return d->KH == 1 && d->KW == 1 && d->sh == 1 && d->sw == 1 && !d->ph &&
         !d->pw;
}

/* Whether the packed copies of x and w in d's geometry fit 32-bit
 * indexing (conv_packed.c). */
bool dam__conv_packed_fits(const conv_push *d);

/* Whether the in-place 1x1 forwards take d: a 1x1 at stride 1 without
 * padding on planes of 4k pixels, or of 4k + 1 with 4k channels a group. */
bool dam__conv_1x1_in_place(const conv_push *d);

/* The packed forward of x and w into y in d's geometry (CPU devices):
 * packs w, and x unless an in-place 1x1 shader takes it, into step
 * tensors (layouts in shaders/conv2d_packed.glsl), then runs the forward
 * over them.  The 1x1 shaders read w as it is when groups have 4k
 * channels (raw_w), and their _wt variants a transposed w (d->transpose)
 * as it is when groups have 4k outputs; they add into y with
 * d->accumulate.  relu_in (else NULL), for an in-place transposed pass
 * only: y gets the result only where relu_in > 0, the backward of a relu
 * whose output was the conv's input.  Sets d's tiling. */
int dam__conv_run_packed(dam_exec *ex, const dam_tensor *x,
                         const dam_tensor *w, conv_push *d,
                         const dam_tensor *relu_in, dam_tensor *y);

/* The shader of a depthwise forward or gradient-to-the-input pass in d's
 * geometry, its invocation count and the shape key its pipeline is
 * specialized on (run_shaped): a _flat shader where one takes the
 * shape, otherwise a row shader (key 0).  Sets d's tiling.  bn (only
 * where dam__dw_reads_bn said so): the _flat shader's _bn variant. */
const dam_shader *dam__dw_shader(dam_exec *ex, conv_push *d,
                                 enum conv_pass pass, bool bn,
                                 uint64_t *invocations, uint32_t *shape);

/* The shader of a depthwise weight gradient in d's geometry and the
 * invocations of one part; *flat for a _flat shader, which writes a part
 * per (image, chunk): d->N * d->tiles_n parts of d->K * KH * KW floats.
 * bn and *shape as in dam__dw_shader. */
const dam_shader *dam__dw_grad_weight_shader(conv_push *d, bool bn,
                                             uint64_t *per_part, bool *flat,
                                             uint32_t *shape);

/* Whether the forward and the weight gradient in d's geometry (one input
 * channel per group) take _flat shaders: at stride 1, or through the
 * stride-1 twin (dam__dw_flat_twin), with the weight gradient's partial
 * sums within bounds. */
bool dam__dw_all_flat(dam_exec *ex, const conv_push *d);

/* Whether the depthwise passes in d's geometry (relu_x set), whose input
 * is relu(x), read x, an unmade batch-norm output (dam_tensor.bn_of),
 * through its recipe instead of making it: where every pass takes a
 * _flat shader (dam__dw_all_flat: the gradient to the input then does
 * too), each of which has a _bn variant binding the batch norm's input in
 * x's place and its coefficients after the pass's own tensors. */
bool dam__dw_reads_bn(dam_exec *ex, const conv_push *d, const dam_tensor *x);

/* A strided depthwise conv d on a CPU device whose stride-1 twin (same
 * kernel, dilation and size-keeping padding) takes a _flat shader runs as
 * that twin at full resolution, every stride-th pixel of it kept (the
 * backward: the twin's, from gy spread over zeros).  At stride 2 that is
 * 4x the products, but the _flat shaders take them 5-10x faster than the
 * strided row shaders (docs/CONV.md).  True, with *s1 the twin's
 * geometry, when d runs so. */
bool dam__dw_flat_twin(dam_exec *ex, const conv_push *d, conv_push *s1);

/* A step tensor of the twin s1's N x K output planes at full resolution. */
dam_tensor *dam__dw_twin_planes(dam_exec *ex, const conv_push *s1);

/* *out = gy of a stride-`stride` conv spread over the zeroed planes of its
 * twin s1 (gy's pixel (i, j) at (stride i, stride j)), a new step tensor. */
int dam__dw_spread_gy(dam_exec *ex, const dam_tensor *gy,
                      const conv_push *s1, uint32_t stride, dam_tensor **out);

#endif
