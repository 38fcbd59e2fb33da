/*
 * Row gathers: picking or permuting the images of a batch on the device.
 */
#ifndef DAM_GATHER_H
#define DAM_GATHER_H

#include "tensor.h"

/* y[j] = x[idx[j]] (accumulate: y[j] += x[idx[j]]) for j < y's rows, a row
 * being one image (dims 1.. of a tensor).  idx holds y->shape.dim[0] uint32
 * row indices below x's rows, as bit patterns (dam_tensor_upload of the
 * uint32 array).  DAM_ESHAPE when the rows of x and y differ in size or
 * idx has not one entry per row of y. */
int dam_k_gather_rows(dam_exec *ex, const dam_tensor *x, const dam_tensor *idx,
                      dam_tensor *y, bool accumulate);

/* A new step tensor holding n uint32 values (bit patterns) for index and
 * seed bindings.  NULL on failure. */
dam_tensor *dam_uint_tensor(dam_exec *ex, const uint32_t *v, uint32_t n);

#endif
