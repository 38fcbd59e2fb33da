/* Forward and backward of the differentiable network layers. */
#include "nn.h"

#include "channels.h"
#include "error.h"
#include "gather.h"
#include "kernels.h"
#include "linear.h"
#include "loss.h"

#include <stdlib.h>
#include <string.h>

/* What a layer's node keeps besides its inputs. */
typedef struct layer_data {
  union {
    dam_conv2d_geom conv;
    dam_pool_args pool;
    uint32_t c0;
    float eps;
  } u;
  dam_tensor *saved[2]; /* step tensors: BN mean/invstd, softmax probs */
} layer_data;

static layer_data *data_new(void) {
  layer_data *d = calloc(1, sizeof *d);
  if (!d)
    dam_fail(DAM_ENOMEM, "out of memory");
  return d;
}

static dam_tensor *output(dam_exec *ex, dam_shape s) {
  return dam_tensor_new(ex, &s, false);
}

/* The gradient of node->in[i], created on first use; NULL sets ENOMEM. */
static dam_tensor *grad_of(dam_exec *ex, dam_node *node, uint32_t i) {
  return dam_tensor_grad(ex, node->in[i]);
}

/* A relu's output as input (x->relu_of) is read through the relu's input;
 * depthwise convs fold the relu's backward into theirs. */
static int conv_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  const dam_conv2d_geom *g = &((layer_data *)node->data)->u.conv;
  dam_tensor *gy = node->out->grad, *x = node->in[0], *w = node->in[1];
  dam_tensor *src = x->relu_of, *gx = NULL, *gw = NULL;
  bool fold = src && dam_k_conv2d_folds_relu(ex, &x->shape, &w->shape, g);
  if (((needs & 1u) && !(gx = dam_tensor_grad(ex, fold ? src : x))) ||
      ((needs & 2u) && !(gw = grad_of(ex, node, 1))))
    return DAM_ENOMEM;
  if (!src || fold) /* one input (the relu's, read through it) for both */
    return dam_k_conv2d_backward_acc(ex, fold ? src : x, fold, w, g, gy, gx,
                                     gw);
  int err = gx ? dam_k_conv2d_grad_input_acc(ex, gy, w, g, gx) : 0;
  return err || !gw ? err
                    : dam_k_conv2d_grad_weight_relu_acc(ex, src, gy, g, gw);
}

dam_tensor *dam_conv2d(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                       const dam_conv2d_geom *g) {
  dam_shape s;
  layer_data *d;
  if (!x || !w)
    return dam_fail(DAM_EINVAL, "conv2d: NULL input"), NULL;
  if (dam_conv2d_out_shape(&x->shape, &w->shape, g, &s) || !(d = data_new()))
    return NULL;
  d->u.conv = *g;
  dam_tensor *y = output(ex, s);
  ex->stats.flops += 2ull * dam_shape_numel(&s) * w->shape.dim[1] *
                     w->shape.dim[2] * w->shape.dim[3];
  /* A relu's output is read through its input, forward and backward, so
   * it need not exist. */
  dam_node n = {"conv2d", conv_backward, {x, w}, 2, y, false, 0, d, free,
                false, DAM_NODE_OUT | (x->relu_of ? 1u : 0)};
  int err = !y           ? DAM_ENOMEM
            : x->relu_of ? dam_k_conv2d_relu(ex, x->relu_of, w, g, y)
                         : dam_k_conv2d(ex, x, w, g, y);
  return dam_tape_finish(ex, err, &n);
}

static int pool_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  dam_tensor *gx = grad_of(ex, node, 0);
  return gx ? dam_k_pool2d_backward(ex, node->in[0], node->out->grad,
                                    &((layer_data *)node->data)->u.pool, gx)
            : DAM_ENOMEM;
}

/* The shared pool of x with a's arguments (dam_share_begin), or
 * NULL. */
static dam_tensor *shared_pool(const dam_exec *ex, const dam_tensor *x,
                               const dam_pool_args *a) {
  const dam_share *sh = ex->share;
  for (uint32_t i = 0; sh && i < sh->n_pooled; i++)
    if (sh->pooled[i].x == x && !memcmp(&sh->pooled[i].a, a, sizeof *a) &&
        sh->pooled[i].y->mem.block)
      return sh->pooled[i].y;
  return NULL;
}

