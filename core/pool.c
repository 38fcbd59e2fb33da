/*
 * Max and average pooling and global average pooling, forward and
 * backward, over the pool2d*.comp and gap*.comp shaders.  The shaders are
 * barrier-free: each invocation owns a tile of neighbouring outputs and
 * the backward passes gather instead of scattering.  The 3 x 3, padding 1,
 * stride 1 or 2 windows of the DARTS search space take shaders unrolled at
 * compile time (pool2d_k3*, one pass each), or at stride 1 over a multiple
 * of 4 elements the vec4 pool2d_flat* shaders (max's backward finds each
 * window's winner again as it gathers); other windows take the general
 * ones, where max pooling's backward first records each window's winner
 * (pool2d_route) and then gathers.  The 3 x 3 ones read a batch norm's
 * output not yet made through the norm's input where the norm has no
 * gamma (reads_bn), so the pools of a cell's preprocessed inputs leave
 * them unmade.
 */
#include "pool.h"
#include "error.h"
#include "kernel_util.h"

#include <stdio.h>

#include "gap.spv.h"
#include "gap_backward.spv.h"
#include "pool2d.spv.h"
#include "pool2d_backward.spv.h"
#include "pool2d_flat_avg.spv.h"
#include "pool2d_flat_avg_bn.spv.h"
#include "pool2d_flat_avg_backward.spv.h"
#include "pool2d_flat_max.spv.h"
#include "pool2d_flat_max_bn.spv.h"
#include "pool2d_flat_max_backward.spv.h"
#include "pool2d_k3_avg_backward_s1.spv.h"
#include "pool2d_k3_avg_backward_s2.spv.h"
#include "pool2d_k3_max_backward_s1.spv.h"
#include "pool2d_k3_max_backward_s2.spv.h"
#include "pool2d_k3_s1.spv.h"
#include "pool2d_k3_s1_bn.spv.h"
#include "pool2d_k3_s2.spv.h"
#include "pool2d_k3_s2_bn.spv.h"
#include "pool2d_route.spv.h"

DAM_SHADER(pool2d, 2, 0x2, 44);
DAM_SHADER(pool2d_route, 3, 0x4, 44);
DAM_SHADER(pool2d_backward, 3, 0x4, 44);
DAM_SHADER_TEXEL(pool2d_k3_s1, 2, 0x2, 0x1, 44);
DAM_SHADER_TEXEL(pool2d_k3_s2, 2, 0x2, 0x1, 44);
DAM_SHADER_TEXEL(pool2d_k3_s1_bn, 3, 0x2, 0x5, 48);
DAM_SHADER_TEXEL(pool2d_k3_s2_bn, 3, 0x2, 0x5, 48);
DAM_SHADER_TEXEL(pool2d_k3_max_backward_s1, 3, 0x4, 0x3, 44);
DAM_SHADER_TEXEL(pool2d_k3_avg_backward_s1, 2, 0x2, 0x1, 44);
DAM_SHADER_TEXEL(pool2d_k3_avg_backward_s2, 2, 0x2, 0x1, 44);
DAM_SHADER_TEXEL(pool2d_k3_max_backward_s2, 3, 0x4, 0x3, 44);
DAM_SHADER_TEXEL(pool2d_flat_max, 2, 0x2, 0x1, 20);
DAM_SHADER_TEXEL(pool2d_flat_max_backward, 4, 0x4, 0xb, 20);
DAM_SHADER_TEXEL(pool2d_flat_avg, 2, 0x2, 0x1, 20);
DAM_SHADER_TEXEL(pool2d_flat_max_bn, 3, 0x2, 0x5, 24);
DAM_SHADER_TEXEL(pool2d_flat_avg_bn, 3, 0x2, 0x5, 24);
DAM_SHADER_TEXEL(pool2d_flat_avg_backward, 3, 0x2, 0x5, 20);
DAM_SHADER(gap, 2, 0x2, 12);
DAM_SHADER(gap_backward, 2, 0x2, 16);

/* The tile of outputs (forward) or of gx elements (backward) each pooling
 * invocation owns: TH x TW in pool2d.glsl and pool2d_backward.comp; in
 * pool2d_k3*.glsl, which unroll the 3 x 3, padding 1, stride 1 or 2
 * windows of the DARTS search space at compile time, K3_TILE squared at
 * stride 1 and K3_S2_TILE squared at stride 2 (fewer registers). */
