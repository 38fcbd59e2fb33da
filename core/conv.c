/*
 * 2-D convolution kernels: shape checks, the choice of path, tile counts
 * and dispatches over the conv2d_*.comp shaders.  Paths:
 *  - depthwise (one input and one output channel per group):
 *    conv_depthwise.c;
 *  - CPU devices: an implicit GEMM with a 16 x 16 register tile per
 *    invocation and no barriers (the gradient to the input tiles pixels by
 *    remainder modulo the stride; few-channel weight gradients tile over
 *    (channel, tap) columns); the forward runs packed (conv_packed.c:
 *    channels-last in vec4s, 1x1 convolutions at stride 1 in place, and
 *    their gradient to the input as the transposed forward); a 1x1's
 *    weight gradient at stride 1 reads NCHW in place as vec4 texels of
 *    pixels (conv2d_grad_weight_1x1*, a part per run of images); a 3x3
 *    stride-2 conv of one input channel per group (the quick start's
 *    stem) has its own forward and weight gradient (*_c1s2);
 *  - other devices: the same GEMMs tiled in shared memory.
 * The weight gradient is a long sum (over the batch and every output
 * position) into few outputs, so it is split over parts written to a step
 * tensor and then added up, in a fixed order, by a deferred sum that
 * shares its dispatch with up to six others (part_sums.h).
 * docs/CONV.md has the reasons and the measurements.
 */
#include "conv.h"
#include "conv_internal.h"
#include "kernel_util.h"
#include "kernels.h"
#include "part_sums.h"

#include "conv2d_fwd.spv.h"
#include "conv2d_fwd_tiled.spv.h"
#include "conv2d_grad_input.spv.h"
#include "conv2d_grad_input_tiled.spv.h"
#include "conv2d_grad_weight.spv.h"
#include "conv2d_grad_weight_cols.spv.h"
#include "conv2d_grad_weight_1x1.spv.h"
#include "conv2d_grad_weight_1x1_odd.spv.h"
#include "conv2d_grad_weight_1x1_shifted.spv.h"
#include "conv2d_grad_weight_tiled.spv.h"
#include "conv2d_fwd_c1s2.spv.h"
#include "conv2d_grad_weight_c1s2.spv.h"

DAM_SHADER(conv2d_fwd, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_grad_input, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_grad_weight, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_grad_weight_cols, 3, 0x4, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_grad_weight_1x1, 3, 0x4, 0x3, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_grad_weight_1x1_odd, 3, 0x4, 0x3, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_grad_weight_1x1_shifted, 3, 0x4, 0x3,
                 sizeof(conv_push));
DAM_SHADER(conv2d_fwd_tiled, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_grad_input_tiled, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_grad_weight_tiled, 3, 0x4, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_c1s2, 3, 0x4, 0x1, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_grad_weight_c1s2, 3, 0x4, 0x3, sizeof(conv_push));

/* Register tiles of the CPU shaders (their TM, TN) and the workgroup tile
 * of the shared-memory shaders (their BM, BN); keep in step with them. */
#define REG_TM 16
#define REG_TN 16
#define GW_1X1_TM 8
#define GW_1X1_TN 8
#define C1S2_TW 8
#define C1S2_KB 8
#define SHARED_BM 32
#define SHARED_BN 32
#define LOCAL_SIZE 64

/* The weight-gradient split: aim for dam__k_target_invocations, never
 * give a part fewer rows than MIN_ROWS (and the partial sums under
 * MAX_PARTIAL floats, conv_internal.h). */
#define MIN_ROWS 4

/* The 1x1 weight gradient's parts walk at least this many texels of a
 * plane each: an invocation stores its whole tile, which costs about as
 * much as 64 texels of sums on CPU devices (docs/BENCHMARKS.md,
 * twenty-sixth pass). */
#define GW_1X1_MIN_TEXELS 64

/* The same for the depthwise _flat weight gradients, in groups of 4
 * outputs: a part takes several images' planes where planes are small
 * (docs/BENCHMARKS.md, twenty-sixth pass). */
#define DW_GW_MIN_GROUPS 32

/* Geometry values past this are refused: the shaders index in 32 bits. */
#define MAX_GEOM 65535u

static dam__conv2d_variant forced_variant;
static uint32_t forced_parts;

