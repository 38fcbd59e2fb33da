/*
 * 2-D convolution kernels (NCHW, fp32): forward, gradient to the input and
 * gradient to the weights, with stride, zero padding, dilation and groups.
 * Like the other core kernels they record dispatches into `ex`, never wait
 * and do not touch the autograd tape.  Depthwise convolutions (one input and
 * one output channel per group) take a dedicated path; the others run as an
 * implicit GEMM, register-tiled and barrier-free on CPU devices, tiled in
 * shared memory elsewhere.
 *
 * Shapes: x [N, C, H, W], w [K, C / groups, KH, KW], y [N, K, OH, OW] with
 * OH = (H + 2 pad_h - dil_h (KH - 1) - 1) / stride_h + 1 (same for W).
 */
#ifndef DAM_CONV_H
#define DAM_CONV_H

#include "tensor.h"

/* dam_conv2d_geom (stride, pad, dilation, groups) is the SDK's
 * (diffautoml/plugin.h): plugins pass it to the host's nn_conv2d. */

/* The output shape of convolving an input of shape x with weights of
 * shape w.  DAM_ESHAPE when either is not 4-D, C or K is not a multiple of
 * groups, w's second dim is not C / groups, or the (dilated) kernel does
 * not fit in the padded input; DAM_EINVAL for a NULL argument.  The message
 * names the shapes. */
int dam_conv2d_out_shape(const dam_shape *x, const dam_shape *w,
                         const dam_conv2d_geom *g, dam_shape *y);

/* y = x conv w (y is only written; no bias).  DAM_ESHAPE when y's shape is
 * not dam_conv2d_out_shape(x, w); DAM_EINVAL for a NULL or non-contiguous
 * tensor; DAM_ERANGE past 2^32 elements.  Nothing is recorded on error. */
int dam_k_conv2d(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                 const dam_conv2d_geom *g, dam_tensor *y);

/* dam_k_conv2d of relu(x), reading x through a relu. */
int dam_k_conv2d_relu(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                      const dam_conv2d_geom *g, dam_tensor *y);

/* gx += dL/dx given gy = dL/dy and the weights: the transposed
 * convolution of gy with w.  gx has x's shape, which is needed because with
 * a stride several input sizes give the same output size.  Errors as
 * dam_k_conv2d, with gy in y's place. */
int dam_k_conv2d_grad_input_acc(dam_exec *ex, const dam_tensor *gy,
                                const dam_tensor *w, const dam_conv2d_geom *g,
                                dam_tensor *gx);

/* gx += (x > 0) * dL/d(relu(x)) for a conv whose input was relu(x): the
 * gradient to the input with the relu's backward folded in: depthwise
 * convs, and 1x1 ones where the in-place 1x1 shaders take the gradient
 * (dam_k_conv2d_folds_relu; DAM_EINVAL otherwise); x has gx's shape. */
int dam_k_conv2d_grad_input_relu_acc(dam_exec *ex, const dam_tensor *gy,
                                     const dam_tensor *w,
                                     const dam_conv2d_geom *g,
                                     const dam_tensor *x, dam_tensor *gx);

/* Whether dam_k_conv2d_grad_input_relu_acc takes a conv of input and
 * weights shaped x and w on ex's device (false for invalid shapes). */
bool dam_k_conv2d_folds_relu(dam_exec *ex, const dam_shape *x,
                             const dam_shape *w, const dam_conv2d_geom *g);

/* gw += dL/dw given the forward input x and gy = dL/dy: for each weight
 * the sum over the batch and the output positions of gy times the input
 * element it multiplied.  The sum is split over parts written to a step
 * tensor and then added in a fixed order, so results are reproducible.
 * Errors as dam_k_conv2d, with gw in w's place and gy in y's. */
int dam_k_conv2d_grad_weight_acc(dam_exec *ex, const dam_tensor *x,
                                 const dam_tensor *gy,
                                 const dam_conv2d_geom *g, dam_tensor *gw);

/* The same for a conv whose input was relu(x), reading x through a relu. */
int dam_k_conv2d_grad_weight_relu_acc(dam_exec *ex, const dam_tensor *x,
                                      const dam_tensor *gy,
                                      const dam_conv2d_geom *g,
                                      dam_tensor *gw);

/* Both gradients of a conv whose input was x, or relu(x) with relu (then
 * dam_k_conv2d_folds_relu must hold): dam_k_conv2d_grad_input_acc (or its
 * _relu_acc) into gx and dam_k_conv2d_grad_weight_acc (or its _relu_acc)
 * into gw, either NULL to skip it.  With both, a strided depthwise conv
 * spreads gy for its stride-1 twin once for the two. */
int dam_k_conv2d_backward_acc(dam_exec *ex, const dam_tensor *x, bool relu,
                              const dam_tensor *w, const dam_conv2d_geom *g,
                              const dam_tensor *gy, dam_tensor *gx,
                              dam_tensor *gw);

/* The same for a grouped conv whose groups' weights are separate tensors:
 * gw[i] += dL/dw of group i's weights, i < g->groups, each gw[i] shaped
 * [K / groups, C / groups, KH, KW]. */
int dam_k_conv2d_grad_weight_groups_acc(dam_exec *ex, const dam_tensor *x,
                                        const dam_tensor *gy,
                                        const dam_conv2d_geom *g,
                                        dam_tensor *const *gw);

/* Multiply-adds of one forward pass (also of each gradient pass). */
uint64_t dam_conv2d_macs(const dam_shape *x, const dam_shape *w,
                         const dam_conv2d_geom *g);

/* Internal, for tests and the benchmark: which implementation the kernels
 * above use.  AUTO picks by device and shape; the others force the
 * implicit GEMM (even for depthwise shapes) in its register-tiled or
 * shared-memory variant, or (PACKED) the register-tiled forward over
 * operands first repacked channels-last in vec4s, whose gradients are the
 * register variant's.  parts > 0 forces the number of parts of the
 * weight-gradient sum.  Process-wide; not thread-safe. */
typedef enum dam__conv2d_variant {
  DAM__CONV2D_AUTO,
  DAM__CONV2D_REGISTER,
  DAM__CONV2D_SHARED,
  DAM__CONV2D_PACKED,
} dam__conv2d_variant;
void dam__conv2d_force(dam__conv2d_variant v, uint32_t parts);

/* Internal: the path the kernels take on ex for these shapes:
 * "depthwise", "register", "packed" (the forward packs its operands; the
 * gradients are "register") or "shared" ("invalid" for bad shapes). */
const char *dam__conv2d_path(dam_exec *ex, const dam_shape *x,
                             const dam_shape *w, const dam_conv2d_geom *g);

#endif
