/*
 * Fully connected layer kernels (fp32, row-major): forward, gradient to the
 * input, gradient to the weights and bias.  The weights are [O, I] as in
 * PyTorch's nn.Linear.  Like the other core kernels they record dispatches
 * into `ex`, never wait and do not touch the autograd tape; arguments are
 * checked before anything is recorded.
 *
 * Shapes: x is [N, I], or any [N, ...] whose trailing dims hold I elements
 * per sample (a 4-D [N, C, H, W] is read as [N, C*H*W]); w is 2-D [O, I];
 * b and gb hold O elements; y and gy are 2-D [N, O].  gx and gw have the
 * element counts of x and w.  Errors: DAM_EINVAL for a NULL (where not
 * optional) or non-contiguous tensor, DAM_ESHAPE with the shapes in the
 * message otherwise, DAM_ERANGE past 2^32 elements.
 */
#ifndef DAM_LINEAR_H
#define DAM_LINEAR_H

#include "tensor.h"

/* y[N,O] = x[N,I] * w[O,I]^T + b[O] (b NULL: no bias); y is written. */
int dam_k_linear(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                 const dam_tensor *b, dam_tensor *y);

/* gx[N,I] += gy[N,O] * w[O,I] (accumulates; gx may be 4-D like x). */
int dam_k_linear_grad_input(dam_exec *ex, const dam_tensor *gy,
                            const dam_tensor *w, dam_tensor *gx);

/* gw[O,I] += gy[N,O]^T * x[N,I]; gb[O] += sum over n of gy[n,:] (gb NULL:
 * no bias).  Both accumulate. */
int dam_k_linear_grad_weight(dam_exec *ex, const dam_tensor *x,
                             const dam_tensor *gy, dam_tensor *gw,
                             dam_tensor *gb);

#endif
