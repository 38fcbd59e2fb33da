/*
 * Differentiable scalings of whole tensors: by a one-element device tensor
 * (an op's output times its architecture weight, with the gradient to the
 * weight) and by a per-image host mask (drop-path).  A term that is a
 * batch norm's output not yet made is read through the norm's input, and
 * its gradient goes through the norm's backward at once.
 */
#include "batchnorm.h"
#include "error.h"
#include "kernel_util.h"
#include "kernels.h"
#include "nn.h"
#include "part_sums.h"

#include "scale_by.spv.h"
#include "scale_by_bn.spv.h"
#include "scale_by_bn_quad.spv.h"
#include "scale_by_bn_quad_wide.spv.h"
#include "scale_by_bn_wide.spv.h"
#include "scale_grads.spv.h"
#include "scale_grads_bn.spv.h"
#include "scale_grads_bn_set.spv.h"
#include "scale_grads_set.spv.h"
#include "scale_rows.spv.h"

DAM_SHADER_TEXEL(scale_by, 6, 0x8, 0x26, 12);
DAM_SHADER_TEXEL(scale_by_bn, 8, 0x8, 0x26, 28);
DAM_SHADER_TEXEL(scale_by_bn_quad, 14, 0x8, 0x1226, 28);
DAM_SHADER_TEXEL(scale_by_bn_wide, 8, 0x8, 0x26, 28);
DAM_SHADER_TEXEL(scale_by_bn_quad_wide, 14, 0x8, 0x1226, 28);
DAM_SHADER_TEXEL(scale_grads, 9, 0x198, 0x61, 12);
DAM_SHADER_TEXEL(scale_grads_set, 9, 0x198, 0x61, 12);
DAM_SHADER_TEXEL(scale_grads_bn, 11, 0x198, 0x61, 24);
DAM_SHADER_TEXEL(scale_grads_bn_set, 11, 0x198, 0x61, 24);
DAM_SHADER(scale_rows, 3, 0x4, 12);

/* Vec4s of each invocation's span in scale_by_bn.comp and
 * scale_grads_bn.comp, and in scale_by_bn.comp on a GPU (at 32 it took
 * 19 us a dispatch on an H200); even (scale_by_bn.comp stores pairs). */
#define BN_SPAN 32
#define GPU_BN_SPAN 4

/* Whether x is a batch norm's output not yet made whose normalization the
 * node-sum shaders can do on the fly (flat vec4 spans: bn_terms.glsl). */
static bool pending_bn(const dam_tensor *x) {
  if (!x || !dam_tensor_bn_unmade(x) || x->shape.ndim != 4)
    return false;
  uint64_t hw = (uint64_t)x->shape.dim[2] * x->shape.dim[3];
  return hw >= 4 && x->numel % 4 == 0;
}

/* scale_sum_run's sum through scale_by_bn(_quad).comp, one term or more
 * a pending batch-norm output, which is read through its input. */
static int scale_sum_bn(dam_exec *ex, uint32_t n, dam_tensor *const *s,
                        dam_tensor *const *x, const dam_tensor *a,
                        dam_tensor *y) {
  uint32_t bn = 0;
  const dam_tensor *any_coef = NULL;
  for (uint32_t i = 0; i < n; i++)
    if (pending_bn(x[i])) {
      bn |= 1u << i;
      any_coef = x[i]->bn_coef;
    }
  /* placeholders past n: the first term; for a term not pending, its
   * coefficients: a pending one's */
  const dam_tensor *w[4], *src[4], *coef[4];
  for (uint32_t i = 0; i < 4; i++) {
    uint32_t j = i < n ? i : 0;
    bool pending = bn >> j & 1u;
    w[i] = s[j];
    src[i] = pending ? x[j]->bn_of : x[j];
    coef[i] = pending ? x[j]->bn_coef : any_coef;
  }
  const dam_tensor *b[14] = {w[0], src[0], a ? a : src[0], y,
                             w[1], src[1], coef[0], coef[1],
                             w[2], src[2], coef[2],
                             w[3], src[3], coef[3]};
  bool cpu = dam__k_cpu_device(ex);
  uint32_t span = cpu ? BN_SPAN : GPU_BN_SPAN;
  const dam_shape *shape = &y->shape; /* the terms' */
  struct { uint32_t planes, c, hw, span, bn, has_a, has_second; } push = {
      shape->dim[0] * shape->dim[1], shape->dim[1],
      shape->dim[2] * shape->dim[3], span, bn, a != NULL, n > 1};
  uint64_t vec4s = y->numel / 4;
  /* [quad][wide stores] */
  static const dam_shader *const shaders[2][2] = {
      {&shader_scale_by_bn, &shader_scale_by_bn_wide},
      {&shader_scale_by_bn_quad, &shader_scale_by_bn_quad_wide}};
  return dam__k_run(ex, shaders[n > 2][cpu], b, &push,
                    (vec4s + span - 1) / span);
}