#define TILE_H 4
#define TILE_W 4
#define K3_TILE 8
#define K3_S2_TILE 4
/* Accesses (floats, or vec4s where a plane is a multiple of 4 floats) of a
 * plane each gap_backward invocation makes. */
#define GAP_PER_INVOCATION 8
/* Vec4s of the output (or gx) each pool2d_flat* invocation walks. */
#define FLAT_STEPS 8
/* The smallest planes the _bn pool2d_flat forwards take: an invocation's
 * 4 FLAT_STEPS floats then lie in three planes at most. */
#define FLAT_BN_MIN_PLANE 16

/* Push constants of the pool2d shaders (c: the _bn ones'). */
typedef struct pool_push {
  uint32_t planes, h, w, oh, ow, k, s, pad, avg, tiles_y, tiles_x, c;
} pool_push;

static void shape_str(const dam_shape *s, char *buf, size_t size) {
  int n = snprintf(buf, size, "[");
  for (uint32_t i = 0; i < s->ndim && n > 0 && (size_t)n < size; i++)
    n += snprintf(buf + n, size - n, i ? ", %u" : "%u", s->dim[i]);
  if (n > 0 && (size_t)n < size)
    snprintf(buf + n, size - n, "]");
}

static int want_shape(const char *op, const char *name, const dam_tensor *t,
                      const dam_shape *want) {
  if (dam_shape_equal(&t->shape, want))
    return DAM_OK;
  char got[64], exp[64];
  shape_str(&t->shape, got, sizeof got);
  shape_str(want, exp, sizeof exp);
  return dam_fail(DAM_ESHAPE, "%s: %s has shape %s, expected %s", op, name,
                  got, exp);
}

int dam_pool2d_shape(const dam_shape *x, const dam_pool_args *a,
                     dam_shape *y) {
  if (!x || !a || !y)
    return dam_fail(DAM_EINVAL, "pool2d: NULL argument");
  if (x->ndim != 4) {
    char buf[64];
    shape_str(x, buf, sizeof buf);
    return dam_fail(DAM_ESHAPE, "pool2d: input %s is not 4-D (N, C, H, W)",
                    buf);
  }
  if (a->kind != DAM_POOL_MAX && a->kind != DAM_POOL_AVG)
    return dam_fail(DAM_EINVAL, "pool2d: unknown kind %u", a->kind);
  if (a->kernel == 0 || a->stride == 0 || a->pad >= a->kernel)
    return dam_fail(DAM_EINVAL, "pool2d: kernel %u, stride %u, pad %u "
                    "(need kernel > 0, stride > 0, pad < kernel)",
                    a->kernel, a->stride, a->pad);
  uint64_t h = x->dim[2] + 2ull * a->pad, w = x->dim[3] + 2ull * a->pad;
  if (h < a->kernel || w < a->kernel || x->dim[0] == 0 || x->dim[1] == 0)
    return dam_fail(DAM_EINVAL, "pool2d: kernel %u with pad %u gives an "
                    "empty output for input [%u, %u, %u, %u]", a->kernel,
                    a->pad, x->dim[0], x->dim[1], x->dim[2], x->dim[3]);
  *y = dam_shape4(x->dim[0], x->dim[1],
                  (uint32_t)((h - a->kernel) / a->stride + 1),
                  (uint32_t)((w - a->kernel) / a->stride + 1));
  return DAM_OK;
}

/* Checks shared by the forward and the backward: t[0] is input-shaped,
 * t[1] output-shaped and t[2], when n is 3, input-shaped.  Fills the push
 * constants common to both shaders. */
static int pool_prepare(const char *op, const dam_tensor *const *t,
                        uint32_t n, const dam_pool_args *a, pool_push *p) {
  int err = dam__k_check(op, t, n, 0);
  dam_shape out;
  if (!err && !a)
    err = dam_fail(DAM_EINVAL, "%s: NULL arguments", op);
  if (!err)
    err = dam_pool2d_shape(&t[0]->shape, a, &out);
  if (!err)
    err = want_shape(op, n == 3 ? "gy" : "y", t[1], &out);
  if (!err && n == 3)
    err = want_shape(op, "gx", t[2], &t[0]->shape);
  if (!err)
    err = dam__k_check(op, t + 1, 1, 0);
  if (err)
    return err;
  const uint32_t *d = t[0]->shape.dim;
  *p = (pool_push){
      .planes = d[0] * d[1], .h = d[2], .w = d[3],
      .oh = out.dim[2], .ow = out.dim[3],
      .k = a->kernel, .s = a->stride, .pad = a->pad,
      .avg = a->kind == DAM_POOL_AVG, .c = d[1],
  };
  return DAM_OK;
}