void dam__conv2d_force(dam__conv2d_variant v, uint32_t parts) {
  forced_variant = v;
  forced_parts = parts;
}

static uint32_t one_if_zero(uint32_t v) { return v ? v : 1; }

static void shape_str(const dam_shape *s, char *buf, size_t size) {
  int n = snprintf(buf, size, "[");
  for (uint32_t i = 0; i < s->ndim && i < 4 && n > 0 && (size_t)n < size;
       i++)
    n += snprintf(buf + n, size - (size_t)n, i ? ", %u" : "%u", s->dim[i]);
  if (n > 0 && (size_t)n < size)
    snprintf(buf + n, size - (size_t)n, "]");
}

/* Fill d's geometry fields from the input and weight shapes. */
static int dims(const char *op, const dam_shape *x, const dam_shape *w,
                const dam_conv2d_geom *g, conv_push *d) {
  char xs[64], ws[64];
  if (!x || !w || !g)
    return dam_fail(DAM_EINVAL, "%s: NULL shape or geometry", op);
  shape_str(x, xs, sizeof xs);
  shape_str(w, ws, sizeof ws);
  *d = (conv_push){0};
  d->sh = one_if_zero(g->stride[0]);
  d->sw = one_if_zero(g->stride[1]);
  d->dh = one_if_zero(g->dilation[0]);
  d->dw = one_if_zero(g->dilation[1]);
  d->ph = g->pad[0];
  d->pw = g->pad[1];
  d->groups = one_if_zero(g->groups);
  if (d->sh > MAX_GEOM || d->sw > MAX_GEOM || d->dh > MAX_GEOM ||
      d->dw > MAX_GEOM || d->ph > MAX_GEOM || d->pw > MAX_GEOM)
    return dam_fail(DAM_EINVAL, "%s: stride, padding and dilation must be "
                    "at most %u", op, MAX_GEOM);
  if (x->ndim != 4 || w->ndim != 4)
    return dam_fail(DAM_ESHAPE, "%s: input %s and weights %s must be 4-D "
                    "(NCHW and K, C/groups, KH, KW)", op, xs, ws);
  d->N = x->dim[0], d->C = x->dim[1], d->H = x->dim[2], d->W = x->dim[3];
  d->K = w->dim[0], d->KH = w->dim[2], d->KW = w->dim[3];
  if (!d->N || !d->C || !d->H || !d->W || !d->K || !d->KH || !d->KW)
    return dam_fail(DAM_ESHAPE, "%s: empty input %s or weights %s", op, xs,
                    ws);
  if (d->C % d->groups || d->K % d->groups)
    return dam_fail(DAM_ESHAPE, "%s: %u groups do not divide the %u input "
                    "and %u output channels", op, d->groups, d->C, d->K);
  d->Cg = d->C / d->groups;
  d->Kg = d->K / d->groups;
  if (w->dim[1] != d->Cg)
    return dam_fail(DAM_ESHAPE, "%s: weights %s must have C/groups = %u "
                    "input channels for input %s", op, ws, d->Cg, xs);
  uint64_t eh = (uint64_t)d->dh * (d->KH - 1) + 1;
  uint64_t ew = (uint64_t)d->dw * (d->KW - 1) + 1;
  uint64_t ph = d->H + 2ull * d->ph, pw = d->W + 2ull * d->pw;
  if (eh > ph || ew > pw)
    return dam_fail(DAM_ESHAPE, "%s: dilated kernel %llux%llu is larger "
                    "than the padded input %llux%llu (input %s, weights %s)",
                    op, (unsigned long long)eh, (unsigned long long)ew,
                    (unsigned long long)ph, (unsigned long long)pw, xs, ws);
  d->OH = (uint32_t)((ph - eh) / d->sh + 1);
  d->OW = (uint32_t)((pw - ew) / d->sw + 1);
  return DAM_OK;
}

int dam_conv2d_out_shape(const dam_shape *x, const dam_shape *w,
                         const dam_conv2d_geom *g, dam_shape *y) {
  conv_push d;
  int err = dims("conv2d", x, w, g, &d);
  if (!err && !y)
    err = dam_fail(DAM_EINVAL, "conv2d: NULL output shape");
  if (!err)
    *y = dam_shape4(d.N, d.K, d.OH, d.OW);
  return err;
}