/* y = a + the sum of s[i] * x[i] over the n terms (1, 2 or 4; a NULL:
 * none; a may be y, a node's sum accumulated in place).  A term that is a
 * pending batch-norm output is normalized on the fly, not made. */
static int scale_sum_run(dam_exec *ex, uint32_t n, dam_tensor *const *s,
                         dam_tensor *const *x, const dam_tensor *a,
                         dam_tensor *y) {
  const dam_tensor *checked[6] = {y, a ? a : y};
  for (uint32_t i = 0; i < n; i++)
    checked[2 + i] = x[i];
  int err = dam__k_check("scale_add", checked, 2 + n, y->numel);
  if (!err)
    err = dam__k_check("scale_add", (const dam_tensor *const *)s, n, 1);
  bool any_bn = false;
  for (uint32_t i = 0; i < n; i++)
    any_bn = any_bn || pending_bn(x[i]);
  if (err || any_bn)
    return err ? err : scale_sum_bn(ex, n, s, x, a, y);
  if (n > 2) {
    err = scale_sum_run(ex, 2, s, x, a, y);
    return err ? err : scale_sum_run(ex, n - 2, s + 2, x + 2, y, y);
  }
  const dam_tensor *t[] = {s[0], x[0], a ? a : x[0], y, s[n - 1], x[n - 1]};
  struct { uint32_t n, has_a, has_second; } push = {(uint32_t)y->numel,
                                                    a != NULL, n > 1};
  return dam__k_run(ex, &shader_scale_by, t, &push,
                    dam__k_elementwise_invocations(y->numel));
}

/* Most partial dot products behind a scale's gradient: one lane of
 * part_sums_sets adds them up (on an H200, 6 272 of them took 2.2 ms). */
#define SCALE_GRAD_PARTS 512

/* One pass over gy for the terms s_i * x_i of a sum (i < 2; x[1], s[1]
 * NULL for one term): g_i += s_i * gy where g_i is given, and gs_i +=
 * <gy, x_i> where gs_i is given, from partial dot products (one per
 * invocation) added up by the deferred partial sums (part_sums.c),
 * several scales per dispatch. */
