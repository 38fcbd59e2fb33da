/*
 * Batch normalization over the channels of NCHW fp32 tensors: training
 * form (batch statistics, running-statistics update), evaluation form
 * (running statistics) and the backward of the training form.  Like the
 * other core kernels they record dispatches into `ex`, never wait and do
 * not touch the autograd tape; nothing is recorded when one returns an
 * error.
 *
 * Shapes: x, y, gy and gx are [N, C, H, W] (or [N, C], as H = W = 1), all
 * the same; every per-channel tensor (gamma, beta, running_mean,
 * running_var, save_mean, save_invstd, ggamma, gbeta) has C elements, of
 * any shape.  Statistics are over the N*H*W elements of a channel, reduced
 * in two barrier-free passes (partial sums, then one invocation per
 * channel adding them in a fixed order, so results are reproducible).
 */
#ifndef DAM_BATCHNORM_H
#define DAM_BATCHNORM_H

#include "tensor.h"

/* dam_bn_args (eps, momentum) is the SDK's (diffautoml/plugin.h). */

/* Training mode: with the per-channel batch mean and biased variance,
 * y = (x - mean) * invstd * gamma + beta, invstd = 1 / sqrt(var + eps); y
 * is only written (it may be x).  gamma / beta NULL: affine off (1 and 0).
 * Writes save_mean and save_invstd for the backward.  running_mean and
 * running_var, each when non-NULL, are updated like PyTorch:
 * r = (1 - momentum) r + momentum stat, with the unbiased variance
 * (var * n / (n - 1)) for running_var.  DAM_EINVAL for a NULL x, y, a or
 * save tensor, a non-contiguous tensor, or a channel of a single element;
 * DAM_ESHAPE when x is not 2-D or 4-D, y's shape differs from x's, or a
 * per-channel tensor does not have C elements. */
int dam_k_batchnorm_train(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gamma, const dam_tensor *beta,
                          dam_tensor *running_mean, dam_tensor *running_var,
                          const dam_bn_args *a, dam_tensor *y,
                          dam_tensor *save_mean, dam_tensor *save_invstd);

/* dam_k_batchnorm_train in two halves.  The statistics: save_mean,
 * save_invstd and the running statistics as there, and coef (4 * C
 * floats) the per-channel coefficients the normalization takes; errors as
 * there, and DAM_ESHAPE for coef of another size.  Without gamma and beta,
 * on CPU devices, the pass may be held back to share a dispatch with the
 * next such one (dam_exec_hold): it is recorded before anything touches
 * its tensors, so readers see it done. */
int dam_k_batchnorm_stats(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gamma, const dam_tensor *beta,
                          dam_tensor *running_mean, dam_tensor *running_var,
                          const dam_bn_args *a, dam_tensor *save_mean,
                          dam_tensor *save_invstd, dam_tensor *coef);

/* The normalization: y = x normalized with coef from
 * dam_k_batchnorm_stats over the same x (y is only written; it may be
 * x). */
int dam_k_batchnorm_apply(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *coef, dam_tensor *y);

/* Evaluation mode: y = (x - running_mean) / sqrt(running_var + eps) *
 * gamma + beta; y is only written (it may be x); gamma / beta NULL as in
 * training.  Errors as dam_k_batchnorm_train (the running statistics are
 * required here). */
int dam_k_batchnorm_eval(dam_exec *ex, const dam_tensor *x,
                         const dam_tensor *gamma, const dam_tensor *beta,
                         const dam_tensor *running_mean,
                         const dam_tensor *running_var, float eps,
                         dam_tensor *y);

/* Backward of the training form, given the forward's x, save_mean and
 * save_invstd and gy = dL/dy; with xhat = (x - mean) * invstd and m the
 * N*H*W elements of a channel:
 *   gx     += gamma * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)),
 *   ggamma += sum(gy * xhat),  gbeta += sum(gy),
 * each skipped when its tensor is NULL.  gamma NULL means 1.  Errors as
 * dam_k_batchnorm_train, with gy and gx in y's place. */
int dam_k_batchnorm_backward(dam_exec *ex, const dam_tensor *x,
                             const dam_tensor *gy, const dam_tensor *gamma,
                             const dam_tensor *save_mean,
                             const dam_tensor *save_invstd, dam_tensor *gx,
                             dam_tensor *ggamma, dam_tensor *gbeta);

/* The same gx for a batch norm without gamma and beta, from its output
 * y = xhat instead of x (so x need not be kept for the backward):
 *   gx += invstd * (gy - mean(gy) - y * mean(gy * y)).
 * Errors as dam_k_batchnorm_backward, with y in x's place. */
int dam_k_batchnorm_backward_xhat(dam_exec *ex, const dam_tensor *y,
                                  const dam_tensor *gy,
                                  const dam_tensor *save_invstd,
                                  dam_tensor *gx);

/* dam_k_batchnorm_backward's gx without gamma and beta, for the gradient
 * scale[0] * gy (scale a one-element tensor, else DAM_EINVAL): a node
 * sum's term that is the norm's output.  gscale, where given (one element;
 * only where dam_k_batchnorm_backward_takes_gscale, else DAM_EINVAL), +=
 * <gy, xhat>, the scale's gradient, from the sums the backward makes
 * anyway. */
int dam_k_batchnorm_backward_scaled(dam_exec *ex, const dam_tensor *x,
                                    const dam_tensor *gy,
                                    const dam_tensor *scale,
                                    const dam_tensor *save_mean,
                                    const dam_tensor *save_invstd,
                                    dam_tensor *gx, dam_tensor *gscale);

/* Whether the scaled backwards of a norm of x take the scale's gradient
 * (the one-dispatch backward of CPU devices). */
bool dam_k_batchnorm_backward_takes_gscale(dam_exec *ex, const dam_tensor *x);

/* dam_k_batchnorm_backward_scaled for two norms of the same shape on one
 * gy (a node sum's two terms): x[i], scale[i], mean[i], invstd[i] into
 * gx[i] and gscale[i] (gscale NULL: neither); one dispatch on CPU devices
 * where the gx differ and both gscale are given or neither, else one per
 * norm.  Errors as dam_k_batchnorm_backward_scaled, for either norm. */
int dam_k_batchnorm_backward_scaled_pair(
    dam_exec *ex, const dam_tensor *const x[2], const dam_tensor *gy,
    const dam_tensor *const scale[2], const dam_tensor *const mean[2],
    const dam_tensor *const invstd[2], dam_tensor *const gx[2],
    dam_tensor *const gscale[2]);

/* Internal (tests): split 1 makes the statistics and the backward take
 * the path of GPUs (many invocations per channel; the backward's sums,
 * then gx) on every device; 0 restores the choice by device.
 * Process-wide; not thread-safe. */
void dam__batchnorm_force_split(bool split);

#endif