uint64_t dam_conv2d_macs(const dam_shape *x, const dam_shape *w,
                         const dam_conv2d_geom *g) {
  conv_push d;
  if (dims("conv2d", x, w, g, &d))
    return 0;
  return (uint64_t)d.N * d.K * d.OH * d.OW * d.Cg * d.KH * d.KW;
}

/* d from x's and w's shapes, checking that y has the output's. */
static int check_shapes(const char *op, const dam_shape *x,
                        const dam_shape *w, const dam_shape *y,
                        const dam_conv2d_geom *g, conv_push *d) {
  int err = dims(op, x, w, g, d);
  if (err)
    return err;
  dam_shape want = dam_shape4(d->N, d->K, d->OH, d->OW);
  if (!dam_shape_equal(y, &want)) {
    char got[64], exp[64];
    shape_str(y, got, sizeof got);
    shape_str(&want, exp, sizeof exp);
    return dam_fail(DAM_ESHAPE, "%s: output has shape %s, expected %s", op,
                    got, exp);
  }
  return DAM_OK;
}

/* Check the three tensors of a pass: x-shaped, w-shaped and y-shaped, in
 * the order the pass binds them (t[0..3)); `xi`, `wi` and `yi` say where
 * each sits.  Every tensor must be bindable with 32-bit indices. */
static int check_pass(const char *op, const dam_tensor *const *t, int xi,
                      int wi, int yi, const dam_conv2d_geom *g,
                      conv_push *d) {
  static const char *const role[3] = {"input", "weights", "output"};
  const int at[3] = {xi, wi, yi};
  int err = DAM_OK;
  for (int i = 0; i < 3 && !err; i++) {
    if (!t[at[i]])
      return dam_fail(DAM_EINVAL, "%s: %s tensor is NULL", op, role[i]);
    err = dam__k_check(op, &t[at[i]], 1, 0);
  }
  return err ? err
             : check_shapes(op, &t[xi]->shape, &t[wi]->shape, &t[yi]->shape,
                            g, d);
}

static bool use_depthwise(const conv_push *d) {
  return forced_variant == DAM__CONV2D_AUTO && d->Cg == 1 && d->Kg == 1;
}

/* One input channel per group feeding several outputs (a channel
 * multiplier: the stems on one-channel images): the depthwise _flat
 * shaders take its forward and weight gradient where they take the
 * geometry at stride 1 (through the stride-1 twin, the quick start's
 * stride-2 stem ran 3.6 -> 3.0 ms forward but 1.2 -> 3.0 ms for the
 * weight gradient); its gradient to the input takes the general paths. */
static bool use_multiplier(dam_exec *ex, const conv_push *d) {
  return forced_variant == DAM__CONV2D_AUTO && d->Cg == 1 && d->Kg > 1 &&
         d->sh == 1 && d->sw == 1 && dam__dw_all_flat(ex, d);
}

/* The forward and weight gradient of a 3x3 conv at stride 2 whose groups
 * read one input channel each, on CPU devices (conv2d_fwd_c1s2.comp,
 * conv2d_grad_weight_c1s2.comp: the quick start's stem); depthwise ones
 * run as their stride-1 twin instead. */
static bool use_c1s2(dam_exec *ex, const conv_push *d) {
  return forced_variant == DAM__CONV2D_AUTO && dam__k_cpu_device(ex) &&
         d->Cg == 1 && d->Kg > 1 && d->KH == 3 && d->KW == 3 &&
         d->sh == 2 && d->sw == 2 && d->dh == 1 && d->dw == 1;
}

/* The depthwise shaders' forward and weight gradient. */
static bool use_dw_shaders(dam_exec *ex, const conv_push *d) {
  return use_depthwise(d) || use_multiplier(ex, d);
}

static bool use_shared(dam_exec *ex) {
  return forced_variant == DAM__CONV2D_SHARED ||
         (forced_variant == DAM__CONV2D_AUTO && !dam__k_cpu_device(ex));
}

/* The packed forward: CPU devices (or forced), when the packed copies of
 * x and w fit 32-bit indexing. */
static bool use_packed(dam_exec *ex, const conv_push *d) {
  return (forced_variant == DAM__CONV2D_PACKED ||
          (forced_variant == DAM__CONV2D_AUTO && dam__k_cpu_device(ex))) &&
         dam__conv_packed_fits(d);
}

