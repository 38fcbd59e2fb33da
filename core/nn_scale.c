/*
 * Differentiable scalings of whole tensors: by a one-element device tensor
 * (an op's output times its architecture weight, with the gradient to the
 * weight) and by a per-image host mask (drop-path).
 */
#include "error.h"
#include "kernel_util.h"
#include "kernels.h"
#include "nn.h"

#include "scale_by.spv.h"
#include "scale_rows.spv.h"

DAM_SHADER_TEXEL(scale_by, 4, 0x8, 0x2, 8);
DAM_SHADER(scale_rows, 3, 0x4, 12);

/* y = s * x + a (a NULL: s * x); a may be y. */
static int scale_add_run(dam_exec *ex, const dam_tensor *s, const dam_tensor *x,
                         const dam_tensor *a, dam_tensor *y) {
  const dam_tensor *t[] = {s, x, a ? a : x, y};
  int err = dam__k_check("scale_add", t + 1, 3, y->numel);
  if (!err)
    err = dam__k_check("scale_add", t, 1, 1);
  struct { uint32_t n, has_a; } push = {(uint32_t)y->numel, a != NULL};
  return err ? err
             : dam__k_run(ex, &shader_scale_by, t, &push,
                          dam__k_elementwise_invocations(y->numel));
}

/* in = {x, s, a}: gx += s * gy; gs += <gy, x>; ga += gy. */
static int scale_add_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *x = node->in[0], *s = node->in[1], *gy = node->out->grad;
  int err = 0;
  if (needs & 1u) {
    dam_tensor *gx = dam_tensor_grad(ex, x);
    err = gx ? scale_add_run(ex, s, gy, gx, gx) : DAM_ENOMEM;
  }
  if (!err && (needs & 2u)) {
    dam_tensor *gs = dam_tensor_grad(ex, s), *dot = dam_tensor_new(ex, &s->shape, false);
    err = gs && dot ? dam_k_dot(ex, gy, x, dot) : DAM_ENOMEM;
    if (!err)
      err = dam_k_broadcast_acc(ex, dot, 1.0f, NULL, gs);
    dam_tensor_release(ex, dot);
  }
  if (!err && (needs & 4u)) {
    dam_tensor *ga = dam_tensor_grad(ex, node->in[2]);
    err = ga ? dam_k_axpby(ex, 1.0f, gy, 1.0f, ga) : DAM_ENOMEM;
  }
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
  return dam_tape_finish(ex, scale_add_run(ex, s, x, a, y), &node);
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
  return dam_tape_finish(ex, scale_add_run(ex, s, x, acc, acc), &node);
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
