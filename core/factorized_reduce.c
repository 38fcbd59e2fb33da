/*
 * DARTS' factorized reduce: halve H and W while keeping information from
 * both pixel phases.  DARTS runs a 1x1 stride-2 convolution on the even
 * rows and columns and another on the odd ones.  Here each half is one
 * tape node that subsamples its phase (offset 0 or 1, zeros past the edge
 * so odd sizes work) into a step tensor and convolves it at stride 1, where
 * the in-place 1x1 shaders take it (the strided 1x1 took the general ones,
 * 3-4x slower on the CPU).  The phase is made again in the backward rather
 * than kept, and a relu input is read through the relu, so the reduce
 * keeps nothing of its own between the passes.  Both halves are
 * concatenated along channels.
 */
#include "nn.h"

#include "error.h"
#include "kernels.h"

#include <stdint.h>

/* x's pixel phase `offset` (x[:, :, offset::2, offset::2], zeros past the
 * edge) in a new step tensor, read through the relu where x is a relu's
 * output; NULL on error. */
static dam_tensor *phase(dam_exec *ex, const dam_tensor *x, uint32_t offset) {
  const dam_shape *s = &x->shape;
  dam_shape zs = dam_shape4(s->dim[0], s->dim[1], (s->dim[2] + 1) / 2,
                            (s->dim[3] + 1) / 2);
  dam_tensor *z = dam_tensor_new(ex, &zs, false);
  if (!z)
    return NULL;
  int err = x->relu_of ? dam_k_subsample_relu(ex, x->relu_of, 2, offset, z)
                       : dam_k_subsample(ex, x, 2, offset, z);
  if (err) {
    dam_tensor_release(ex, z);
    return NULL;
  }
  return z;
}

static int half_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *x = node->in[0], *w = node->in[1], *gy = node->out->grad;
  uint32_t offset = (uint32_t)node->scalar;
  dam_conv2d_geom one = {0};
  dam_tensor *z = phase(ex, x, offset), *gz = NULL, *gw, *gx;
  int err = z ? DAM_OK : DAM_ENOMEM;
  if (!err && (needs & 2u))
    err = !(gw = dam_tensor_grad(ex, w))
              ? DAM_ENOMEM
              : dam_k_conv2d_grad_weight_acc(ex, z, gy, &one, gw);
  if (!err && (needs & 1u)) {
    gz = dam_tensor_new(ex, &z->shape, false);
    err = !gz || !(gx = dam_tensor_grad(ex, x))
              ? DAM_ENOMEM
              : dam_exec_zero(ex, dam_tensor_range(gz));
    if (!err)
      err = dam_k_conv2d_grad_input_acc(ex, gy, w, &one, gz);
    if (!err)
      err = dam_k_subsample_backward_acc(ex, gz, 2, offset, gx);
  }
  dam_tensor_release(ex, gz);
  dam_tensor_release(ex, z);
  return err;
}

/* The 1x1 convolution by w of x's pixel phase `offset`. */
static dam_tensor *half(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                        uint32_t offset) {
  dam_conv2d_geom one = {0};
  dam_tensor *z = phase(ex, x, offset);
  dam_shape ys;
  if (!z || dam_conv2d_out_shape(&z->shape, &w->shape, &one, &ys)) {
    dam_tensor_release(ex, z);
    return NULL;
  }
  dam_tensor *y = dam_tensor_new(ex, &ys, false);
  ex->stats.flops += 2ull * dam_shape_numel(&ys) * w->shape.dim[1];
  /* Like a conv's, the node reads a relu's input, not its output. */
  dam_node n = {"factorized_reduce", half_backward, {x, w}, 2, y, false,
                (float)offset, 0, 0, false,
                DAM_NODE_OUT | (x->relu_of ? 1u : 0)};
  int err = y ? dam_k_conv2d(ex, z, w, &one, y) : DAM_ENOMEM;
  dam_tensor_release(ex, z);
  return dam_tape_finish(ex, err, &n);
}

dam_tensor *dam_factorized_reduce(dam_exec *ex, dam_tensor *x, dam_tensor *w1,
                                  dam_tensor *w2) {
  if (!x || !w1 || !w2)
    return dam_fail(DAM_EINVAL, "factorized_reduce: NULL input"), NULL;
  if (x->shape.ndim != 4)
    return dam_fail(DAM_ESHAPE, "factorized_reduce: input is not 4-D"),
           NULL;
  dam_tensor *halves[2] = {half(ex, x, w1, 0), NULL};
  if (!halves[0] || !(halves[1] = half(ex, x, w2, 1)))
    return NULL;
  return dam_concat(ex, halves, 2);
}
