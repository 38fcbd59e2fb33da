/*
 * Deferred sums of partial results.  A kernel that splits a long sum over
 * parts (the convolution weight gradient) queues dst += the parts' sum;
 * queued sums are recorded together, up to DAM_PENDING_SUMS per dispatch,
 * when the queue is full, at the end of a backward pass (dam_backward),
 * before a transfer (copy, fill) that touches a queued dst, and before any
 * submit, so whatever reads dst after any of these sees the sum.
 */
#ifndef DAM_PART_SUMS_H
#define DAM_PART_SUMS_H

#include "tensor.h"

/* Queue dst += sum over p < n_parts of parts' slice p (parts holds n_parts
 * slices of dst->numel floats; the sum runs in order of p); dst's pending
 * zeros (dam_tensor.zeros_pending) are written now.  The queue takes
 * parts over and releases it once the sum is recorded; on an error parts
 * is released too. */
int dam_part_sums_add(dam_exec *ex, dam_tensor *parts, uint32_t n_parts,
                      dam_tensor *dst);

/* Queue dst[i] += sum over p < n_parts of block i of parts' slice p, for
 * i < n_dst: each slice holds the n_dst blocks one after another, block i
 * of dst[i]->numel floats (dam_part_sums_add is n_dst = 1).  parts as
 * there. */
int dam_part_sums_add_split(dam_exec *ex, dam_tensor *parts,
                            uint32_t n_parts, dam_tensor *const *dst,
                            uint32_t n_dst);

/* Record every queued sum (nothing when none is). */
int dam_part_sums_flush(dam_exec *ex);

/* Record every queued sum if one of them adds into one of the n ranges
 * (before a transfer command that reads or writes them). */
int dam_part_sums_flush_touching(dam_exec *ex, const dam_range *r,
                                 uint32_t n);

#endif