dam_tensor *dam_pool2d(dam_exec *ex, dam_tensor *x, const dam_pool_args *a) {
  dam_shape s;
  layer_data *d;
  if (!x)
    return dam_fail(DAM_EINVAL, "pool2d: NULL input"), NULL;
  dam_tensor *y = shared_pool(ex, x, a);
  if (y)
    return y;
  if (dam_pool2d_shape(&x->shape, a, &s) || !(d = data_new()))
    return NULL;
  d->u.pool = *a;
  y = output(ex, s);
  dam_node n = {"pool2d", pool_backward, {x}, 1, y, false, 0, d, free,
                false, DAM_NODE_OUT};
  y = dam_tape_finish(ex, y ? dam_k_pool2d(ex, x, a, y) : DAM_ENOMEM, &n);
  dam_share *sh = ex->share;
  if (y && sh && sh->n_pooled < DAM_SHARE_MAX) {
    sh->pooled[sh->n_pooled].x = x;
    sh->pooled[sh->n_pooled].a = *a;
    sh->pooled[sh->n_pooled++].y = y;
  }
  return y;
}

void dam_share_begin(dam_exec *ex, dam_share *share) {
  share->n_pooled = share->n_phased = 0;
  ex->share = share;
}

void dam_share_end(dam_exec *ex) { ex->share = NULL; }

/* Without gamma and beta an output that was made is xhat itself, and the
 * backward reads it rather than x (which its node marks unread, so a scope
 * may release x once the output is made: dam_scope_close). */
static int bn_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  layer_data *d = node->data;
  dam_tensor *g[3] = {NULL, NULL, NULL};
  for (uint32_t i = 0; i < 3; i++)
    if ((needs & (1u << i)) && !(g[i] = grad_of(ex, node, i)))
      return DAM_ENOMEM;
  dam_tensor *y = node->out;
  if (node->unread & 1u && y->mem.block)
    return dam_k_batchnorm_backward_xhat(ex, y, y->grad, d->saved[1], g[0]);
  return dam_k_batchnorm_backward(ex, node->in[0], y->grad, node->in[1],
                                  d->saved[0], d->saved[1], g[0], g[1], g[2]);
}

/* Inference form: gx += gy * gamma / sqrt(running_var + eps), the same
 * per-channel affine map applied to gy with a zero mean and no shift. */
static int bn_eval_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  layer_data *d = node->data;
  dam_tensor *gy = node->out->grad, *gx = grad_of(ex, node, 0);
  dam_shape c = dam_shape4(node->in[0]->shape.dim[1], 0, 0, 0);
  dam_tensor *zero = output(ex, c), *t = output(ex, gy->shape);
  int err = gx && zero && t ? dam_k_fill(ex, zero, 0.0f) : DAM_ENOMEM;
  if (!err)
    err = dam_k_batchnorm_eval(ex, gy, d->saved[0], NULL, zero, d->saved[1],
                               d->u.eps, t);
  if (!err)
    err = dam_k_axpby(ex, 1.0f, t, 1.0f, gx);
  dam_tensor_release(ex, zero);
  dam_tensor_release(ex, t);
  return err;
}

dam_tensor *dam_batchnorm(dam_exec *ex, dam_tensor *x, dam_tensor *gamma,
                          dam_tensor *beta, dam_tensor *running_mean,
                          dam_tensor *running_var, const dam_bn_args *a,
                          bool training) {
  if (!x)
    return dam_fail(DAM_EINVAL, "batchnorm: NULL input"), NULL;
  dam_tensor *y = output(ex, x->shape);
  if (!y)
    return NULL;
  if (!training) {
    layer_data *d = data_new();
    if (!d)
      return NULL;
    d->saved[0] = gamma;
    d->saved[1] = running_var;
    d->u.eps = a->eps;
    dam_node n = {"batchnorm_eval", bn_eval_backward, {x}, 1, y, false, 0,
                  d, free, false, 1u | DAM_NODE_OUT};
    return dam_tape_finish(ex,
                           dam_k_batchnorm_eval(ex, x, gamma, beta,
                                                running_mean, running_var,
                                                a->eps, y),
                           &n);
  }
  /* The output's contents are a recipe (dam_tensor.bn_of): a node sum
   * reads x through the coefficients; any other reader makes them. */
  layer_data *d = data_new();
  if (!d)
    return NULL;
  dam_shape c = dam_shape4(x->shape.dim[1], 0, 0, 0);
  dam_shape c4 = dam_shape4(4 * x->shape.dim[1], 0, 0, 0);
  d->saved[0] = output(ex, c);
  d->saved[1] = output(ex, c);
  dam_tensor *coef = output(ex, c4);
  int err = d->saved[0] && d->saved[1] && coef
                ? dam_k_batchnorm_stats(ex, x, gamma, beta, running_mean,
                                        running_var, a, d->saved[0],
                                        d->saved[1], coef)
                : DAM_ENOMEM;
  dam_tensor_release(ex, y);
  y->bn_of = x;
  y->bn_coef = coef;
  if (!gamma && !beta) {
    y->bn_stats[0] = d->saved[0];
    y->bn_stats[1] = d->saved[1];
  }
  dam_node n = {"batchnorm", bn_backward, {x, gamma, beta}, 3, y, false, 0,
                d, free, false, gamma || beta ? DAM_NODE_OUT : 1u};
  return dam_tape_finish(ex, err, &n);
}