/* 3 x 3 windows with padding 1 and stride 1 or 2: the unrolled shaders. */
static bool darts_window(const pool_push *p) {
  return p->k == 3 && p->pad == 1 && (p->s == 1 || p->s == 2);
}

/* Stride-1 3 x 3 windows over tensors of a multiple of 4 elements: the
 * vec4 shaders pool2d_flat*, whose bindings are t[0] (x or gy) and t[1]
 * (y or gx), or for max's backward x, gy and gx; a backward binds gx
 * again last, as texels. */
static bool flat_window(const pool_push *p) {
  return darts_window(p) && p->s == 1 && (uint64_t)p->planes * p->h * p->w
                                                 % 4 == 0;
}

/* The spans' offsets within their vec4s follow from the width mod 4
 * (FLAT_W4, shaders/flat_w4.glsl). */
static int run_flat(dam_exec *ex, const dam_shader *s,
                    const dam_tensor *const *t, const pool_push *p) {
  uint32_t n4 = (uint32_t)((uint64_t)p->planes * p->h * p->w / 4);
  struct { uint32_t n4, steps, h, w, avg, c; } f = {
      n4, FLAT_STEPS, p->h, p->w, p->avg, p->c};
  return dam__k_run_shaped(ex, s, 4 + p->w % 4, t, &f,
                           (n4 + FLAT_STEPS - 1) / FLAT_STEPS);
}

/* Whether a pool in p's geometry reads x, a batch norm's output not yet
 * made, through the norm's input: the norm has no gamma, so it increases
 * in every channel; the windows are 3 x 3 (the _bn forwards normalize
 * what they pool, pool2d_bn.glsl; max's backward finds its winners in the
 * input, the same ones unless rounding made two inputs' normalized values
 * equal), and the flat ones' planes are large enough. */
static bool reads_bn(const dam_tensor *x, const pool_push *p) {
  return dam_tensor_bn_unmade(x) && x->bn_stats[0] && darts_window(p) &&
         (!flat_window(p) || (uint64_t)p->h * p->w >= FLAT_BN_MIN_PLANE);
}

/* The side of the square tile a pool2d_k3* invocation owns. */
static uint32_t k3_tile(const pool_push *p) {
  return p->s == 1 ? K3_TILE : K3_S2_TILE;
}

/* Dispatch s over p->planes planes of h x w tiles of th x tw. */
static int run_tiles(dam_exec *ex, const dam_shader *s,
                     const dam_tensor *const *t, pool_push *p, uint32_t h,
                     uint32_t w, uint32_t th, uint32_t tw) {
  p->tiles_y = (h + th - 1) / th;
  p->tiles_x = (w + tw - 1) / tw;
  return dam__k_run(ex, s, t, p, (uint64_t)p->planes * p->tiles_y *
                                     p->tiles_x);
}

int dam_k_pool2d(dam_exec *ex, const dam_tensor *x, const dam_pool_args *a,
                 dam_tensor *y) {
  const dam_tensor *t[] = {x, y, NULL};
  pool_push p;
  int err = pool_prepare("pool2d", t, 2, a, &p);
  if (err)
    return err;
  bool bn = reads_bn(x, &p);
  if (bn)
    t[0] = x->bn_of, t[2] = x->bn_coef;
  if (flat_window(&p)) {
    static const dam_shader *flat[2][2] = {
        {&shader_pool2d_flat_max, &shader_pool2d_flat_avg},
        {&shader_pool2d_flat_max_bn, &shader_pool2d_flat_avg_bn}};
    return run_flat(ex, flat[bn][p.avg], t, &p);
  }
  if (darts_window(&p)) {
    static const dam_shader *k3[2][2] = {
        {&shader_pool2d_k3_s1, &shader_pool2d_k3_s2},
        {&shader_pool2d_k3_s1_bn, &shader_pool2d_k3_s2_bn}};
    return run_tiles(ex, k3[bn][p.s == 2], t, &p, p.oh, p.ow, k3_tile(&p),
                     k3_tile(&p));
  }
  return run_tiles(ex, &shader_pool2d, t, &p, p.oh, p.ow, TILE_H, TILE_W);
}

