/*
 * Differentiable core operations: each allocates its output as a step
 * tensor, records the kernel, and records a tape node when an input
 * requires a gradient.  They return NULL on failure with dam_last_error()
 * set.
 */
#ifndef DAM_AUTOGRAD_H
#define DAM_AUTOGRAD_H

#include "tape.h"

dam_tensor *dam_add(dam_exec *ex, dam_tensor *a, dam_tensor *b);
dam_tensor *dam_mul(dam_exec *ex, dam_tensor *a, dam_tensor *b);
dam_tensor *dam_scale(dam_exec *ex, dam_tensor *x, float alpha);
/* Lazy: y's contents are made when a kernel or download first reads them
 * (dam_tensor_materialize); a conv reads x through the relu instead.  So
 * x must keep its values for the step, as relu's backward needs anyway. */
dam_tensor *dam_relu(dam_exec *ex, dam_tensor *x);
/* The output of a relu of x already on the tape, which dam_relu returns
 * instead of a new one, or NULL: none, or an accumulating node has updated
 * x in place since.  The candidate ops on one edge, and the edges leaving
 * one node, all start from the same relu. */
dam_tensor *dam_relu_recorded(const dam_exec *ex, const dam_tensor *x);
/* One-element results. */
dam_tensor *dam_sum(dam_exec *ex, dam_tensor *x);
dam_tensor *dam_dot(dam_exec *ex, dam_tensor *a, dam_tensor *b);

#endif
