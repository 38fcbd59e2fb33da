/*
 * Channel ranges of NCHW fp32 tensors: the one kernel behind channel
 * concatenation and slicing (a concat is one copy per input into its range
 * of the output; a slice is one copy out of a range) and, with accumulate,
 * behind both backwards.  Records a dispatch into `ex` and never waits.
 */
#ifndef DAM_CHANNELS_H
#define DAM_CHANNELS_H

#include "tensor.h"

/* dst[:, dst_c0 .. dst_c0 + count) = src[:, src_c0 .. src_c0 + count), or
 * += when accumulate.  src and dst are [N, C, H, W] (or [N, C]) with equal
 * N, H and W and any channel counts; they may be the same tensor when the
 * two ranges do not overlap.  count 0 records nothing.  DAM_ESHAPE when a
 * range falls outside its tensor, N, H or W differ, or a tensor is neither
 * 4-D nor 2-D; DAM_EINVAL for a NULL or non-contiguous tensor or
 * overlapping ranges of one tensor; DAM_ERANGE past 2^32 elements. */
int dam_k_channel_copy(dam_exec *ex, const dam_tensor *src, uint32_t src_c0,
                       dam_tensor *dst, uint32_t dst_c0, uint32_t count,
                       bool accumulate);

/* y[:, c .. c + C_i) = xs[i] for the n inputs side by side from channel 0
 * on (a concat): on CPU devices one copy command each, elsewhere up to
 * four inputs per dispatch where each is a whole number of vec4s per
 * image, otherwise one dam_k_channel_copy each.
 * Shapes and errors as dam_k_channel_copy's; y holds at least the inputs'
 * channels. */
int dam_k_channel_concat(dam_exec *ex, const dam_tensor *const *xs,
                         uint32_t n, dam_tensor *y);

/* The backward of dam_k_channel_concat: gxs[i] += gy[:, c .. c + C_i) for
 * blocks of channels[i] channels side by side in gy; NULL gradients are
 * skipped (their channels still counted).  On CPU devices a gradient of
 * pending zeros (dam_tensor_grad) takes a copy command instead. */
int dam_k_channel_split_acc(dam_exec *ex, const dam_tensor *gy,
                            dam_tensor *const *gxs, const uint32_t *channels,
                            uint32_t n);

/* Internal, for tests: false keeps concats and splits on their shaders on
 * CPU devices too.  Process-wide; not thread-safe. */
void dam__channels_allow_copies(bool allow);

#endif