static int term_grads(dam_exec *ex, const dam_tensor *gy,
                      dam_tensor *const x[2], dam_tensor *const s[2],
                      dam_tensor *const g[2], dam_tensor *const gs[2]) {
  uint32_t mask = 0;
  for (int i = 0; i < 2; i++)
    mask |= (g[i] ? 1u << i : 0) | (gs[i] ? 4u << i : 0);
  if (!mask)
    return DAM_OK;
  /* dots with pending batch-norm outputs read their inputs instead */
  bool bn[2] = {gs[0] && pending_bn(x[0]), gs[1] && pending_bn(x[1])};
  uint64_t n = gy->numel, runs = (n / 4 + DAM_EW_SPAN - 1) / DAM_EW_SPAN;
  if ((mask & 12u) && runs > SCALE_GRAD_PARTS)
    runs = SCALE_GRAD_PARTS;
  uint32_t parts = (uint32_t)(runs > n % 4 ? runs : n % 4 ? n % 4 : 1);
  uint64_t span = BN_SPAN; /* the batch-norm path's, in vec4s */
  if ((bn[0] || bn[1]) && n / 4 > span * SCALE_GRAD_PARTS)
    span = (n / 4 + SCALE_GRAD_PARTS - 1) / SCALE_GRAD_PARTS;
  if (bn[0] || bn[1])
    parts = (uint32_t)((n / 4 + span - 1) / span);
  dam_shape ps = dam_shape4(parts, 0, 0, 0);
  dam_tensor *part[2] = {NULL, NULL};
  int err = DAM_OK;
  for (int i = 0; i < 2; i++) {
    const dam_tensor *checked[] = {x[i], g[i]};
    if (!err && (g[i] || gs[i]))
      err = dam__k_check("scale_grads", checked, g[i] ? 2 : 1, n);
    if (!err && gs[i] && !(part[i] = dam_tensor_new(ex, &ps, false)))
      err = DAM_ENOMEM;
  }
  /* placeholders for the bindings of what is not asked for */
  const dam_tensor *any_out = g[0]     ? g[0]
                              : g[1]    ? g[1]
                              : part[0] ? part[0]
                                        : part[1];
  const dam_tensor *t[11] = {gy};
  for (int i = 0; i < 2; i++) {
    t[1 + i] = s[i] ? s[i] : s[0];
    t[3 + i] = g[i] ? g[i] : any_out;
    t[5 + i] = !gs[i] ? gy : bn[i] ? x[i]->bn_of : x[i];
    t[7 + i] = part[i] ? part[i] : any_out;
    t[9 + i] = bn[i] ? x[i]->bn_coef : NULL;
  }
  t[9] = t[9] ? t[9] : t[10];
  t[10] = t[10] ? t[10] : t[9];
  /* the _set shader when every gradient asked for is new (and they differ) */
  bool set = !err && (mask & 3u) && g[0] != g[1];
  for (int i = 0; i < 2; i++)
    set = set && (!g[i] || g[i]->zeros_pending);
  for (int i = 0; i < 2 && set; i++)
    if (g[i])
      dam__k_take_zeros(g[i]);
  if (!err && (bn[0] || bn[1])) {
    const dam_shape *xs = &x[bn[0] ? 0 : 1]->shape;
    struct { uint32_t planes, c, hw, span, bn, mask; } push = {
        xs->dim[0] * xs->dim[1], xs->dim[1], xs->dim[2] * xs->dim[3],
        (uint32_t)span, (bn[0] ? 1u : 0) | (bn[1] ? 2u : 0), mask};
    err = dam__k_run(ex, set ? &shader_scale_grads_bn_set
                             : &shader_scale_grads_bn,
                     t, &push, parts);
  } else if (!err) {
    struct { uint32_t n, mask, parts; } push = {(uint32_t)n, mask, parts};
    err = dam__k_run(ex, set ? &shader_scale_grads_set : &shader_scale_grads,
                     t, &push, parts);
  }
  for (int i = 0; i < 2; i++)
    if (!err && part[i])
      err = dam_part_sums_add(ex, part[i], parts, gs[i]);
    else
      dam_tensor_release(ex, part[i]);
  return err;
}

/* Whether term x is a batch norm's output not yet made, of a norm without
 * gamma and beta (its saved statistics on x): its gradient can go through
 * the norm's backward at once. */
static bool norm_takes_gradient(const dam_tensor *x) {
  return pending_bn(x) && x->bn_stats[0];
}

