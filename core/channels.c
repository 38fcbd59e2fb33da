/* Channel-range copy and accumulate (concat, slice and their backwards)
 * over channel_copy.comp. */
#include "channels.h"
#include "error.h"
#include "kernel_util.h"

#include "channel_copy.spv.h"
#include "channel_copy_shift.spv.h"

DAM_SHADER_TEXEL(channel_copy, 2, 0x2, 0x1, 32);
DAM_SHADER(channel_copy_shift, 2, 0x2, 40);

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

int dam_k_channel_copy(dam_exec *ex, const dam_tensor *src, uint32_t src_c0,
                       dam_tensor *dst, uint32_t dst_c0, uint32_t count,
                       bool accumulate) {
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
