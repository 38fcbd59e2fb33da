/* Channel-range copy and accumulate (concat, slice and their backwards)
 * over channel_copy*.comp, and concats of up to four blocks per dispatch
 * over channel_concat.comp and channel_split.comp; on CPU devices concats,
 * and splits into new gradients, as copy commands (copy_block). */
#include "channels.h"
#include "error.h"
#include "kernel_util.h"

#include "channel_concat.spv.h"
#include "channel_copy.spv.h"
#include "channel_copy_shift.spv.h"
#include "channel_split.spv.h"

#include <stdlib.h>

DAM_SHADER_TEXEL(channel_copy, 2, 0x2, 0x1, 32);
DAM_SHADER(channel_copy_shift, 2, 0x2, 40);
DAM_SHADER_TEXEL(channel_concat, 5, 0x10, 0xF, 36);
DAM_SHADER_TEXEL(channel_split, 5, 0x1E, 0x1, 40);

/* Blocks per channel_concat / channel_split dispatch. */
#define MAX_BLOCKS 4

/* Elements (floats or vec4s) of a row each invocation moves, and the
 * vec4s of a span of channel_copy_shift.comp. */
#define PER_INVOCATION 8
#define SPAN 64

static int check_rank(const dam_tensor *t, const char *name) {
  const dam_tensor *one[] = {t};
  int err = dam__k_check("channel_copy", one, 1, 0);
  if (!err && t->shape.ndim != 4 && t->shape.ndim != 2)
    err = dam_fail(DAM_ESHAPE, "channel_copy: %s has %u dims, expected "
                   "[N, C, H, W] or [N, C]", name, t->shape.ndim);
  return err;
}

static int check_range(const dam_tensor *t, const char *name, uint32_t c0,
                       uint32_t count) {
  if ((uint64_t)c0 + count <= t->shape.dim[1])
    return DAM_OK;
  return dam_fail(DAM_ESHAPE, "channel_copy: channels [%u, %llu) are outside "
                  "%s's %u", c0, (unsigned long long)c0 + count, name,
                  t->shape.dim[1]);
}

/* Whether channel_copy_shift.comp may move the run: src's vec4 view must
 * cover all of src, and its shifted loads read up to 3 floats either side
 * of the run, so within one buffer only unshifted runs go that way. */
static bool shift_fits(const dam_tensor *src, const dam_tensor *dst,
                       const uint32_t *s, const uint32_t *d, uint32_t src_c0,
                       uint32_t dst_c0, uint32_t count) {
  uint32_t hw = s[2] * s[3];
  bool shifted = (s[1] * hw | d[1] * hw | src_c0 * hw | dst_c0 * hw) % 4;
  return src->numel % 4 == 0 && count * hw >= 4 &&
         !(shifted && dam_tensor_range(src).buffer ==
                          dam_tensor_range(dst).buffer);
}

/* The run through channel_copy_shift.comp, t = {src, dst}; shift_fits
 * must hold. */
static int copy_shifted(dam_exec *ex, const dam_tensor *const *t,
                        const uint32_t *s, const uint32_t *d,
                        uint32_t src_c0, uint32_t dst_c0, uint32_t count,
                        bool accumulate) {
  uint32_t hw = s[2] * s[3], len = count * hw;
  struct {
    uint32_t rows, len, parts, src_row, dst_row, src_off, dst_off, flags;
    uint32_t span, src_n4;
  } p = {s[0], len, (len + 4 * SPAN - 1) / (4 * SPAN), s[1] * hw,
         d[1] * hw, src_c0 * hw, dst_c0 * hw, accumulate ? 1u : 0u, SPAN,
         (uint32_t)(t[0]->numel / 4)};
  return dam__k_run(ex, &shader_channel_copy_shift, t, &p,
                    (uint64_t)p.rows * p.parts);
}

/* Both tensors 4-D or 2-D, with equal N, H and W. */
static int check_pair(const dam_tensor *src, const dam_tensor *dst) {
  int err = check_rank(src, "src");
  if (!err)
    err = check_rank(dst, "dst");
  if (err)
    return err;
  const uint32_t *s = src->shape.dim, *d = dst->shape.dim;
  if (s[0] != d[0] || s[2] != d[2] || s[3] != d[3])
    return dam_fail(DAM_ESHAPE, "channel_copy: src [%u, %u, %u, %u] and dst "
                    "[%u, %u, %u, %u] differ in N, H or W", s[0], s[1], s[2],
                    s[3], d[0], d[1], d[2], d[3]);
  return DAM_OK;
}