const char *dam__conv2d_path(dam_exec *ex, const dam_shape *x,
                             const dam_shape *w, const dam_conv2d_geom *g) {
  conv_push d;
  if (dims("conv2d", x, w, g, &d))
    return "invalid";
  return use_depthwise(&d)       ? "depthwise"
         : use_multiplier(ex, &d) ? "multiplier"
         : use_c1s2(ex, &d)       ? "c1s2"
         : use_shared(ex)        ? "shared"
         : use_packed(ex, &d)    ? "packed"
                                 : "register";
}

/* Dispatch a shared-memory shader: one workgroup per output tile. */
static int run_tiled(dam_exec *ex, const dam_shader *s,
                     const dam_tensor *const *t, conv_push *d,
                     uint64_t tiles) {
  if (tiles * LOCAL_SIZE > UINT32_MAX)
    return dam_fail(DAM_ERANGE, "%s: too many tiles", s->name);
  d->count = (uint32_t)(tiles * LOCAL_SIZE);
  return dam__k_run(ex, s, t, d, d->count);
}

/* x as the depthwise passes in d's geometry read it: the batch norm's
 * input, with *coef its coefficients, where they read relu(x) through x's
 * recipe (dam__dw_reads_bn); else x, with *coef NULL. */
static const dam_tensor *dw_source(dam_exec *ex, const conv_push *d,
                                   const dam_tensor *x,
                                   const dam_tensor **coef) {
  bool bn = use_depthwise(d) && dam__dw_reads_bn(ex, d, x);
  *coef = bn ? x->bn_coef : NULL;
  return bn ? x->bn_of : x;
}

/* The forward in d's geometry: picks the shader (coef as dw_source's). */
static int forward_pass(dam_exec *ex, const dam_tensor *x,
                        const dam_tensor *w, dam_tensor *y,
                        const dam_tensor *coef, conv_push d) {
  const dam_tensor *t[] = {x, w, y, coef};
  uint64_t npix = (uint64_t)d.N * d.OH * d.OW;
  const dam_shader *s;
  if (use_dw_shaders(ex, &d)) {
    uint64_t n;
    uint32_t shape;
    s = dam__dw_shader(ex, &d, PASS_FORWARD, coef != NULL, &n, &shape);
    return run_shaped(ex, s, shape, t, &d, n);
  }
  if (use_c1s2(ex, &d)) {
    d.tiles_n = div_up(d.OW, C1S2_TW);
    d.tiles_m = div_up(d.Kg, C1S2_KB);
    return run_counted(ex, &shader_conv2d_fwd_c1s2, t, &d,
                       (uint64_t)d.N * d.groups * d.tiles_m * d.OH *
                           d.tiles_n);
  }
  if (use_shared(ex)) {
    d.tiles_n = div_up(npix, SHARED_BN);
    d.tiles_m = div_up(d.Kg, SHARED_BM);
    return run_tiled(ex, &shader_conv2d_fwd_tiled, t, &d,
                     (uint64_t)d.tiles_n * d.tiles_m * d.groups);
  }
  if (use_packed(ex, &d))
    return dam__conv_run_packed(ex, x, w, &d, NULL, y);
  d.tiles_n = div_up(npix, REG_TN);
  d.tiles_m = div_up(d.Kg, REG_TM);
  return run_counted(ex, &shader_conv2d_fwd, t, &d,
                     (uint64_t)d.tiles_n * d.tiles_m * d.groups);
}

/* The forward of relu(x) (relu_x; every shader, or the packing, reads x
 * through conv_x) or x. */
static int forward(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                   const dam_conv2d_geom *g, dam_tensor *y, bool relu_x) {
  const dam_tensor *t[] = {x, w, y, NULL};
  conv_push d, s1;
  int err = check_pass("conv2d", t, 0, 1, 2, g, &d);
  if (err)
    return err;
  d.relu_x = relu_x;
  x = t[0] = dw_source(ex, &d, x, &t[3]);
  if (!use_dw_shaders(ex, &d) || !dam__dw_flat_twin(ex, &d, &s1))
    return forward_pass(ex, x, w, y, t[3], d);
  if (d.sh == 2) { /* the twin stores only the pixels it keeps */
    uint64_t n;
    uint32_t shape;
    s1.OH = d.OH;
    s1.OW = d.OW;
    const dam_shader *s = dam__dw_shader(ex, &s1, PASS_FORWARD_KEEP2,
                                         t[3] != NULL, &n, &shape);
    return run_shaped(ex, s, shape, t, &s1, n);
  }
  dam_tensor *full = dam__dw_twin_planes(ex, &s1);
  if (!full)
    return DAM_ENOMEM;
  err = forward_pass(ex, x, w, full, t[3], s1);
  if (!err)
    err = dam_k_subsample(ex, full, d.sh, 0, y);
  dam_tensor_release(ex, full);
  return err;
}