int dam_k_pool2d_backward(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gy, const dam_pool_args *a,
                          dam_tensor *gx) {
  const dam_tensor *t[] = {x, gy, gx, gx};
  pool_push p;
  int err = pool_prepare("pool2d_backward", t, 3, a, &p);
  if (err)
    return err;
  if (reads_bn(x, &p))
    t[0] = x->bn_of;
  if (!p.avg && flat_window(&p))
    return run_flat(ex, &shader_pool2d_flat_max_backward, t, &p);
  if (!p.avg && darts_window(&p))
    return run_tiles(ex, p.s == 1 ? &shader_pool2d_k3_max_backward_s1
                                  : &shader_pool2d_k3_max_backward_s2,
                     t, &p, p.h, p.w, k3_tile(&p), k3_tile(&p));
  if (darts_window(&p)) {
    const dam_tensor *g[] = {gy, gx, gx};
    if (flat_window(&p))
      return run_flat(ex, &shader_pool2d_flat_avg_backward, g, &p);
    return run_tiles(ex, p.s == 1 ? &shader_pool2d_k3_avg_backward_s1
                                  : &shader_pool2d_k3_avg_backward_s2,
                     g, &p, p.h, p.w, k3_tile(&p), k3_tile(&p));
  }
  const dam_tensor *routes = gy;
  dam_tensor *winners = NULL;
  if (!p.avg) {
    if (gy->numel > UINT32_MAX / 2)
      return dam_fail(DAM_ERANGE, "pool2d_backward: more than 2^31 windows");
    dam_shape s = dam_shape4((uint32_t)gy->numel * 2, 0, 0, 0);
    if (!(routes = winners = dam_tensor_new(ex, &s, false)))
      return dam_fail(DAM_ENOMEM, "pool2d_backward: no room for the window "
                      "winners: %s", dam_last_error());
    const dam_tensor *fw[] = {x, gy, routes};
    if ((err = run_tiles(ex, &shader_pool2d_route, fw, &p, p.oh, p.ow,
                         TILE_H, TILE_W)))
      return err;
  }
  const dam_tensor *bw[] = {routes, gy, gx};
  err = run_tiles(ex, &shader_pool2d_backward, bw, &p, p.h, p.w, TILE_H,
                  TILE_W);
  dam_tensor_release(ex, winners);
  return err;
}

/* Checks of both global-pooling kernels: x (or gx) 4-D, g (y or gy) of
 * shape [N, C] or [N, C, 1, 1]. */
static int gap_prepare(const char *op, const dam_tensor *x,
                       const dam_tensor *g) {
  const dam_tensor *t[] = {x, g};
  int err = dam__k_check(op, t, 2, 0);
  if (err)
    return err;
  if (x->shape.ndim != 4) {
    char buf[64];
    shape_str(&x->shape, buf, sizeof buf);
    return dam_fail(DAM_ESHAPE, "%s: input %s is not 4-D (N, C, H, W)", op,
                    buf);
  }
  dam_shape two = {2, {x->shape.dim[0], x->shape.dim[1]}};
  dam_shape four = dam_shape4(two.dim[0], two.dim[1], 1, 1);
  if (dam_shape_equal(&g->shape, &two))
    return DAM_OK;
  return want_shape(op, "the pooled tensor", g, &four);
}

int dam_k_global_avg_pool(dam_exec *ex, const dam_tensor *x, dam_tensor *y) {
  int err = gap_prepare("global_avg_pool", x, y);
  if (err)
    return err;
  const dam_tensor *t[] = {x, y};
  uint32_t hw = x->shape.dim[2] * x->shape.dim[3];
  struct { uint32_t planes, hw, wide; } p = {(uint32_t)y->numel, hw,
                                             hw % 4 == 0};
  return dam__k_run(ex, &shader_gap, t, &p, p.planes);
}

int dam_k_global_avg_pool_backward(dam_exec *ex, const dam_tensor *gy,
                                   dam_tensor *gx) {
  int err = gap_prepare("global_avg_pool_backward", gx, gy);
  if (err)
    return err;
  const dam_tensor *t[] = {gy, gx};
  uint32_t hw = gx->shape.dim[2] * gx->shape.dim[3];
  uint32_t units = hw % 4 ? hw : hw / 4;
  struct { uint32_t planes, hw, parts, wide; } p = {
      (uint32_t)gy->numel, hw,
      (units + GAP_PER_INVOCATION - 1) / GAP_PER_INVOCATION, hw % 4 == 0};
  return dam__k_run(ex, &shader_gap_backward, t, &p,
                    (uint64_t)p.planes * p.parts);
}