static int concat_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *g[DAM_NODE_INPUTS];
  uint32_t channels[DAM_NODE_INPUTS];
  for (uint32_t i = 0; i < node->n_in; i++) {
    channels[i] = node->in[i]->shape.dim[1];
    g[i] = NULL;
    if ((needs & (1u << i)) && !(g[i] = grad_of(ex, node, i)))
      return DAM_ENOMEM;
  }
  return dam_k_channel_split_acc(ex, node->out->grad, g, channels,
                                 node->n_in);
}

dam_tensor *dam_concat(dam_exec *ex, dam_tensor *const *xs, uint32_t n) {
  if (n < 1 || n > DAM_NODE_INPUTS || !xs[0])
    return dam_fail(DAM_EINVAL, "concat: %u inputs (1 to %d)", n,
                    DAM_NODE_INPUTS), NULL;
  dam_shape s = xs[0]->shape;
  s.dim[1] = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!xs[i])
      return dam_fail(DAM_EINVAL, "concat: input %u is NULL", i), NULL;
    s.dim[1] += xs[i]->shape.dim[1];
  }
  dam_tensor *y = output(ex, s);
  int err = y ? dam_k_channel_concat(ex, (const dam_tensor *const *)xs, n, y)
              : DAM_ENOMEM;
  dam_node node = {"concat", concat_backward, {0}, n, y, false, 0, 0, 0,
                   false, DAM_NODE_OUT | ((1u << n) - 1)};
  memcpy(node.in, xs, n * sizeof *xs);
  return dam_tape_finish(ex, err, &node);
}

static int slice_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  dam_tensor *g = grad_of(ex, node, 0);
  return g ? dam_k_channel_copy(ex, node->out->grad, 0, g,
                                ((layer_data *)node->data)->u.c0,
                                node->out->shape.dim[1], true)
           : DAM_ENOMEM;
}

dam_tensor *dam_slice(dam_exec *ex, dam_tensor *x, uint32_t c0,
                      uint32_t count) {
  layer_data *d;
  if (!x)
    return dam_fail(DAM_EINVAL, "slice: NULL input"), NULL;
  if (!(d = data_new()))
    return NULL;
  d->u.c0 = c0;
  dam_shape s = x->shape;
  s.dim[1] = count;
  dam_tensor *y = output(ex, s);
  dam_node n = {"slice", slice_backward, {x}, 1, y, false, 0, d, free,
                false, 1u | DAM_NODE_OUT};
  return dam_tape_finish(
      ex, y ? dam_k_channel_copy(ex, x, c0, y, 0, count, false) : DAM_ENOMEM,
      &n);
}

static int gap_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  dam_tensor *g = grad_of(ex, node, 0);
  return g ? dam_k_global_avg_pool_backward(ex, node->out->grad, g)
           : DAM_ENOMEM;
}

dam_tensor *dam_global_avg_pool(dam_exec *ex, dam_tensor *x) {
  if (!x)
    return dam_fail(DAM_EINVAL, "global_avg_pool: NULL input"), NULL;
  dam_tensor *y = output(ex, dam_shape4(x->shape.dim[0], x->shape.dim[1],
                                        0, 0));
  dam_node n = {"global_avg_pool", gap_backward, {x}, 1, y, false, 0, 0, 0,
                false, 1u | DAM_NODE_OUT};
  return dam_tape_finish(
      ex, y ? dam_k_global_avg_pool(ex, x, y) : DAM_ENOMEM, &n);
}

