/*
 * DARTS' factorized reduce: halve H and W while keeping information from
 * both pixel phases.  One 1x1 stride-2 convolution reads the even rows and
 * columns; the other reads the odd ones, through a subsampling kernel with
 * offset 1 (zeros past the edge, so odd sizes work), then a 1x1 stride-1
 * convolution.  Both halves are concatenated along channels.
 */
#include "nn.h"

#include "error.h"
#include "kernels.h"

#include <stdint.h>

static int subsample_grad(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  dam_tensor *gx = dam_tensor_grad(ex, node->in[0]);
  return gx ? dam_k_subsample_backward_acc(ex, node->out->grad, 2, 1, gx)
            : DAM_ENOMEM;
}

/* x[:, :, 1::2, 1::2] padded with zeros to ceil(H/2) x ceil(W/2). */
static dam_tensor *odd_phase(dam_exec *ex, dam_tensor *x) {
  const dam_shape *s = &x->shape;
  dam_shape ys = dam_shape4(s->dim[0], s->dim[1], (s->dim[2] + 1) / 2,
                            (s->dim[3] + 1) / 2);
  dam_tensor *y = dam_tensor_new(ex, &ys, false);
  if (!y)
    return NULL;
  int err = dam_k_subsample(ex, x, 2, 1, y);
  dam_node n = {"subsample", subsample_grad, {x}, 1, y, false, 0, 0, 0,
                false, 1u | DAM_NODE_OUT};
  return dam_tape_finish(ex, err, &n);
}

dam_tensor *dam_factorized_reduce(dam_exec *ex, dam_tensor *x, dam_tensor *w1,
                                  dam_tensor *w2) {
  if (!x || !w1 || !w2)
    return dam_fail(DAM_EINVAL, "factorized_reduce: NULL input"), NULL;
  if (x->shape.ndim != 4)
    return dam_fail(DAM_ESHAPE, "factorized_reduce: input is not 4-D"),
           NULL;
  dam_conv2d_geom even = {.stride = {2, 2}}, one = {0};
  dam_tensor *z = odd_phase(ex, x);
  dam_tensor *halves[2] = {dam_conv2d(ex, x, w1, &even),
                           z ? dam_conv2d(ex, z, w2, &one) : NULL};
  if (!halves[0] || !halves[1])
    return NULL;
  return dam_concat(ex, halves, 2);
}