int dam_k_channel_copy(dam_exec *ex, const dam_tensor *src, uint32_t src_c0,
                       dam_tensor *dst, uint32_t dst_c0, uint32_t count,
                       bool accumulate) {
  int err = check_pair(src, dst);
  if (err)
    return err;
  const uint32_t *s = src->shape.dim, *d = dst->shape.dim;
  if ((err = check_range(src, "src", src_c0, count)) ||
      (err = check_range(dst, "dst", dst_c0, count)))
    return err;
  dam_range rs = dam_tensor_range(src), rd = dam_tensor_range(dst);
  if (rs.buffer == rd.buffer && rs.offset == rd.offset && count &&
      src_c0 < dst_c0 + count && dst_c0 < src_c0 + count)
    return dam_fail(DAM_EINVAL, "channel_copy: channels [%u, %u) and [%u, "
                    "%u) of one tensor overlap", src_c0, src_c0 + count,
                    dst_c0, dst_c0 + count);
  if (!count)
    return DAM_OK;
  /* Planes of a multiple of 4 floats move as vec4s (tensors start 64-byte
   * aligned). */
  uint32_t hw = s[2] * s[3], width = hw % 4 ? 1 : 4, plane = hw / width;
  uint32_t len = count * plane;
  const dam_tensor *t[] = {src, dst};
  if (width == 1 && shift_fits(src, dst, s, d, src_c0, dst_c0, count))
    return copy_shifted(ex, t, s, d, src_c0, dst_c0, count, accumulate);
  struct {
    uint32_t rows, len, parts, src_row, dst_row, src_off, dst_off, flags;
  } p = {s[0], len, (len + PER_INVOCATION - 1) / PER_INVOCATION,
         s[1] * plane, d[1] * plane, src_c0 * plane, dst_c0 * plane,
         (accumulate ? 1u : 0u) | (width == 4 ? 2u : 0u)};
  return dam__k_run(ex, &shader_channel_copy, t, &p,
                    (uint64_t)p.rows * p.parts);
}

/* blocks_push of channel_concat.comp and channel_split.comp. */
typedef struct blocks_push {
  uint32_t rows, row4, off4, blocks, len4[MAX_BLOCKS], parts, mask;
} blocks_push;

/* The push constants for blocks[0..n) of `channels` each, side by side in
 * wide from channel c0 on: false where a block is not a whole number of
 * vec4s per image (or starts inside one), which then goes through
 * dam_k_channel_copy. */
static bool blocks_fit(const dam_tensor *wide, uint32_t c0,
                       const uint32_t *channels, uint32_t n, blocks_push *p) {
  const uint32_t *w = wide->shape.dim;
  uint64_t hw = (uint64_t)w[2] * w[3], sum = 0;
  *p = (blocks_push){.rows = w[0], .row4 = (uint32_t)(w[1] * hw / 4),
                     .off4 = (uint32_t)(c0 * hw / 4), .blocks = n};
  if (w[1] * hw % 4 || c0 * hw % 4)
    return false;
  for (uint32_t i = 0; i < n; i++) {
    if (channels[i] * hw % 4 || !channels[i])
      return false;
    p->len4[i] = (uint32_t)(channels[i] * hw / 4);
    sum += p->len4[i];
  }
  p->parts = (uint32_t)((sum + PER_INVOCATION - 1) / PER_INVOCATION);
  return true;
}

/* Checks of a block of `channels` channels at c0 of wide; block, when
 * given, is its own tensor. */
static int check_block(const dam_tensor *block, uint32_t channels,
                       const dam_tensor *wide, uint32_t c0) {
  int err = check_range(wide, "the wide tensor", c0, channels);
  if (!err && block)
    err = check_pair(block, wide);
  if (!err && block && block->shape.dim[1] != channels)
    err = dam_fail(DAM_ESHAPE, "channel_split: a gradient has %u channels, "
                   "expected %u", block->shape.dim[1], channels);
  return err;
}

static bool copies_allowed = true;

void dam__channels_allow_copies(bool allow) { copies_allowed = allow; }

static bool use_copies(dam_exec *ex) {
  return copies_allowed && dam__k_cpu_device(ex);
}

/* Channels [c0, c0 + block's) of each image of wide from block (to_wide)
 * or into it, as one copy command of a region per image: on CPU devices
 * a memcpy each, far faster than a shader, and run without waking the
 * device's threads. */
