/*
 * Optimizer kernels: the DHA weight step (SGD with momentum, decay in the
 * momentum buffer), Adam, and the reductions over sets of parameter tensors
 * that the engine needs each step (gradient norm and clipping, the dot
 * products of the hypergradients).  Like the other core kernels they record
 * dispatches into `ex` and never wait; every scalar they produce or consume
 * (norms, dots, clip factors) stays on the device.  Tensors must be
 * contiguous; arguments are checked before anything is recorded, so on
 * error nothing is.
 */
#ifndef DAM_OPTIM_H
#define DAM_OPTIM_H

#include "tensor.h"

/* The DHA weight step (DESIGN §6 step 5), elementwise over w, g and buf
 * (same element count, any shapes):
 *   buf = momentum * buf + (g + wd * w)
 *   w  -= lr * buf                                  (nesterov false)
 *   w  -= lr * (g + wd * w + momentum * buf)        (nesterov true, new buf)
 * w and buf are updated in place; g is read.  DAM_EINVAL for a NULL or
 * non-contiguous tensor, DAM_ESHAPE when the element counts differ. */
int dam_k_sgd(dam_exec *ex, dam_tensor *w, const dam_tensor *g,
              dam_tensor *buf, float lr, float wd, float momentum,
              bool nesterov);

typedef struct dam_sgd_args {
  float lr, wd, momentum;
  bool nesterov;
} dam_sgd_args;

/* dam_k_sgd over n parameter tensors (w[i], g[i], buf[i]) in one dispatch
 * per group of them that share their buffers (one where every w, every g
 * and every buf lie in one buffer each), each gradient clipped on the way
 * in by min(1, max_norm / (norm[0] + 1e-6)) when norm is non-NULL (the
 * factor of dam_k_clip_by_norm; g itself is left unclipped).  Bit for bit
 * the result of clip, then one dam_k_sgd per tensor.  DAM_EINVAL for NULL
 * arrays or tensors, a max_norm not > 0 with a norm; DAM_ESHAPE when a
 * tensor's element counts differ or norm is not one element. */
int dam_k_sgd_sets(dam_exec *ex, dam_tensor *const *w, dam_tensor *const *g,
                   dam_tensor *const *buf, uint32_t n, const dam_tensor *norm,
                   float max_norm, const dam_sgd_args *a);

typedef struct dam_adam_args {
  float lr, beta1, beta2, eps, wd;
  uint32_t step; /* >= 1, the step being taken (bias correction) */
} dam_adam_args;

/* One step of torch.optim.Adam with L2 weight decay added to the gradient,
 * elementwise over w, g, m and v (same element count):
 *   g' = g + wd * w
 *   m  = beta1 * m + (1 - beta1) g'      v = beta2 * v + (1 - beta2) g'^2
 *   w -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * w, m and v are updated in place (m and v start at zero).  DAM_EINVAL for
 * a NULL argument or tensor, step 0, a beta outside [0, 1) or a negative
 * eps; DAM_ESHAPE when the element counts differ. */
int dam_k_adam(dam_exec *ex, dam_tensor *w, const dam_tensor *g,
               dam_tensor *m, dam_tensor *v, const dam_adam_args *a);

/* y[0] = sum over i < n of <a[i], b[i]> (a[i] and b[i] of the same element
 * count; a[i] == b[i] gives squared norms).  y has one element and is
 * written, on the device.  n == 0 writes y = 0.  One partial-sum dispatch
 * per group of pairs that share their buffers, into disjoint slices (no
 * hazard, so no barrier, between them), then one or two short passes.
 * DAM_EINVAL for a NULL array or tensor, DAM_ESHAPE for a pair of unequal
 * sizes or a y of more than one element. */
int dam_k_dot_sets(dam_exec *ex, const dam_tensor *const *a,
                   const dam_tensor *const *b, uint32_t n, dam_tensor *y);

/* norm[0] = sqrt(sum over i < n of ||g[i]||^2), written on the device
 * (n == 0 gives 0).  Errors as dam_k_dot_sets. */
int dam_k_grad_norm(dam_exec *ex, const dam_tensor *const *g, uint32_t n,
                    dam_tensor *norm);

/* g[i] *= min(1, max_norm / (norm[0] + 1e-6)) for every i < n, the factor
 * computed on the device from the one-element norm (as PyTorch's
 * clip_grad_norm_ after dam_k_grad_norm).  One dispatch per 15 tensors,
 * with no barrier between them.  DAM_EINVAL for a NULL array or tensor or a
 * max_norm that is not > 0; DAM_ESHAPE for a norm of more than one
 * element. */
int dam_k_clip_by_norm(dam_exec *ex, dam_tensor *const *g, uint32_t n,
                       const dam_tensor *norm, float max_norm);

#endif