int dam_k_conv2d(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                 const dam_conv2d_geom *g, dam_tensor *y) {
  return forward(ex, x, w, g, y, false);
}

int dam_k_conv2d_relu(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                      const dam_conv2d_geom *g, dam_tensor *y) {
  return forward(ex, x, w, g, y, true);
}

/* The gradient to the input of a 1x1 convolution is the 1x1 forward of
 * the transposed one (gy in, w^T packed, added into gx): sets *t to that
 * pass where the in-place 1x1 forwards take it. */
static bool grad_input_as_1x1(dam_exec *ex, const conv_push *d,
                              conv_push *t) {
  if (!is_1x1(d) || !use_packed(ex, d))
    return false;
  *t = *d;
  t->C = d->K, t->K = d->C;
  t->Cg = d->Kg, t->Kg = d->Cg;
  t->accumulate = t->transpose = 1;
  return dam__conv_1x1_in_place(t);
}

/* The gradient to the input in d's geometry (relu_x: gx where there is
 * none; coef as dw_source's for it): picks the shader. */
static int grad_input_pass(dam_exec *ex, const dam_tensor *gy,
                           const dam_tensor *w, dam_tensor *gx,
                           const dam_tensor *relu_x, const dam_tensor *coef,
                           conv_push d) {
  const dam_tensor *t[] = {gy, w, gx, relu_x, gx, coef};
  uint64_t npix = (uint64_t)d.N * d.H * d.W;
  const dam_shader *s;
  if (use_depthwise(&d)) {
    uint64_t n;
    uint32_t shape;
    s = dam__dw_shader(ex, &d, PASS_GRAD_INPUT, coef != NULL, &n, &shape);
    return run_shaped(ex, s, shape, t, &d, n);
  }
  if (use_shared(ex)) {
    d.tiles_n = div_up(npix, SHARED_BN);
    d.tiles_m = div_up(d.Cg, SHARED_BM);
    return run_tiled(ex, &shader_conv2d_grad_input_tiled, t, &d,
                     (uint64_t)d.tiles_n * d.tiles_m * d.groups);
  }
  conv_push tr;
  if (grad_input_as_1x1(ex, &d, &tr)) {
    tr.accumulate = !dam__k_take_zeros(gx);
    tr.relu_x = 0; /* gy is read as it is; relu_x masks gx instead */
    return dam__conv_run_packed(ex, gy, w, &tr, d.relu_x ? relu_x : NULL,
                                gx);
  }
  /* pixel tiles within each of the sh * sw remainder classes */
  d.tiles_n = div_up((uint64_t)d.N * div_up(d.H, d.sh) * div_up(d.W, d.sw),
                     REG_TN);
  d.tiles_m = div_up(d.Cg, REG_TM);
  return run_counted(ex, &shader_conv2d_grad_input, t, &d,
                     (uint64_t)d.tiles_n * d.tiles_m * d.sh * d.sw *
                         d.groups);
}

/* gy spread for the stride-1 twin s1 (dam__dw_spread_gy) into *full: the
 * one in *share where there is one, else a new one, which is left in
 * *share for the caller to release when share is given. */
static int twin_gy(dam_exec *ex, const dam_tensor *gy, const conv_push *s1,
                   uint32_t stride, dam_tensor **share, dam_tensor **full) {
  if (share && *share) {
    *full = *share;
    return DAM_OK;
  }
  int err = dam__dw_spread_gy(ex, gy, s1, stride, full);
  if (!err && share)
    *share = *full;
  return err;
}

/* Whether the gradient to the input in d's geometry takes a relu's
 * backward in (the depthwise shaders: conv2d_gx_relu.glsl; the in-place
 * 1x1 ones: conv2d_1x1_key.glsl). */
