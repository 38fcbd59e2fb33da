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
dam_tensor *dam_relu(dam_exec *ex, dam_tensor *x);
/* Give y = dam_relu(x), released since (a backward that marks it unread
 * reads it through this), its contents again, recomputed from x: x must
 * hold what it held then, as relu's own backward needs too.  Nothing when
 * y still has its memory. */
int dam_relu_refill(dam_exec *ex, dam_tensor *y);
/* One-element results. */
dam_tensor *dam_sum(dam_exec *ex, dam_tensor *x);
dam_tensor *dam_dot(dam_exec *ex, dam_tensor *a, dam_tensor *b);

#endif