/* Whether term x (norm_takes_gradient) takes its gradient s * gy into the
 * norm's input here, the norm's backward run on it directly
 * (dam_k_batchnorm_backward_scaled) instead of making x's gradient first.
 * x's gradient is then not made, so the norm's own backward sees only what
 * other readers of x add (it is linear in that gradient).  *gs, the
 * gradient asked of s or NULL, is taken by the backward where it can
 * (dam_k_batchnorm_backward_takes_gscale) and then set NULL. *err on
 * failure. */
static bool norm_backward_here(dam_exec *ex, dam_tensor *x, dam_tensor *s,
                               dam_tensor *gy, dam_tensor **gs, int *err) {
  if (!norm_takes_gradient(x))
    return false;
  dam_tensor *in = x->bn_of, *gin = dam_tensor_grad(ex, in);
  dam_tensor *gscale =
      *gs && dam_k_batchnorm_backward_takes_gscale(ex, in) ? *gs : NULL;
  *err = gin ? dam_k_batchnorm_backward_scaled(ex, in, gy, s, x->bn_stats[0],
                                               x->bn_stats[1], gin, gscale)
             : DAM_ENOMEM;
  if (gscale)
    *gs = NULL;
  return true;
}

/* The gradient of x (bit gx_bit of needs; NULL where the norm x comes from
 * took it: norm_backward_here) and of s (gs_bit; NULL where that norm took
 * it too), or NULL; an error when one asked for cannot be made or the
 * norm's backward failed. */
static int term_needs(dam_exec *ex, uint32_t needs, dam_tensor *x,
                      uint32_t gx_bit, dam_tensor *s, uint32_t gs_bit,
                      dam_tensor *gy, dam_tensor **gx, dam_tensor **gs) {
  int err = DAM_OK;
  *gx = NULL;
  *gs = needs & gs_bit ? dam_tensor_grad(ex, s) : NULL;
  if ((needs & gs_bit) && !*gs)
    return DAM_ENOMEM;
  bool want_gx =
      (needs & gx_bit) && !norm_backward_here(ex, x, s, gy, gs, &err);
  if (want_gx && !err && !(*gx = dam_tensor_grad(ex, x)))
    err = DAM_ENOMEM;
  return err;
}

/* in = {x, s, a}: gx += s * gy; gs += <gy, x>; ga += gy. */
static int scale_add_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *x[2] = {node->in[0], NULL}, *s[2] = {node->in[1], NULL};
  dam_tensor *g[2] = {NULL, NULL}, *gs[2] = {NULL, NULL};
  dam_tensor *gy = node->out->grad;
  int err = term_needs(ex, needs, x[0], 1u, s[0], 2u, gy, &g[0], &gs[0]);
  if (!err)
    err = term_grads(ex, gy, x, s, g, gs);
  if (!err && (needs & 4u)) {
    dam_tensor *ga = dam_tensor_grad(ex, node->in[2]);
    err = ga ? dam_k_axpby(ex, 1.0f, gy, 1.0f, ga)
             : DAM_ENOMEM;
  }
  return err;
}

/* Where both terms of a pair take their gradients into their norms'
 * inputs (norm_backward_here), both norms' backwards in one call, bits 1
 * and 4 (their gradients) off *needs, and bits 2 and 8 (their scales')
 * too where the backward takes those. */
static int norm_backward_pair(dam_exec *ex, dam_tensor *const x[2],
                              dam_tensor *const s[2], dam_tensor *gy,
                              uint32_t *needs) {
  for (int i = 0; i < 2; i++)
    if (!(*needs & (1u << 2 * i)) || !norm_takes_gradient(x[i]))
      return DAM_OK;
  const dam_tensor *in[2] = {x[0]->bn_of, x[1]->bn_of};
  const dam_tensor *scale[2] = {s[0], s[1]};
  const dam_tensor *mean[2] = {x[0]->bn_stats[0], x[1]->bn_stats[0]};
  const dam_tensor *invstd[2] = {x[0]->bn_stats[1], x[1]->bn_stats[1]};
  dam_tensor *gin[2] = {dam_tensor_grad(ex, x[0]->bn_of),
                        dam_tensor_grad(ex, x[1]->bn_of)};
  bool take_gs = (*needs & 10u) == 10u && s[0] != s[1] &&
                 dam_k_batchnorm_backward_takes_gscale(ex, in[0]);
  dam_tensor *gs[2] = {take_gs ? dam_tensor_grad(ex, s[0]) : NULL,
                       take_gs ? dam_tensor_grad(ex, s[1]) : NULL};
  if (!gin[0] || !gin[1] || (take_gs && (!gs[0] || !gs[1])))
    return DAM_ENOMEM;
  *needs &= take_gs ? ~15u : ~5u;
  return dam_k_batchnorm_backward_scaled_pair(ex, in, gy, scale, mean, invstd,
                                              gin, take_gs ? gs : NULL);
}

