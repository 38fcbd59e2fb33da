/*
 * Differentiable network layers over the core kernels: each allocates its
 * output as a step tensor, records the kernels, and records a tape node
 * when an input requires a gradient (autograd.h has the elementwise ones).
 * They return NULL on failure with dam_last_error() set.  Inputs are
 * NCHW; weights are caller-owned tensors (usually dam_param_new).
 */
#ifndef DAM_NN_H
#define DAM_NN_H

#include "batchnorm.h"
#include "conv.h"
#include "pool.h"
#include "tape.h"

/* Convolution of x [N,C,H,W] with w [K, C/groups, KH, KW], no bias. */
dam_tensor *dam_conv2d(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                       const dam_conv2d_geom *g);

/* Max or average pooling (average excludes padding). */
dam_tensor *dam_pool2d(dam_exec *ex, dam_tensor *x, const dam_pool_args *a);

#define DAM_SHARE_MAX 32

/* The pools and pixel phases recorded while sharing is on
 * (dam_share_begin). */
typedef struct dam_share {
  uint32_t n_pooled, n_phased;
  struct {
    const dam_tensor *x;
    dam_pool_args a;
    dam_tensor *y;
  } pooled[DAM_SHARE_MAX];
  struct {
    const dam_tensor *x;
    dam_tensor *z;
  } phased[DAM_SHARE_MAX];
} dam_share;

/* Until dam_share_end, dam_pool2d of an input it has pooled with the same
 * arguments since returns that output again while it is held, and
 * dam_factorized_reduce of an input whose pixel phases it has split since
 * (recorded for a gradient) convolves those phases again: their node is
 * recorded once, so the backward pools (or scatters back) the summed
 * gradient of their readers once.  The inputs must not change meanwhile.
 * The supernet's edges from one cell state share so; share (caller-owned)
 * holds the outputs. */
void dam_share_begin(dam_exec *ex, dam_share *share);
void dam_share_end(dam_exec *ex);

/* Batch norm over N, H, W per channel.  training: batch statistics (and
 * the running ones updated when non-NULL); else the running statistics
 * (required), with a gradient to x only (not to them, gamma or beta).
 * gamma and beta may be NULL (affine off). */
dam_tensor *dam_batchnorm(dam_exec *ex, dam_tensor *x, dam_tensor *gamma,
                          dam_tensor *beta, dam_tensor *running_mean,
                          dam_tensor *running_var, const dam_bn_args *a,
                          bool training);

/* Channel concatenation of n (1..DAM_NODE_INPUTS) tensors with equal N, H,
 * W. */
dam_tensor *dam_concat(dam_exec *ex, dam_tensor *const *xs, uint32_t n);

/* Channels c0 .. c0+count of x. */
dam_tensor *dam_slice(dam_exec *ex, dam_tensor *x, uint32_t c0,
                      uint32_t count);

/* Mean over H, W: [N,C,H,W] -> [N,C]. */
dam_tensor *dam_global_avg_pool(dam_exec *ex, dam_tensor *x);

/* x [N, I] (or 4-D, flattened) times w [O, I] transposed, plus b [O] (may
 * be NULL): [N, O]. */
dam_tensor *dam_linear(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                       dam_tensor *b);

/* Per-sample softmax cross-entropy of logits [N, K] against labels [N]
 * (class indices as floats; no gradient): loss [N].  Its mean is
 * dam_dot(loss, weights) with the batch's weights. */
dam_tensor *dam_softmax_xent(dam_exec *ex, dam_tensor *logits,
                             dam_tensor *labels);

/* Factorized reduce without its ReLU and BN (DARTS): two 1x1 stride-2
 * convolutions, w1 [K1, C, 1, 1] on x and w2 [K2, C, 1, 1] on x shifted by
 * one row and column (zeros past the edge), concatenated: [N, K1+K2,
 * ceil(H/2), ceil(W/2)].  Works for odd H and W. */
dam_tensor *dam_factorized_reduce(dam_exec *ex, dam_tensor *x, dam_tensor *w1,
                                  dam_tensor *w2);

/* y[j] = x[perm[j]]: the rows (images) of x reordered by a permutation
 * of 0 .. N-1 (host array, copied).  DAM_EINVAL for a non-permutation. */
dam_tensor *dam_permute_rows(dam_exec *ex, dam_tensor *x,
                             const uint32_t *perm);

/* y = s[0] * x, with s a one-element tensor that stays on the device (an
 * architecture weight); gradients to x and s. */
dam_tensor *dam_scale_by(dam_exec *ex, dam_tensor *x, dam_tensor *s);

/* a + s * x in one dispatch (a NULL: s * x), differentiable in a, x and
 * s: a node's running sum of weighted op outputs. */
dam_tensor *dam_scale_add(dam_exec *ex, dam_tensor *a, dam_tensor *x,
                          dam_tensor *s);

/* acc += s * x in place; returns acc.  acc's value before must be needed
 * by nothing else (no backward reads the sums a node builds this way):
 * a node's sum of weighted op outputs without a tensor per partial sum.
 * acc must be a step tensor of x's shape (DAM_EINVAL). */
dam_tensor *dam_scale_acc(dam_exec *ex, dam_tensor *acc, dam_tensor *x,
                          dam_tensor *s);

/* acc += s0 * x0 + s1 * x1 in place, returning acc, or with acc NULL a
 * new tensor s0 * x0 + s1 * x1: two terms of a node's sum of weighted op
 * outputs in one dispatch each way.  acc as for dam_scale_acc; the terms
 * of one shape (DAM_EINVAL). */
dam_tensor *dam_scale_pair(dam_exec *ex, dam_tensor *acc, dam_tensor *x0,
                           dam_tensor *s0, dam_tensor *x1, dam_tensor *s1);

/* The same for four terms, acc += sum of s[i] * x[i] over i < 4, in one
 * dispatch forward (when a term is a batch norm's pending output, as a
 * node sum's are; else two) and two backward. */
dam_tensor *dam_scale_quad(dam_exec *ex, dam_tensor *acc,
                           dam_tensor *const x[4], dam_tensor *const s[4]);

/* y = mask[n] * x for every element of image n of x [N, ...]; mask is a
 * host array of N floats (copied), a constant: drop-path. */
dam_tensor *dam_scale_rows(dam_exec *ex, dam_tensor *x, const float *mask);

#endif
