/*
 * Core kernels: each records one or a few dispatches into `ex` and never
 * waits.  They do not touch the autograd tape (autograd.h does).  Tensors
 * must be contiguous; element counts must match (DAM_ESHAPE otherwise).
 * Kernels whose name ends in _acc accumulate into their output.
 */
#ifndef DAM_KERNELS_H
#define DAM_KERNELS_H

#include "tensor.h"

/* y = value */
int dam_k_fill(dam_exec *ex, dam_tensor *y, float value);

/* y = a + b */
int dam_k_add(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
              dam_tensor *y);

/* y = a * b, elementwise */
int dam_k_mul(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
              dam_tensor *y);

/* y += a * b, elementwise */
int dam_k_mul_acc(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
                  dam_tensor *y);

/* y = alpha * x + beta * y (beta == 0: y is only written).  x == y is
 * allowed. */
int dam_k_axpby(dam_exec *ex, float alpha, const dam_tensor *x, float beta,
                dam_tensor *y);

/* y = x, through a shader (the compute path's copy; see also
 * dam_exec_copy). */
int dam_k_copy(dam_exec *ex, const dam_tensor *x, dam_tensor *y);

/* y = max(x, 0) */
int dam_k_relu(dam_exec *ex, const dam_tensor *x, dam_tensor *y);

/* gx += gy * (x > 0) */
int dam_k_relu_backward(dam_exec *ex, const dam_tensor *x,
                        const dam_tensor *gy, dam_tensor *gx);

/* y[n, b*C + c, i, j] = x[n, c, stride*i + offset + b, stride*j + offset
 * + b], zero past x's edge: y has the images of x and B blocks of its C
 * channels, 1 <= B <= stride, block b picking at offset + b. */
int dam_k_subsample(dam_exec *ex, const dam_tensor *x, uint32_t stride,
                    uint32_t offset, dam_tensor *y);

/* The same of relu(x). */
int dam_k_subsample_relu(dam_exec *ex, const dam_tensor *x, uint32_t stride,
                         uint32_t offset, dam_tensor *y);

/* gx[n, c, stride*i + offset + b, stride*j + offset + b] += gy[n, b*C + c,
 * i, j] where that is inside gx (blocks as in dam_k_subsample); gx's other
 * elements are not touched. */
int dam_k_subsample_backward_acc(dam_exec *ex, const dam_tensor *gy,
                                 uint32_t stride, uint32_t offset,
                                 dam_tensor *gx);

/* The same through relu(x) (x of gx's shape): gy is added only where x
 * is positive, the gradient to the input of dam_k_subsample_relu. */
int dam_k_subsample_backward_relu_acc(dam_exec *ex, const dam_tensor *gy,
                                      uint32_t stride, uint32_t offset,
                                      const dam_tensor *x, dam_tensor *gx);

/* y[0] = sum of x (y has one element). */
int dam_k_sum(dam_exec *ex, const dam_tensor *x, dam_tensor *y);

/* y[0] = <a, b> (y has one element). */
int dam_k_dot(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
              dam_tensor *y);

/* y += alpha * s[0] * b, or y += alpha * s[0] when b is NULL; s has one
 * element and stays on the device. */
int dam_k_broadcast_acc(dam_exec *ex, const dam_tensor *s, float alpha,
                        const dam_tensor *b, dam_tensor *y);

#endif