/* in = {x0, s0, x1, s1}: gx_i += s_i * gy and gs_i += <gy, x_i>, in one
 * pass over gy. */
static int scale_pair_backward(dam_exec *ex, dam_node *node,
                               uint32_t needs) {
  dam_tensor **in = node->in;
  dam_tensor *x[2] = {in[0], in[2]}, *s[2] = {in[1], in[3]}, *g[2], *gs[2];
  dam_tensor *gy = node->out->grad;
  int err = norm_backward_pair(ex, x, s, gy, &needs);
  if (!err)
    err = term_needs(ex, needs, x[0], 1u, s[0], 2u, gy, &g[0], &gs[0]);
  if (!err)
    err = term_needs(ex, needs, x[1], 4u, s[1], 8u, gy, &g[1], &gs[1]);
  return err ? err : term_grads(ex, gy, x, s, g, gs);
}

dam_tensor *dam_scale_add(dam_exec *ex, dam_tensor *a, dam_tensor *x,
                          dam_tensor *s) {
  if (!x || !s)
    return dam_fail(DAM_EINVAL, "scale_add: NULL input"), NULL;
  if (a && !dam_shape_equal(&a->shape, &x->shape))
    return dam_fail(DAM_ESHAPE, "scale_add: the sum and the term differ in "
                    "shape"), NULL;
  dam_tensor *y = dam_tensor_new(ex, &x->shape, false);
  if (!y)
    return NULL;
  dam_node node = {"scale_add", scale_add_backward, {x, s, a}, a ? 3 : 2, y,
                   false, 0, NULL, NULL};
  return dam_tape_finish(ex, scale_sum_run(ex, 1, &s, &x, a, y), &node);
}

dam_tensor *dam_scale_acc(dam_exec *ex, dam_tensor *acc, dam_tensor *x,
                          dam_tensor *s) {
  if (!acc || !x || !s)
    return dam_fail(DAM_EINVAL, "scale_acc: NULL input"), NULL;
  if (acc->persistent || !dam_shape_equal(&acc->shape, &x->shape))
    return dam_fail(DAM_EINVAL, "scale_acc: the sum is persistent or "
                    "differs from the term in shape"), NULL;
  dam_node node = {"scale_acc", scale_add_backward, {x, s}, 2, acc, false, 0,
                   NULL, NULL, true};
  return dam_tape_finish(ex, scale_sum_run(ex, 1, &s, &x, acc, acc), &node);
}

dam_tensor *dam_scale_pair(dam_exec *ex, dam_tensor *acc, dam_tensor *x0,
                           dam_tensor *s0, dam_tensor *x1, dam_tensor *s1) {
  if (!x0 || !s0 || !x1 || !s1)
    return dam_fail(DAM_EINVAL, "scale_pair: NULL input"), NULL;
  if (!dam_shape_equal(&x0->shape, &x1->shape) ||
      (acc && (acc->persistent || !dam_shape_equal(&acc->shape, &x0->shape))))
    return dam_fail(DAM_EINVAL, "scale_pair: the terms differ in shape, or "
                    "the sum is persistent or differs from them"), NULL;
  dam_tensor *y = acc ? acc : dam_tensor_new(ex, &x0->shape, false);
  if (!y)
    return NULL;
  dam_node node = {"scale_pair", scale_pair_backward, {x0, s0, x1, s1}, 4,
                   y, false, 0, NULL, NULL, acc != NULL};
  dam_tensor *x[2] = {x0, x1}, *s[2] = {s0, s1};
  return dam_tape_finish(ex, scale_sum_run(ex, 2, s, x, acc, y), &node);
}

