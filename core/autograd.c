/* Forward and backward of the differentiable core operations. */
#include "autograd.h"
#include "error.h"
#include "kernels.h"

/* Accumulate d(loss)/d(in[i]) into g, given node->out->grad. */
typedef int (*input_grad_fn)(dam_exec *ex, dam_node *node, uint32_t i,
                             dam_tensor *g);

static int for_each_needed(dam_exec *ex, dam_node *node, uint32_t needs,
                           input_grad_fn f) {
  for (uint32_t i = 0; i < node->n_in; i++) {
    if (!(needs & (1u << i)))
      continue;
    dam_tensor *g = dam_tensor_grad(ex, node->in[i]);
    int err = g ? f(ex, node, i, g) : DAM_ENOMEM;
    if (err)
      return err;
  }
  return DAM_OK;
}

static int add_grad(dam_exec *ex, dam_node *node, uint32_t i, dam_tensor *g) {
  (void)i;
  return dam_k_axpby(ex, 1.0f, node->out->grad, 1.0f, g);
}

static int mul_grad(dam_exec *ex, dam_node *node, uint32_t i, dam_tensor *g) {
  return dam_k_mul_acc(ex, node->out->grad, node->in[1 - i], g);
}

static int scale_grad(dam_exec *ex, dam_node *node, uint32_t i,
                      dam_tensor *g) {
  (void)i;
  return dam_k_axpby(ex, node->scalar, node->out->grad, 1.0f, g);
}

static int relu_grad(dam_exec *ex, dam_node *node, uint32_t i,
                     dam_tensor *g) {
  (void)i;
  return dam_k_relu_backward(ex, node->in[0], node->out->grad, g);
}

static int sum_grad(dam_exec *ex, dam_node *node, uint32_t i, dam_tensor *g) {
  (void)i;
  return dam_k_broadcast_acc(ex, node->out->grad, 1.0f, NULL, g);
}

static int dot_grad(dam_exec *ex, dam_node *node, uint32_t i, dam_tensor *g) {
  return dam_k_broadcast_acc(ex, node->out->grad, 1.0f, node->in[1 - i], g);
}

#define BACKWARD(NAME)                                                      \
  static int NAME##_backward(dam_exec *ex, dam_node *node, uint32_t needs) { \
    return for_each_needed(ex, node, needs, NAME##_grad);                    \
  }
BACKWARD(add)
BACKWARD(mul)
BACKWARD(scale)
BACKWARD(relu)
BACKWARD(sum)
BACKWARD(dot)

static dam_tensor *finish(dam_exec *ex, int err, dam_node node) {
  return dam_tape_finish(ex, err, &node);
}

static dam_tensor *like(dam_exec *ex, const dam_tensor *x) {
  return x ? dam_tensor_new(ex, &x->shape, false)
           : (dam_fail(DAM_EINVAL, "NULL input"), NULL);
}

static dam_tensor *scalar(dam_exec *ex) {
  dam_shape s = dam_shape4(1, 0, 0, 0);
  return dam_tensor_new(ex, &s, false);
}

dam_tensor *dam_add(dam_exec *ex, dam_tensor *a, dam_tensor *b) {
  dam_tensor *y = like(ex, a);
  if (!y)
    return NULL;
  return finish(ex, dam_k_add(ex, a, b, y),
                (dam_node){"add", add_backward, {a, b}, 2, y, false, 0, 0, 0});
}

dam_tensor *dam_mul(dam_exec *ex, dam_tensor *a, dam_tensor *b) {
  dam_tensor *y = like(ex, a);
  if (!y)
    return NULL;
  return finish(ex, dam_k_mul(ex, a, b, y),
                (dam_node){"mul", mul_backward, {a, b}, 2, y, false, 0, 0, 0});
}

dam_tensor *dam_scale(dam_exec *ex, dam_tensor *x, float alpha) {
  dam_tensor *y = like(ex, x);
  if (!y)
    return NULL;
  return finish(ex, dam_k_axpby(ex, alpha, x, 0.0f, y),
                (dam_node){"scale", scale_backward, {x}, 1, y, false, alpha, 0, 0});
}

dam_tensor *dam_relu_recorded(const dam_exec *ex, const dam_tensor *x) {
  const dam_tape *tape = ex->tape;
  for (uint32_t i = tape ? tape->n : 0; i-- > 0;) {
    const dam_node *n = &tape->nodes[i];
    if (n->out == x && n->accumulates)
      return NULL;
    if (n->backward == relu_backward && n->in[0] == x)
      return n->out;
  }
  return NULL;
}

dam_tensor *dam_relu(dam_exec *ex, dam_tensor *x) {
  dam_tensor *y = x ? dam_relu_recorded(ex, x) : NULL;
  if (y)
    return y;
  if (x && !dam_tensor_readable(x))
    return dam_fail(DAM_EINVAL, "relu: the input was released"), NULL;
  y = like(ex, x);
  if (!y)
    return NULL;
  dam_tensor_release(ex, y); /* made when first read (relu_of) */
  y->relu_of = x;
  return finish(ex, DAM_OK,
                (dam_node){"relu", relu_backward, {x}, 1, y, false, 0, 0, 0,
                           false, DAM_NODE_OUT, true});
}

dam_tensor *dam_sum(dam_exec *ex, dam_tensor *x) {
  dam_tensor *y = scalar(ex);
  if (!y)
    return NULL;
  return finish(ex, dam_k_sum(ex, x, y),
                (dam_node){"sum", sum_backward, {x}, 1, y, false, 0, 0, 0});
}

dam_tensor *dam_dot(dam_exec *ex, dam_tensor *a, dam_tensor *b) {
  dam_tensor *y = scalar(ex);
  if (!y)
    return NULL;
  return finish(ex, dam_k_dot(ex, a, b, y),
                (dam_node){"dot", dot_backward, {a, b}, 2, y, false, 0, 0, 0});
}