static int linear_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *gy = node->out->grad, *gx, *gw, *gb = NULL;
  if (needs & 1u) {
    if (!(gx = grad_of(ex, node, 0)))
      return DAM_ENOMEM;
    int err = dam_k_linear_grad_input(ex, gy, node->in[1], gx);
    if (err)
      return err;
  }
  if (!(needs & 6u))
    return 0;
  if (!(gw = grad_of(ex, node, 1)) ||
      (node->in[2] && !(gb = grad_of(ex, node, 2))))
    return DAM_ENOMEM;
  return dam_k_linear_grad_weight(ex, node->in[0], gy, gw, gb);
}

dam_tensor *dam_linear(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                       dam_tensor *b) {
  if (!x || !w)
    return dam_fail(DAM_EINVAL, "linear: NULL input"), NULL;
  dam_tensor *y = output(ex, dam_shape4(x->shape.dim[0], w->shape.dim[0],
                                        0, 0));
  dam_node n = {"linear", linear_backward, {x, w, b}, 3, y, false, 0, 0, 0};
  ex->stats.flops += 2ull * x->numel * w->shape.dim[0];
  return dam_tape_finish(ex, y ? dam_k_linear(ex, x, w, b, y) : DAM_ENOMEM,
                         &n);
}

static int xent_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  layer_data *d = node->data;
  dam_tensor *g = grad_of(ex, node, 0);
  return g ? dam_k_softmax_xent_backward(ex, d->saved[0], d->saved[1],
                                         node->out->grad, g)
           : DAM_ENOMEM;
}

dam_tensor *dam_softmax_xent(dam_exec *ex, dam_tensor *logits,
                             dam_tensor *labels) {
  layer_data *d;
  if (!logits || !labels)
    return dam_fail(DAM_EINVAL, "softmax_xent: NULL input"), NULL;
  if (!(d = data_new()))
    return NULL;
  dam_tensor *y = output(ex, dam_shape4(logits->shape.dim[0], 0, 0, 0));
  d->saved[0] = output(ex, logits->shape);
  d->saved[1] = labels;
  int err = y && d->saved[0]
                ? dam_k_softmax_xent(ex, logits, labels, y, d->saved[0])
                : DAM_ENOMEM;
  dam_node n = {"softmax_xent", xent_backward, {logits}, 1, y, false, 0, d,
                free};
  return dam_tape_finish(ex, err, &n);
}

/* node->in = {x, the inverse permutation}. */
static int permute_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  dam_tensor *g = grad_of(ex, node, 0);
  return g ? dam_k_gather_rows(ex, node->out->grad, node->in[1], g, true)
           : DAM_ENOMEM;
}

dam_tensor *dam_permute_rows(dam_exec *ex, dam_tensor *x,
                             const uint32_t *perm) {
  if (!x || !perm)
    return dam_fail(DAM_EINVAL, "permute_rows: NULL input"), NULL;
  uint32_t n = x->shape.dim[0];
  uint32_t *inv = malloc((size_t)n * sizeof *inv);
  if (!inv)
    return dam_fail(DAM_ENOMEM, "out of memory"), NULL;
  for (uint32_t i = 0; i < n; i++)
    inv[i] = n;
  for (uint32_t j = 0; j < n; j++)
    if (perm[j] < n && inv[perm[j]] == n)
      inv[perm[j]] = j;
  for (uint32_t i = 0; i < n; i++)
    if (inv[i] == n) {
      free(inv);
      return dam_fail(DAM_EINVAL, "permute_rows: not a permutation of %u "
                      "rows", n), NULL;
    }
  dam_tensor *idx = dam_uint_tensor(ex, perm, n);
  dam_tensor *back = idx ? dam_uint_tensor(ex, inv, n) : NULL;
  free(inv);
  dam_tensor *y = back ? output(ex, x->shape) : NULL;
  dam_node node = {"permute_rows", permute_backward, {x, back}, 2, y,
                   false, 0, 0, 0};
  return dam_tape_finish(
      ex, y ? dam_k_gather_rows(ex, x, idx, y, false) : DAM_ENOMEM, &node);
}