static int copy_block(dam_exec *ex, const dam_tensor *block,
                      const dam_tensor *wide, uint32_t c0, bool to_wide) {
  const uint32_t *w = wide->shape.dim;
  uint64_t plane = (uint64_t)w[2] * w[3] * sizeof(float);
  uint64_t bytes = block->shape.dim[1] * plane;
  VkBufferCopy *r = malloc(w[0] * sizeof *r);
  int err = r ? dam_tensor_materialize(ex, (dam_tensor *)(to_wide ? block
                                                                   : wide))
              : dam_fail(DAM_ENOMEM, "channel copy: %u regions", w[0]);
  dam_range rb = dam_tensor_range(block), rw = dam_tensor_range(wide);
  for (uint32_t n = 0; n < w[0] && !err; n++) {
    uint64_t b = rb.offset + n * bytes;
    uint64_t at = rw.offset + ((uint64_t)n * w[1] + c0) * plane;
    r[n] = to_wide ? (VkBufferCopy){b, at, bytes}
                   : (VkBufferCopy){at, b, bytes};
  }
  if (!err)
    err = to_wide ? dam_exec_copy_regions(ex, rb, rw, r, w[0])
                  : dam_exec_copy_regions(ex, rw, rb, r, w[0]);
  free(r);
  return err;
}

int dam_k_channel_concat(dam_exec *ex, const dam_tensor *const *xs,
                         uint32_t n, dam_tensor *y) {
  for (uint32_t i = 0, c0 = 0; i < n; i += MAX_BLOCKS) {
    uint32_t k = n - i < MAX_BLOCKS ? n - i : MAX_BLOCKS, channels[MAX_BLOCKS];
    const dam_tensor *t[MAX_BLOCKS + 1];
    int err = 0;
    for (uint32_t j = 0, c = c0; j < k && !err; c += channels[j++]) {
      if (!xs[i + j])
        return dam_fail(DAM_EINVAL, "channel_concat: input %u is NULL",
                        i + j);
      channels[j] = xs[i + j]->shape.dim[1];
      err = check_block(xs[i + j], channels[j], y, c);
      t[j] = xs[i + j];
    }
    blocks_push p;
    if (err)
      return err;
    if (use_copies(ex)) {
      for (uint32_t j = 0; j < k && !err; c0 += channels[j++])
        err = copy_block(ex, xs[i + j], y, c0, true);
    } else if (!blocks_fit(y, c0, channels, k, &p)) {
      for (uint32_t j = 0; j < k && !err; c0 += channels[j++])
        err = dam_k_channel_copy(ex, xs[i + j], 0, y, c0, channels[j],
                                 false);
    } else {
      for (uint32_t j = k; j < MAX_BLOCKS; j++)
        t[j] = t[0];
      t[MAX_BLOCKS] = y;
      err = dam__k_run(ex, &shader_channel_concat, t, &p,
                       (uint64_t)p.rows * p.parts);
      for (uint32_t j = 0; j < k; j++)
        c0 += channels[j];
    }
    if (err)
      return err;
  }
  return DAM_OK;
}

int dam_k_channel_split_acc(dam_exec *ex, const dam_tensor *gy,
                            dam_tensor *const *gxs, const uint32_t *channels,
                            uint32_t n) {
  for (uint32_t i = 0, c0 = 0; i < n; i += MAX_BLOCKS) {
    uint32_t k = n - i < MAX_BLOCKS ? n - i : MAX_BLOCKS;
    const dam_tensor *t[MAX_BLOCKS + 1] = {gy};
    const dam_tensor *some = NULL;
    uint32_t mask = 0;
    int err = 0;
    for (uint32_t j = 0, c = c0; j < k && !err; c += channels[i + j++])
      err = check_block(gxs[i + j], channels[i + j], gy, c);
    /* on CPU devices a new gradient takes a copy; the others add */
    for (uint32_t j = 0, c = c0; j < k && !err; c += channels[i + j++])
      if (gxs[i + j] && use_copies(ex) && dam__k_take_zeros(gxs[i + j]))
        err = copy_block(ex, gxs[i + j], gy, c, false);
      else if (gxs[i + j]) {
        mask |= 1u << j;
        some = gxs[i + j];
      }
    blocks_push p;
    if (err)
      return err;
    if (!blocks_fit(gy, c0, channels + i, k, &p)) {
      for (uint32_t j = 0; j < k && !err; c0 += channels[i + j++])
        if (mask >> j & 1u)
          err = dam_k_channel_copy(ex, gy, c0, gxs[i + j], 0,
                                   channels[i + j], true);
    } else {
      for (uint32_t j = 0; j < MAX_BLOCKS; j++)
        t[1 + j] = j < k && (mask >> j & 1u) ? gxs[i + j] : some;
      p.mask = mask;
      err = some ? dam__k_run(ex, &shader_channel_split, t, &p,
                              (uint64_t)p.rows * p.parts)
                 : DAM_OK;
      for (uint32_t j = 0; j < k; j++)
        c0 += channels[i + j];
    }
    if (err)
      return err;
  }
  return DAM_OK;
}
