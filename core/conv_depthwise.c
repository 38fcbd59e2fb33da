/*
 * The depthwise convolution paths of core/conv.c (one input and one output
 * channel per group): rows of outputs per invocation, 4, 8 or 16 by the
 * row's width (one shader per width); at width stride 1 and kernels up to
 * 5 wide the _slide shaders keep a kernel row's inputs in registers
 * (windows of 3 or 5); at stride 1 with size-keeping 3x3 or 5x5 kernels,
 * dilated or not (all three passes) the _flat shaders walk whole planes
 * as vec4 texels (_odd variants for planes of 4k + 1..3 pixels, which
 * start inside a vec4), and on CPU devices strided
 * convs run as their stride-1 _flat twin with every stride-th pixel kept:
 * stored by the twin itself at stride 2 (_keep2 variants), else by
 * subsample.c.  docs/CONV.md has the reasons and the measurements.
 */
#include "conv_internal.h"
#include "error.h"
#include "kernel_util.h"
#include "kernels.h"

#include "conv2d_dw_fwd_flat3.spv.h"
#include "conv2d_dw_fwd_flat3d2.spv.h"
#include "conv2d_dw_fwd_flat5.spv.h"
#include "conv2d_dw_fwd_flat5d2.spv.h"
#include "conv2d_dw_grad_input_flat3.spv.h"
#include "conv2d_dw_grad_input_flat3d2.spv.h"
#include "conv2d_dw_grad_input_flat5.spv.h"
#include "conv2d_dw_grad_input_flat5d2.spv.h"
#include "conv2d_dw_fwd_flat3_odd.spv.h"
#include "conv2d_dw_fwd_flat3d2_odd.spv.h"
#include "conv2d_dw_fwd_flat5_odd.spv.h"
#include "conv2d_dw_fwd_flat5d2_odd.spv.h"
#include "conv2d_dw_grad_input_flat3_odd.spv.h"
#include "conv2d_dw_grad_input_flat3d2_odd.spv.h"
#include "conv2d_dw_grad_input_flat5_odd.spv.h"
#include "conv2d_dw_grad_input_flat5d2_odd.spv.h"
#include "conv2d_dw_grad_weight_flat3_odd.spv.h"
#include "conv2d_dw_grad_weight_flat3d2_odd.spv.h"
#include "conv2d_dw_grad_weight_flat5_odd.spv.h"
#include "conv2d_dw_grad_weight_flat5d2_odd.spv.h"
#include "conv2d_dw_fwd_flat3_keep2.spv.h"
#include "conv2d_dw_fwd_flat3d2_keep2.spv.h"
#include "conv2d_dw_fwd_flat5_keep2.spv.h"
#include "conv2d_dw_fwd_flat5d2_keep2.spv.h"
#include "conv2d_dw_fwd_flat3_odd_keep2.spv.h"
#include "conv2d_dw_fwd_flat3d2_odd_keep2.spv.h"
#include "conv2d_dw_fwd_flat5_odd_keep2.spv.h"
#include "conv2d_dw_fwd_flat5d2_odd_keep2.spv.h"
#include "conv2d_dw_fwd_flat3_bn.spv.h"
#include "conv2d_dw_fwd_flat3_odd_bn.spv.h"
#include "conv2d_dw_fwd_flat3_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat3_odd_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat3d2_bn.spv.h"
#include "conv2d_dw_fwd_flat3d2_odd_bn.spv.h"
#include "conv2d_dw_fwd_flat3d2_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat3d2_odd_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat5_bn.spv.h"
#include "conv2d_dw_fwd_flat5_odd_bn.spv.h"
#include "conv2d_dw_fwd_flat5_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat5_odd_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat5d2_bn.spv.h"
#include "conv2d_dw_fwd_flat5d2_odd_bn.spv.h"
#include "conv2d_dw_fwd_flat5d2_keep2_bn.spv.h"
#include "conv2d_dw_fwd_flat5d2_odd_keep2_bn.spv.h"
#include "conv2d_dw_grad_input_flat3_bn.spv.h"
#include "conv2d_dw_grad_input_flat3_odd_bn.spv.h"
#include "conv2d_dw_grad_input_flat3d2_bn.spv.h"
#include "conv2d_dw_grad_input_flat3d2_odd_bn.spv.h"
#include "conv2d_dw_grad_input_flat5_bn.spv.h"
#include "conv2d_dw_grad_input_flat5_odd_bn.spv.h"
#include "conv2d_dw_grad_input_flat5d2_bn.spv.h"
#include "conv2d_dw_grad_input_flat5d2_odd_bn.spv.h"
#include "conv2d_dw_grad_weight_flat3_bn.spv.h"
#include "conv2d_dw_grad_weight_flat3_odd_bn.spv.h"
#include "conv2d_dw_grad_weight_flat3d2_bn.spv.h"
#include "conv2d_dw_grad_weight_flat3d2_odd_bn.spv.h"
#include "conv2d_dw_grad_weight_flat5_bn.spv.h"
#include "conv2d_dw_grad_weight_flat5_odd_bn.spv.h"
#include "conv2d_dw_grad_weight_flat5d2_bn.spv.h"
#include "conv2d_dw_grad_weight_flat5d2_odd_bn.spv.h"
#include "conv2d_dw_grad_weight.spv.h"
#include "conv2d_dw_fwd_tw4.spv.h"
#include "conv2d_dw_fwd_tw8.spv.h"
#include "conv2d_dw_fwd_tw16.spv.h"
#include "conv2d_dw_fwd_slide3_tw4.spv.h"
#include "conv2d_dw_fwd_slide3_tw8.spv.h"
#include "conv2d_dw_fwd_slide3_tw16.spv.h"
#include "conv2d_dw_fwd_slide5_tw4.spv.h"
#include "conv2d_dw_fwd_slide5_tw8.spv.h"
#include "conv2d_dw_fwd_slide5_tw16.spv.h"
#include "conv2d_dw_grad_input_tw4.spv.h"
#include "conv2d_dw_grad_input_tw8.spv.h"
#include "conv2d_dw_grad_input_tw16.spv.h"
#include "conv2d_dw_grad_input_slide3_tw4.spv.h"
#include "conv2d_dw_grad_input_slide3_tw8.spv.h"
#include "conv2d_dw_grad_input_slide3_tw16.spv.h"
#include "conv2d_dw_grad_input_slide5_tw4.spv.h"
#include "conv2d_dw_grad_input_slide5_tw8.spv.h"
#include "conv2d_dw_grad_input_slide5_tw16.spv.h"
#include "conv2d_dw_grad_weight_slide3.spv.h"
#include "conv2d_dw_grad_weight_slide5.spv.h"
#include "conv2d_dw_grad_weight_flat3.spv.h"
#include "conv2d_dw_grad_weight_flat3d2.spv.h"
#include "conv2d_dw_grad_weight_flat5.spv.h"
#include "conv2d_dw_grad_weight_flat5d2.spv.h"