static bool folds_relu(dam_exec *ex, const conv_push *d) {
  conv_push t;
  return use_depthwise(d) || grad_input_as_1x1(ex, d, &t);
}

/* The gradient to the input, through relu_x's relu where given (where
 * folds_relu holds).  gx's shape fixes H and W;
 * dims() then checks gy against the output shape it implies.  share as in
 * twin_gy (NULL: nothing shared). */
static int grad_input(dam_exec *ex, const dam_tensor *gy, const dam_tensor *w,
                      const dam_conv2d_geom *g, dam_tensor *gx,
                      const dam_tensor *relu_x, dam_tensor **share) {
  const dam_tensor *t[] = {gy, w, gx, relu_x ? relu_x : gx};
  conv_push d;
  int err = check_pass("conv2d_grad_input", t, 2, 1, 0, g, &d);
  if (!err && relu_x) {
    const dam_tensor *pair[] = {gx, relu_x};
    err = !folds_relu(ex, &d)
              ? dam_fail(DAM_EINVAL, "conv2d_grad_input: the relu is folded "
                         "into depthwise and in-place 1x1 convs only")
              : dam__k_check("conv2d_grad_input", pair, 2, gx->numel);
  }
  if (err)
    return err;
  d.relu_x = relu_x != NULL;
  const dam_tensor *coef, *src = dw_source(ex, &d, t[3], &coef);
  conv_push s1;
  if (!use_depthwise(&d) || !dam__dw_flat_twin(ex, &d, &s1))
    return grad_input_pass(ex, gy, w, gx, src, coef, d);
  dam_tensor *full;
  if ((err = twin_gy(ex, gy, &s1, d.sh, share, &full)))
    return err;
  err = grad_input_pass(ex, full, w, gx, src, coef, s1);
  if (!share)
    dam_tensor_release(ex, full);
  return err;
}

int dam_k_conv2d_grad_input_acc(dam_exec *ex, const dam_tensor *gy,
                                const dam_tensor *w, const dam_conv2d_geom *g,
                                dam_tensor *gx) {
  return grad_input(ex, gy, w, g, gx, NULL, NULL);
}

bool dam_k_conv2d_folds_relu(dam_exec *ex, const dam_shape *x,
                             const dam_shape *w, const dam_conv2d_geom *g) {
  conv_push d;
  return !dims("conv2d", x, w, g, &d) && folds_relu(ex, &d);
}

int dam_k_conv2d_grad_input_relu_acc(dam_exec *ex, const dam_tensor *gy,
                                     const dam_tensor *w,
                                     const dam_conv2d_geom *g,
                                     const dam_tensor *x, dam_tensor *gx) {
  return grad_input(ex, gy, w, g, gx, x, NULL);
}

/* How many parts to split `rows` (the N * OH output rows, or the N images
 * for conv2d_grad_weight_1x1) into, at least min_rows each, given how
 * many invocations (or workgroups, for tiled shaders) one part takes. */
static void choose_parts(dam_exec *ex, conv_push *d, uint64_t rows,
                         uint64_t min_rows, uint64_t per_part,
                         uint64_t gw_numel, bool tiled) {
  uint64_t parts;
  if (forced_parts) {
    parts = forced_parts;
  } else {
    uint64_t target = dam__k_target_invocations(ex);
    if (tiled)
      target /= LOCAL_SIZE;
    parts = (target + per_part - 1) / per_part;
    if (parts > rows / min_rows)
      parts = rows / min_rows;
    if (parts * gw_numel > MAX_PARTIAL)
      parts = MAX_PARTIAL / gw_numel;
  }
  if (parts < 1)
    parts = 1;
  if (parts > rows)
    parts = rows;
  d->rows_per_part = div_up(rows, parts);
  d->parts = div_up(rows, d->rows_per_part);
}

/* The 1x1 weight-gradient shader for d's planes and channels
 * (conv2d_grad_weight_1x1.glsl). */
static const dam_shader *grad_weight_1x1_shader(const conv_push *d) {
  uint32_t r = d->H * d->W % 4;
  if (r == 0)
    return &shader_conv2d_grad_weight_1x1;
  return r == 1 && d->Cg % 4 == 0 && d->Kg % 4 == 0
             ? &shader_conv2d_grad_weight_1x1_odd
             : &shader_conv2d_grad_weight_1x1_shifted;
}

