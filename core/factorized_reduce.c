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
 * phases are a node of their own, kept for the backward and shared by the
 * reduces of one input (dam_share_begin: a reduction cell's edges from
 * one state), so the input is split once forward and its gradient
 * scattered back once; a relu input is read through the relu.
 */
#include "nn.h"

#include "conv.h"
#include "error.h"
#include "kernels.h"

#include <stdint.h>

static const dam_conv2d_geom two_groups = {.groups = 2};

/* gz scattered back to x's pixels: the phases' backward, which reads
 * nothing of x.  Where x is a relu's output the scatter goes through the
 * relu, into its input's gradient, as the depthwise convs' backward does,
 * so x's own gradient need not be made. */
static int phases_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  (void)needs;
  dam_tensor *x = node->in[0], *src = x->relu_of, *gz = node->out->grad;
  dam_tensor *gx = dam_tensor_grad(ex, src ? src : x);
  if (!gx)
    return DAM_ENOMEM;
  return src ? dam_k_subsample_backward_relu_acc(ex, gz, 2, 0, src, gx)
             : dam_k_subsample_backward_acc(ex, gz, 2, 0, gx);
}

/* The phases of x split while sharing (dam_share_begin), or NULL. */
static dam_tensor *shared_phases(const dam_exec *ex, const dam_tensor *x) {
  const dam_share *sh = ex->share;
  for (uint32_t i = 0; sh && i < sh->n_phased; i++)
    if (sh->phased[i].x == x && sh->phased[i].z->mem.block)
      return sh->phased[i].z;
  return NULL;
}

/* x's two pixel phases, x[:, :, 0::2, 0::2] then x[:, :, 1::2, 1::2]
 * (zeros past the edge) along channels, in a step tensor, read through
 * the relu where x is a relu's output; recorded, and shared, when x needs
 * a gradient.  NULL on error. */
static dam_tensor *phases(dam_exec *ex, dam_tensor *x) {
  dam_tensor *z = shared_phases(ex, x);
  if (z)
    return z;
  const dam_shape *s = &x->shape;
  dam_shape zs = dam_shape4(s->dim[0], 2 * s->dim[1], (s->dim[2] + 1) / 2,
                            (s->dim[3] + 1) / 2);
  z = dam_tensor_new(ex, &zs, false);
  int err = !z           ? DAM_ENOMEM
            : x->relu_of ? dam_k_subsample_relu(ex, x->relu_of, 2, 0, z)
                         : dam_k_subsample(ex, x, 2, 0, z);
  dam_node n = {"phases", phases_backward, {x}, 1, z, false, 0.0f, 0, 0,
                false, DAM_NODE_OUT | 1u, true};
  z = dam_tape_finish(ex, err, &n);
  dam_share *sh = ex->share;
  if (z && z->requires_grad && sh && sh->n_phased < DAM_SHARE_MAX) {
    sh->phased[sh->n_phased].x = x;
    sh->phased[sh->n_phased++].z = z;
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

/* in: the phases z, w1, w2 (bits 1, 2, 4 of needs). */
static int reduce_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  dam_tensor *z = node->in[0], *gy = node->out->grad;
  dam_tensor *gw[2] = {NULL, NULL}, *scratch = NULL;
  int err = DAM_OK;
  if (needs & 6u) {
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
    dam_tensor *w = joined(ex, node->in[1], node->in[2]);
    dam_tensor *gz = dam_tensor_grad(ex, z);
    err = w && gz ? dam_k_conv2d_grad_input_acc(ex, gy, w, &two_groups, gz)
                  : DAM_ENOMEM;
    dam_tensor_release(ex, w);
  }
  dam_tensor_release(ex, scratch);
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
  dam_tensor *y = NULL;
  dam_shape ys;
  if (w && !dam_conv2d_out_shape(&z->shape, &w->shape, &two_groups, &ys)) {
    y = dam_tensor_new(ex, &ys, false);
    ex->stats.flops += 2ull * dam_shape_numel(&ys) * w1->shape.dim[1];
    dam_node n = {"factorized_reduce", reduce_backward, {z, w1, w2}, 3, y,
                  false, 0.0f, 0, 0, false, DAM_NODE_OUT};
    y = dam_tape_finish(ex, y ? dam_k_conv2d(ex, z, w, &two_groups, y)
                              : DAM_ENOMEM, &n);
  }
  dam_tensor_release(ex, w);
  if (z && !z->requires_grad && !(y && y->requires_grad))
    dam_tensor_release(ex, z); /* no backward reads it */
  return y;
}