dam_tensor *dam_scale_quad(dam_exec *ex, dam_tensor *acc,
                           dam_tensor *const x[4], dam_tensor *const s[4]) {
  for (int i = 0; i < 4; i++)
    if (!x[i] || !s[i])
      return dam_fail(DAM_EINVAL, "scale_quad: NULL input"), NULL;
  for (int i = 1; i < 4; i++)
    if (!dam_shape_equal(&x[i]->shape, &x[0]->shape))
      return dam_fail(DAM_EINVAL, "scale_quad: the terms differ in shape"),
             NULL;
  if (acc && (acc->persistent || !dam_shape_equal(&acc->shape, &x[0]->shape)))
    return dam_fail(DAM_EINVAL, "scale_quad: the sum is persistent or "
                    "differs from the terms in shape"), NULL;
  dam_tensor *y = acc ? acc : dam_tensor_new(ex, &x[0]->shape, false);
  if (!y)
    return NULL;
  /* on the tape as two pairs, the second accumulating into the first */
  dam_node first = {"scale_pair", scale_pair_backward,
                    {x[0], s[0], x[1], s[1]}, 4, y, false, 0, NULL, NULL,
                    acc != NULL};
  dam_node second = {"scale_pair", scale_pair_backward,
                     {x[2], s[2], x[3], s[3]}, 4, y, false, 0, NULL, NULL,
                     true};
  if (!dam_tape_finish(ex, scale_sum_run(ex, 4, s, x, acc, y), &first))
    return NULL;
  return dam_tape_finish(ex, DAM_OK, &second);
}

dam_tensor *dam_scale_by(dam_exec *ex, dam_tensor *x, dam_tensor *s) {
  return dam_scale_add(ex, NULL, x, s);
}

static int scale_rows_run(dam_exec *ex, const dam_tensor *m,
                          const dam_tensor *x, dam_tensor *y, uint32_t acc) {
  const dam_tensor *t[] = {m, x, y};
  struct { uint32_t n, per_row, acc; } push = {
      (uint32_t)y->numel, (uint32_t)(y->numel / m->numel), acc};
  int err = dam__k_check("scale_rows", t + 1, 2, y->numel);
  return err ? err : dam__k_run(ex, &shader_scale_rows, t, &push, y->numel);
}

/* in = {x, m}: gx += m * gy. */
static int scale_rows_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *gx = (needs & 1u) ? dam_tensor_grad(ex, node->in[0]) : NULL;
  if (!(needs & 1u))
    return 0;
  return gx ? scale_rows_run(ex, node->in[1], node->out->grad, gx, 1)
            : DAM_ENOMEM;
}

dam_tensor *dam_scale_rows(dam_exec *ex, dam_tensor *x, const float *mask) {
  if (!x || !mask || x->shape.ndim < 1)
    return dam_fail(DAM_EINVAL, "scale_rows: NULL input"), NULL;
  dam_shape ms = dam_shape4(x->shape.dim[0], 0, 0, 0);
  dam_tensor *m = dam_tensor_new(ex, &ms, false);
  dam_tensor *y = dam_tensor_new(ex, &x->shape, false);
  if (!m || !y)
    return NULL;
  int err = dam_tensor_upload(ex, m, mask);
  if (!err)
    err = scale_rows_run(ex, m, x, y, 0);
  dam_node node = {"scale_rows", scale_rows_backward, {x, m}, 2, y, false, 0,
                   NULL, NULL};
  return dam_tape_finish(ex, err, &node);
}
