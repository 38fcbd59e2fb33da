/*
 * Pooling kernels (NCHW, fp32): 2-D max and average pooling with a square
 * window, stride and zero padding, and global average pooling, each with
 * its backward.  Like the other core kernels they record dispatches into
 * `ex`, never wait and do not touch the autograd tape.  All tensors must be
 * contiguous; nothing is recorded when a kernel returns an error.
 */
#ifndef DAM_POOL_H
#define DAM_POOL_H

#include "tensor.h"

/* dam_pool_args and its kinds DAM_POOL_MAX / DAM_POOL_AVG are the SDK's
 * (diffautoml/plugin.h): plugins pass them to the host's nn_pool2d. */

/* The output shape of pooling an input of shape x [N, C, H, W]:
 * [N, C, (H + 2 pad - kernel) / stride + 1, (W + 2 pad - kernel) / stride
 * + 1].  DAM_EINVAL for a NULL argument, an unknown kind, kernel 0,
 * stride 0, pad >= kernel, or an empty output; DAM_ESHAPE when x is not
 * 4-D.  The message names the shape and the arguments. */
int dam_pool2d_shape(const dam_shape *x, const dam_pool_args *a, dam_shape *y);

/* y = pool(x), y is only written.  Max: padding never wins (as -inf).
 * Avg: each window's sum is divided by the count of its in-bounds elements
 * (PyTorch's count_include_pad=False).  Errors as dam_pool2d_shape, and
 * DAM_ESHAPE when y's shape is not the output shape, DAM_EINVAL for a NULL
 * or non-contiguous tensor, DAM_ERANGE past 2^32 elements. */
int dam_k_pool2d(dam_exec *ex, const dam_tensor *x, const dam_pool_args *a,
                 dam_tensor *y);

/* gx += (d pool(x) / dx)^T gy, with gx of x's shape and gy of y's shape.
 * Max routes each window's gradient to the first maximum in row-major
 * window order (as PyTorch; an all -inf window's to its first in-bounds
 * element); avg spreads it evenly over the in-bounds elements.  Each gx
 * element gathers from the windows that contain it, so no atomics are
 * needed; max over windows other than 3 x 3 with padding 1 and stride 1
 * or 2 first records each window's winner in a step tensor.  Errors as
 * dam_k_pool2d, with gy in y's place (x is read only for max but must
 * always be given). */
int dam_k_pool2d_backward(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gy, const dam_pool_args *a,
                          dam_tensor *gx);

/* y = mean over H, W of x [N, C, H, W], y is only written and has shape
 * [N, C] or [N, C, 1, 1].  DAM_ESHAPE when x is not 4-D or y's shape is
 * neither; DAM_EINVAL for a NULL or non-contiguous tensor. */
int dam_k_global_avg_pool(dam_exec *ex, const dam_tensor *x, dam_tensor *y);

/* gx[n, c, h, w] += gy[n, c] / (H W), with gy of shape [N, C] or
 * [N, C, 1, 1] and gx 4-D.  Errors as dam_k_global_avg_pool. */
int dam_k_global_avg_pool_backward(dam_exec *ex, const dam_tensor *gy,
                                   dam_tensor *gx);

#endif