/* The weight gradient in d's geometry: picks the shader (coef as
 * dw_source's). */
static int grad_weight_pass(dam_exec *ex, const dam_tensor *x,
                            const dam_tensor *gy, dam_tensor *const *gw,
                            uint32_t n_gw, const dam_tensor *coef,
                            conv_push d) {
  uint64_t gw_numel = 0;
  for (uint32_t i = 0; i < n_gw; i++)
    gw_numel += gw[i]->numel;
  int err;
  const dam_shader *s;
  uint64_t per_part;
  bool tiled = false;
  uint32_t khw = d.KH * d.KW;
  uint64_t rows = (uint64_t)d.N * d.OH, min_rows = MIN_ROWS;
  bool flat = false;
  uint32_t shape = 0;
  if (use_dw_shaders(ex, &d)) {
    s = dam__dw_grad_weight_shader(&d, coef != NULL, &per_part, &flat,
                                   &shape);
  } else if (use_shared(ex)) {
    s = &shader_conv2d_grad_weight_tiled;
    d.tiles_n = div_up((uint64_t)d.Cg * khw, SHARED_BN);
    d.tiles_m = div_up(d.Kg, SHARED_BM);
    per_part = (uint64_t)d.tiles_n * d.tiles_m * d.groups;
    tiled = true;
  } else if (use_packed(ex, &d) && is_1x1(&d) && x->numel % 4 == 0 &&
             gy->numel % 4 == 0) {
    s = grad_weight_1x1_shader(&d);
    d.tiles_n = div_up(d.Cg, GW_1X1_TN);
    d.tiles_m = div_up(d.Kg, GW_1X1_TM);
    per_part = (uint64_t)d.tiles_n * d.tiles_m * d.groups;
    rows = d.N;
    min_rows = div_up(GW_1X1_MIN_TEXELS, div_up((uint64_t)d.H * d.W, 4));
  } else if (use_c1s2(ex, &d)) {
    s = &shader_conv2d_grad_weight_c1s2;
    d.tiles_m = div_up(d.Kg, C1S2_KB);
    per_part = (uint64_t)d.tiles_m * d.groups;
  } else if (d.Cg < REG_TN) {
    /* columns over (channel, tap) pairs: few channels fill no tile */
    s = &shader_conv2d_grad_weight_cols;
    d.tiles_n = div_up((uint64_t)d.Cg * khw, REG_TN);
    d.tiles_m = div_up(d.Kg, REG_TM);
    per_part = (uint64_t)d.tiles_n * d.tiles_m * d.groups;
  } else {
    s = &shader_conv2d_grad_weight;
    d.tiles_n = div_up(d.Cg, REG_TN);
    d.tiles_m = div_up(d.Kg, REG_TM);
    per_part = (uint64_t)d.tiles_n * d.tiles_m * khw * d.groups;
  }
  if (flat) {
    /* whole planes of several images a part where planes are small (CPU
     * devices: GPUs want the invocations) */
    bool whole = dam__k_cpu_device(ex) && d.tiles_n == 1;
    d.rows_per_part = whole ? div_up(DW_GW_MIN_GROUPS, d.tiles_m) : 1;
    if (d.rows_per_part > d.N)
      d.rows_per_part = d.N;
    d.parts = div_up(d.N, d.rows_per_part) * d.tiles_n;
  } else
    choose_parts(ex, &d, rows, min_rows, per_part, gw_numel, tiled);
  const dam_tensor *out = gw[0];
  dam_tensor *partial = NULL;
  if (d.parts > 1 || flat || n_gw > 1) {
    dam_shape ps = dam_shape4(d.parts, (uint32_t)gw_numel, 0, 0);
    partial = dam_tensor_new(ex, &ps, false);
    if (!partial)
      return dam_fail(DAM_ENOMEM, "conv2d_grad_weight: %u partial sums: %s",
                      d.parts, dam_last_error());
    out = partial;
  }
  d.accumulate = out == gw[0];
  const dam_tensor *pass[] = {x, gy, out, coef};
  err = tiled ? run_tiled(ex, s, pass, &d, per_part * d.parts)
              : run_shaped(ex, s, shape, pass, &d, per_part * d.parts);
  if (!partial)
    return err;
  if (err) {
    dam_tensor_release(ex, partial);
    return err;
  }
  return dam_part_sums_add_split(ex, partial, d.parts, gw, n_gw);
}

