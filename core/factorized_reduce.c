/*
 * DARTS' factorized reduce: halve H and W while keeping information from
 * both pixel phases.  DARTS runs a 1x1 stride-2 convolution on the even
 * rows and columns and another on the odd ones, and concatenates the two
 * along channels.  Here one subsample writes both phases (offsets 0 and 1,
 * zeros past the edge so odd sizes work) as two blocks of channels of one
 * step tensor, and one 1x1 convolution with two groups, whose weights are
 * the two halves' copied together, convolves them at stride 1, where the
 * in-place 1x1 shaders take it (the strided 1x1 took the general ones,
 * 3-4x slower on the CPU): its output is already the concatenation.  The
 * phases are made again in the backward rather than kept, and a relu
 * input is read through the relu, so the reduce keeps nothing of its own
 * between the passes.
 */
#include "nn.h"

#include "conv.h"
#include "error.h"
#include "kernels.h"

#include <stdint.h>

static const dam_conv2d_geom two_groups = {.groups = 2};

/* x's two pixel phases, x[:, :, 0::2, 0::2] then x[:, :, 1::2, 1::2]
 * (zeros past the edge) along channels, in a new step tensor, read through
 * the relu where x is a relu's output; NULL on error. */
static dam_tensor *phases(dam_exec *ex, const dam_tensor *x) {
  const dam_shape *s = &x->shape;
  dam_shape zs = dam_shape4(s->dim[0], 2 * s->dim[1], (s->dim[2] + 1) / 2,
                            (s->dim[3] + 1) / 2);
  dam_tensor *z = dam_tensor_new(ex, &zs, false);
  if (!z)
    return NULL;
  int err = x->relu_of ? dam_k_subsample_relu(ex, x->relu_of, 2, 0, z)
                       : dam_k_subsample(ex, x, 2, 0, z);
  if (err) {
    dam_tensor_release(ex, z);
    return NULL;
  }
  return z;
}

/* w1 then w2 along output channels, copied into a new step tensor: the
 * weights of the two-group convolution; NULL on error. */
static dam_tensor *joined(dam_exec *ex, const dam_tensor *w1,
                          const dam_tensor *w2) {
  dam_shape js = w1->shape;
  js.dim[0] *= 2;
  dam_tensor *w = dam_tensor_new(ex, &js, false);
  if (!w)
    return NULL;
  dam_range half = dam_tensor_range(w);
  half.size /= 2;
  int err = dam_exec_copy(ex, dam_tensor_range(w1), half);
  half.offset += half.size;
  if (!err)
    err = dam_exec_copy(ex, dam_tensor_range(w2), half);
  if (err) {
    dam_tensor_release(ex, w);
    return NULL;
  }
  return w;
}

/* in: x, w1, w2 (bits 1, 2, 4 of needs). */
static int reduce_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *x = node->in[0], *gy = node->out->grad;
  dam_tensor *z = phases(ex, x), *gw[2] = {NULL, NULL}, *scratch = NULL;
  int err = z ? DAM_OK : DAM_ENOMEM;
  if (!err && (needs & 6u)) {
    /* a weight that needs no gradient takes its half into a scratch */
    for (int i = 0; i < 2 && !err; i++) {
      dam_tensor *w = node->in[1 + i];
      gw[i] = needs & (2u << i) ? dam_tensor_grad(ex, w)
                                : (scratch = dam_tensor_zeros(ex, &w->shape));
      if (!gw[i])
        err = DAM_ENOMEM;
    }
    if (!err)
      err = dam_k_conv2d_grad_weight_groups_acc(ex, z, gy, &two_groups, gw);
  }
  if (!err && (needs & 1u)) {
    dam_tensor *w = joined(ex, node->in[1], node->in[2]), *gx;
    dam_tensor *gz = dam_tensor_zeros(ex, &z->shape);
    err = !w || !gz || !(gx = dam_tensor_grad(ex, x)) ? DAM_ENOMEM : DAM_OK;
    if (!err)
      err = dam_k_conv2d_grad_input_acc(ex, gy, w, &two_groups, gz);
    if (!err)
      err = dam_k_subsample_backward_acc(ex, gz, 2, 0, gx);
    dam_tensor_release(ex, gz);
    dam_tensor_release(ex, w);
  }
  dam_tensor_release(ex, scratch);
  dam_tensor_release(ex, z);
  return err;
}

dam_tensor *dam_factorized_reduce(dam_exec *ex, dam_tensor *x, dam_tensor *w1,
                                  dam_tensor *w2) {
  if (!x || !w1 || !w2)
    return dam_fail(DAM_EINVAL, "factorized_reduce: NULL input"), NULL;
  if (x->shape.ndim != 4 || !dam_shape_equal(&w1->shape, &w2->shape))
    return dam_fail(DAM_ESHAPE, "factorized_reduce: input is not 4-D, or "
                    "the two halves' weights differ in shape"), NULL;
  dam_tensor *z = phases(ex, x), *w = z ? joined(ex, w1, w2) : NULL;
  dam_shape ys;
  if (!w || dam_conv2d_out_shape(&z->shape, &w->shape, &two_groups, &ys)) {
    dam_tensor_release(ex, w);
    dam_tensor_release(ex, z);
    return NULL;
  }
  dam_tensor *y = dam_tensor_new(ex, &ys, false);
  ex->stats.flops += 2ull * dam_shape_numel(&ys) * w1->shape.dim[1];
  /* Like a conv's, the node reads a relu's input, not its output. */
  dam_node n = {"factorized_reduce", reduce_backward, {x, w1, w2}, 3, y,
                false, 0.0f, 0, 0, false,
                DAM_NODE_OUT | (x->relu_of ? 1u : 0)};
  int err = y ? dam_k_conv2d(ex, z, w, &two_groups, y) : DAM_ENOMEM;
  dam_tensor_release(ex, w);
  dam_tensor_release(ex, z);
  return dam_tape_finish(ex, err, &n);
}
