/*
 * Differentiable scalings of whole tensors: by a one-element device tensor
 * (an op's output times its architecture weight, with the gradient to the
 * weight) and by a per-image host mask (drop-path).
 */
#include "error.h"
#include "kernel_util.h"
#include "kernels.h"
#include "nn.h"
#include "part_sums.h"

#include "scale_by.spv.h"
#include "scale_grads.spv.h"
#include "scale_rows.spv.h"

DAM_SHADER_TEXEL(scale_by, 6, 0x8, 0x22, 12);
DAM_SHADER_TEXEL(scale_grads, 5, 0x18, 0x1, 8);
DAM_SHADER(scale_rows, 3, 0x4, 12);

/* y = s0 * x0 + s1 * x1 + a (x1, s1 and a optional, NULL); a may be y
 * (a node's sum accumulated in place). */
static int scale_add_run(dam_exec *ex, const dam_tensor *s0,
                         const dam_tensor *x0, const dam_tensor *s1,
                         const dam_tensor *x1, const dam_tensor *a,
                         dam_tensor *y) {
  const dam_tensor *t[] = {s0, x0, a ? a : x0, y, s1 ? s1 : s0,
                           x1 ? x1 : x0};
  const dam_tensor *checked[] = {x0, t[2], y, t[5]}, *scales[] = {s0, t[4]};
  int err = dam__k_check("scale_add", checked, 4, y->numel);
  if (!err)
    err = dam__k_check("scale_add", scales, 2, 1);
  struct { uint32_t n, has_a, has_second; } push = {
      (uint32_t)y->numel, a != NULL, x1 != NULL};
  return err ? err
             : dam__k_run(ex, &shader_scale_by, t, &push,
                          dam__k_elementwise_invocations(y->numel));
}

/* g0 += s0 * gy and g1 += s1 * gy in one dispatch, each only when given
 * (s1 with g1). */
static int term_grads(dam_exec *ex, const dam_tensor *gy,
                      const dam_tensor *s0, dam_tensor *g0,
                      const dam_tensor *s1, dam_tensor *g1) {
  if (!g0 && !g1)
    return DAM_OK;
  const dam_tensor *t[] = {gy, s0, s1 ? s1 : s0, g0 ? g0 : g1, g1 ? g1 : g0};
  int err = dam__k_check("scale_grads", t + 3, 2, gy->numel);
  struct { uint32_t n, mask; } p = {(uint32_t)gy->numel,
                                    (g0 ? 1u : 0) | (g1 ? 2u : 0)};
  return err ? err
             : dam__k_run(ex, &shader_scale_grads, t, &p,
                          dam__k_elementwise_invocations(gy->numel));
}

/* Most partial dot products behind a scale's gradient: one lane of
 * part_sums_sets adds them up. */
#define SCALE_GRAD_PARTS 512

/* gs += <gy, x>: one pass of partial dot products, added up with the
 * deferred partial sums (part_sums.c), several scales per dispatch. */
static int scale_grad(dam_exec *ex, const dam_tensor *gy, dam_tensor *x,
                      dam_tensor *s) {
  dam_tensor *gs = dam_tensor_grad(ex, s), *parts;
  uint32_t n;
  int err = gs ? dam_k_dot_parts(ex, gy, x, SCALE_GRAD_PARTS, &parts, &n)
               : DAM_ENOMEM;
  return err ? err : dam_part_sums_add(ex, parts, n, gs);
}

/* in = {x, s, a}: gx += s * gy; gs += <gy, x>; ga += gy. */
static int scale_add_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *x = node->in[0], *s = node->in[1], *gy = node->out->grad;
  int err = 0;
  if (needs & 1u) {
    dam_tensor *gx = dam_tensor_grad(ex, x);
    err = gx ? term_grads(ex, gy, s, gx, NULL, NULL) : DAM_ENOMEM;
  }
  if (!err && (needs & 2u))
    err = scale_grad(ex, gy, x, s);
  if (!err && (needs & 4u)) {
    dam_tensor *ga = dam_tensor_grad(ex, node->in[2]);
    err = ga ? dam_k_axpby(ex, 1.0f, gy, 1.0f, ga) : DAM_ENOMEM;
  }
  return err;
}

/* in = {x0, s0, x1, s1}: gx_i += s_i * gy in one dispatch; gs_i +=
 * <gy, x_i>. */
static int scale_pair_backward(dam_exec *ex, dam_node *node,
                               uint32_t needs) {
  dam_tensor **in = node->in, *gy = node->out->grad;
  dam_tensor *g0 = needs & 1u ? dam_tensor_grad(ex, in[0]) : NULL;
  dam_tensor *g1 = needs & 4u ? dam_tensor_grad(ex, in[2]) : NULL;
  if (((needs & 1u) && !g0) || ((needs & 4u) && !g1))
    return DAM_ENOMEM;
  int err = term_grads(ex, gy, in[1], g0, in[3], g1);
  if (!err && (needs & 2u))
    err = scale_grad(ex, gy, in[0], in[1]);
  if (!err && (needs & 8u))
    err = scale_grad(ex, gy, in[2], in[3]);
  return err;
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
  return dam_tape_finish(ex, scale_add_run(ex, s, x, NULL, NULL, a, y),
                         &node);
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
  return dam_tape_finish(ex, scale_add_run(ex, s, x, NULL, NULL, acc, acc),
                         &node);
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
  return dam_tape_finish(ex, scale_add_run(ex, s0, x0, s1, x1, acc, y),
                         &node);
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