/* The weight gradient in d's geometry into gw[0..n_gw), through the
 * stride-1 twin where the depthwise shaders take that (share as in
 * twin_gy). */
static int grad_weight_run(dam_exec *ex, const dam_tensor *x,
                           const dam_tensor *gy, dam_tensor *const *gw,
                           uint32_t n_gw, conv_push d, dam_tensor **share) {
  const dam_tensor *coef;
  x = dw_source(ex, &d, x, &coef);
  conv_push s1;
  if (!use_dw_shaders(ex, &d) || !dam__dw_flat_twin(ex, &d, &s1))
    return grad_weight_pass(ex, x, gy, gw, n_gw, coef, d);
  dam_tensor *full;
  int err = twin_gy(ex, gy, &s1, d.sh, share, &full);
  if (err)
    return err;
  err = grad_weight_pass(ex, x, full, gw, n_gw, coef, s1);
  if (!share)
    dam_tensor_release(ex, full);
  return err;
}

/* The weight gradient from relu(x) (relu_x; every shader reads x through
 * conv_x in conv2d.glsl) or x. */
static int grad_weight(dam_exec *ex, const dam_tensor *x,
                       const dam_tensor *gy, const dam_conv2d_geom *g,
                       dam_tensor *gw, bool relu_x, dam_tensor **share) {
  const dam_tensor *t[] = {x, gy, gw};
  conv_push d;
  int err = check_pass("conv2d_grad_weight", t, 0, 2, 1, g, &d);
  if (err)
    return err;
  d.relu_x = relu_x;
  return grad_weight_run(ex, x, gy, &gw, 1, d, share);
}

int dam_k_conv2d_grad_weight_acc(dam_exec *ex, const dam_tensor *x,
                                 const dam_tensor *gy,
                                 const dam_conv2d_geom *g, dam_tensor *gw) {
  return grad_weight(ex, x, gy, g, gw, false, NULL);
}

int dam_k_conv2d_grad_weight_relu_acc(dam_exec *ex, const dam_tensor *x,
                                      const dam_tensor *gy,
                                      const dam_conv2d_geom *g,
                                      dam_tensor *gw) {
  return grad_weight(ex, x, gy, g, gw, true, NULL);
}

int dam_k_conv2d_backward_acc(dam_exec *ex, const dam_tensor *x, bool relu,
                              const dam_tensor *w, const dam_conv2d_geom *g,
                              const dam_tensor *gy, dam_tensor *gx,
                              dam_tensor *gw) {
  dam_tensor *spread = NULL, **share = gx && gw ? &spread : NULL;
  int err = gx ? grad_input(ex, gy, w, g, gx, relu ? x : NULL, share) : 0;
  if (!err && gw)
    err = grad_weight(ex, x, gy, g, gw, relu, share);
  dam_tensor_release(ex, spread);
  return err;
}

int dam_k_conv2d_grad_weight_groups_acc(dam_exec *ex, const dam_tensor *x,
                                        const dam_tensor *gy,
                                        const dam_conv2d_geom *g,
                                        dam_tensor *const *gw) {
  static const char op[] = "conv2d_grad_weight_groups";
  uint32_t groups = g && g->groups ? g->groups : 1;
  const dam_tensor *t[] = {x, gy};
  int err = !x || !gy ? dam_fail(DAM_EINVAL, "%s: NULL tensor", op)
                      : dam__k_check(op, t, 2, 0);
  for (uint32_t i = 0; !err && i < groups; i++) {
    if (!gw[i] || !dam_shape_equal(&gw[i]->shape, &gw[0]->shape))
      err = dam_fail(DAM_ESHAPE, "%s: group %u's weights are missing or "
                     "not shaped like group 0's", op, i);
    else
      err = dam__k_check(op, (const dam_tensor *const *)&gw[i], 1, 0);
  }
  if (err)
    return err;
  dam_shape ws = gw[0]->shape;
  ws.dim[0] *= groups;
  conv_push d;
  err = check_shapes(op, &x->shape, &ws, &gy->shape, g, &d);
  return err ? err : grad_weight_run(ex, x, gy, gw, groups, d, NULL);
}