DAM_SHADER(conv2d_dw_grad_weight, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_dw_grad_weight_slide3, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_dw_grad_weight_slide5, 3, 0x4, sizeof(conv_push));
/* The depthwise row shaders of one pass and window, at TW 4, 8 and 16
 * (the gradients to the input bind the relu's input 4th, as texels). */
#define DW_ROW_SHADERS(PASS, N, TEXELS)                                       \
  DAM_SHADER_TEXEL(conv2d_dw_##PASS##_tw4, N, 0x4, TEXELS, sizeof(conv_push));\
  DAM_SHADER_TEXEL(conv2d_dw_##PASS##_tw8, N, 0x4, TEXELS, sizeof(conv_push));\
  DAM_SHADER_TEXEL(conv2d_dw_##PASS##_tw16, N, 0x4, TEXELS, sizeof(conv_push))
DW_ROW_SHADERS(fwd, 3, 0);
DW_ROW_SHADERS(fwd_slide3, 3, 0);
DW_ROW_SHADERS(fwd_slide5, 3, 0);
DW_ROW_SHADERS(grad_input, 4, 0x8);
DW_ROW_SHADERS(grad_input_slide3, 4, 0x8);
DW_ROW_SHADERS(grad_input_slide5, 4, 0x8);
#define DW_ROW_TABLE(PASS)                                                    \
  {&shader_conv2d_dw_##PASS##_tw4, &shader_conv2d_dw_##PASS##_tw8,            \
   &shader_conv2d_dw_##PASS##_tw16}
/* By pass (forward, gradient to the input), window (none, _slide3,
 * _slide5) and TW. */
static const dam_shader *const dw_rows[2][3][3] = {
    {DW_ROW_TABLE(fwd), DW_ROW_TABLE(fwd_slide3), DW_ROW_TABLE(fwd_slide5)},
    {DW_ROW_TABLE(grad_input), DW_ROW_TABLE(grad_input_slide3),
     DW_ROW_TABLE(grad_input_slide5)}};
/* The _flat shaders of one kernel (3, 3d2, 5, 5d2) and plane (4k pixels,
 * or _odd: any), and (BN _bn, B 1) those reading a batch norm's input
 * through its coefficients, bound last. */
#define DW_FLAT_PASSES(K, BN, B)                                              \
  DAM_SHADER_TEXEL(conv2d_dw_fwd_flat##K##BN, 3 + B, 0x4, 0x1,                \
                   sizeof(conv_push));                                        \
  DAM_SHADER_TEXEL(conv2d_dw_fwd_flat##K##_keep2##BN, 3 + B, 0x4, 0x1,        \
                   sizeof(conv_push));                                        \
  DAM_SHADER_TEXEL(conv2d_dw_grad_input_flat##K##BN, 5 + B, 0x4, 0x19,        \
                   sizeof(conv_push));                                        \
  DAM_SHADER_TEXEL(conv2d_dw_grad_weight_flat##K##BN, 3 + B, 0x4, 0x3,        \
                   sizeof(conv_push))
#define DW_FLAT_SHADERS(K)                                                    \
  DW_FLAT_PASSES(K, , 0);                                                     \
  DW_FLAT_PASSES(K##_odd, , 0);                                               \
  DW_FLAT_PASSES(K, _bn, 1);                                                  \
  DW_FLAT_PASSES(K##_odd, _bn, 1)
DW_FLAT_SHADERS(3);
DW_FLAT_SHADERS(3d2);
DW_FLAT_SHADERS(5);
DW_FLAT_SHADERS(5d2);
#define DW_FLAT_TABLE(K, BN)                                                  \
  {&shader_conv2d_dw_fwd_flat##K##BN,                                         \
   &shader_conv2d_dw_grad_input_flat##K##BN,                                  \
   &shader_conv2d_dw_grad_weight_flat##K##BN,                                 \
   &shader_conv2d_dw_fwd_flat##K##_keep2##BN}
#define DW_FLAT_KERNELS(P, BN)                                                \
  {DW_FLAT_TABLE(3##P, BN), DW_FLAT_TABLE(3d2##P, BN),                        \
   DW_FLAT_TABLE(5##P, BN), DW_FLAT_TABLE(5d2##P, BN)}
/* By input (x, a batch norm's), plane (4k pixels, any), kernel (3, 3d2, 5,
 * 5d2) and pass. */
static const dam_shader *const dw_flat[2][2][4][4] = {
    {DW_FLAT_KERNELS(, ), DW_FLAT_KERNELS(_odd, )},
    {DW_FLAT_KERNELS(, _bn), DW_FLAT_KERNELS(_odd, _bn)}};

#define DW_SLIDE_MAXK 5
/* Most output vec4s of a plane one _flat invocation walks on a CPU device
 * (64 and 128 measured alike, 32 slower, 8 slowest: each chunk reloads the
 * weights), and in a GPU's forward and input-gradient passes, whose
 * invocations each wait on memory (at 64 they took 17-60 us a dispatch on
 * an H200). */
#define DW_FLAT_STEPS 64
#define DW_FLAT_GPU_STEPS 8

/* The depthwise _slide shaders (width stride 1): a kernel row's inputs
 * stay in registers while the kernel slides along the width.  Their tiles
 * are columns spaced by the dilation, dw remainder classes per row. */
static bool use_slide(const conv_push *d) {
  return d->sw == 1 && d->KW <= DW_SLIDE_MAXK;
}

/* The depthwise row shader of a forward or input-gradient pass, and its
 * invocation count: invocations take TW outputs (or input pixels) of a row
 * spaced by `step` (the dilation on the _slide path, otherwise 1 for the
 * forward and the stride for the gradient), TW the least of 4, 8 and 16
 * that covers a remainder class of the row.  Sets d's tiles_n (and, for
 * conv2d_dw_grad_input, which orders invocations by remainder class, the
 * tiles per class and tiles_m rows per class). */
static const dam_shader *dw_rows_shader(conv_push *d, enum conv_pass pass,
                                        uint64_t *invocations) {
  bool slide = use_slide(d), fwd = pass == PASS_FORWARD;
  uint32_t step = slide ? d->dw : fwd ? 1 : d->sw;
  uint32_t len = div_up(fwd ? d->OW : d->W, step);
  int tw = len <= 4 ? 0 : len <= 8 ? 1 : 2;
  uint64_t planes = (uint64_t)d->N * d->C;
  d->tiles_n = div_up(len, 4u << tw);
  if (!fwd && !slide) {
    d->tiles_m = div_up(d->H, d->sh);
    *invocations = planes * d->tiles_m * d->tiles_n;
  } else {
    d->tiles_n *= step;
    *invocations = planes * (fwd ? d->OH : d->H) * d->tiles_n;
  }
  return dw_rows[pass][slide ? (d->KW <= 3 ? 1 : 2) : 0][tw];
}

/* The depthwise _flat shaders: stride 1, 3x3 or 5x5 with dilation 1 or 2
 * on both axes and size-keeping padding.  Returns the shader of the pass
 * (bn: its _bn variant) and sets d's chunking, or NULL. */
static const dam_shader *use_flat(conv_push *d, enum conv_pass pass,
                                  uint32_t steps, bool bn) {
  if (d->sh != 1 || d->sw != 1 || d->KH != d->KW || d->dh != d->dw ||
      d->ph != d->pw || 2 * d->ph != d->dh * (d->KH - 1) ||
      (d->KH != 3 && d->KH != 5) || (d->dh != 1 && d->dh != 2))
    return NULL;
  /* a plane's vec4s, at most one more than its pixels take */
  uint32_t groups = div_up(d->H * d->W, 4) + ((d->H * d->W) % 4 != 0);
  d->tiles_n = div_up(groups, steps);
  d->tiles_m = div_up(groups, d->tiles_n);
  int kernel = (d->KH == 5) * 2 + (d->dh == 2);
  return dw_flat[bn][(d->H * d->W) % 4 != 0][kernel][pass];
}

/* The _flat shaders' shape key (FLAT_W4, shaders/flat_w4.glsl): their
 * groups are the output's vec4s, so where a kernel row's span starts
 * within its vec4 follows from the width mod 4 alone (4 + W mod 4) where
 * input and output planes start at the same place in a vec4: planes of
 * 4k pixels, or one output channel per input channel; else 0. */
static uint32_t flat_shape(const conv_push *d) {
  return (d->H * d->W) % 4 == 0 || d->Kg == 1 ? 4 + d->W % 4 : 0;
}

bool dam__dw_flat_twin(dam_exec *ex, const conv_push *d, conv_push *s1) {
  if (!dam__k_cpu_device(ex) || d->sh != d->sw || d->sh == 1)
    return false;
  *s1 = *d;
  s1->sh = s1->sw = 1;
  s1->OH = d->H;
  s1->OW = d->W;
  return use_flat(s1, PASS_FORWARD, DW_FLAT_STEPS, false) != NULL;
}

/* Whether a _flat weight gradient's partial sums, a copy of gw's K KH x KW
 * floats per (image, chunk), fit MAX_PARTIAL (d's chunking set). */
static bool flat_parts_fit(const conv_push *d) {
  return (uint64_t)d->N * d->tiles_n * d->K * d->KH * d->KW <= MAX_PARTIAL;
}

bool dam__dw_all_flat(dam_exec *ex, const conv_push *d) {
  conv_push f = *d;
  if ((d->sh != 1 || d->sw != 1) && !dam__dw_flat_twin(ex, d, &f))
    return false;
  return use_flat(&f, PASS_GRAD_WEIGHT, DW_FLAT_STEPS, false) &&
         flat_parts_fit(&f);
}

bool dam__dw_reads_bn(dam_exec *ex, const conv_push *d, const dam_tensor *x) {
  return d->relu_x && dam_tensor_bn_unmade(x) && dam__dw_all_flat(ex, d);
}

dam_tensor *dam__dw_twin_planes(dam_exec *ex, const conv_push *s1) {
  dam_shape fs = dam_shape4(s1->N, s1->K, s1->H, s1->W);
  dam_tensor *t = dam_tensor_new(ex, &fs, false);
  if (!t)
    dam_fail(DAM_ENOMEM, "conv2d: stride-1 planes: %s", dam_last_error());
  return t;
}

int dam__dw_spread_gy(dam_exec *ex, const dam_tensor *gy,
                      const conv_push *s1, uint32_t stride, dam_tensor **out) {
  dam_tensor *full = dam__dw_twin_planes(ex, s1);
  if (!full)
    return DAM_ENOMEM;
  int err = dam_exec_zero(ex, dam_tensor_range(full));
  if (!err)
    err = dam_k_subsample_backward_acc(ex, gy, stride, 0, full);
  if (err) {
    dam_tensor_release(ex, full);
    return err;
  }
  *out = full;
  return DAM_OK;
}

const dam_shader *dam__dw_shader(dam_exec *ex, conv_push *d,
                                 enum conv_pass pass, bool bn,
                                 uint64_t *invocations, uint32_t *shape) {
  const dam_shader *s = use_flat(
      d, pass, dam__k_cpu_device(ex) ? DW_FLAT_STEPS : DW_FLAT_GPU_STEPS, bn);
  *shape = s ? flat_shape(d) : 0;
  if (s) { /* a plane of gx, or of y */
    *invocations = (uint64_t)d->N * (pass == PASS_GRAD_INPUT ? d->C : d->K) *
                   d->tiles_n;
    return s;
  }
  return dw_rows_shader(d, pass, invocations);
}

const dam_shader *dam__dw_grad_weight_shader(conv_push *d, bool bn,
                                             uint64_t *per_part, bool *flat,
                                             uint32_t *shape) {
  const dam_shader *s = use_flat(d, PASS_GRAD_WEIGHT, DW_FLAT_STEPS, bn);
  *flat = s && flat_parts_fit(d);
  *shape = *flat ? flat_shape(d) : 0;
  if (*flat) {
    *per_part = d->K;
    return s;
  }
  *per_part = (uint64_t)d->C * d->KH;
  return !use_slide(d)   ? &shader_conv2d_dw_grad_weight
         : d->KW <= 3    ? &shader_conv2d_dw_grad_weight_slide3
                         : &shader_conv2d_dw_grad_weight_slide5;
}
