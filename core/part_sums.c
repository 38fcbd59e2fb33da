/* Deferred sums of partial results over part_sums_sets.comp. */
#include "part_sums.h"
#include "error.h"
#include "kernel_util.h"

#include <string.h>

#include "part_sums_sets.spv.h"

DAM_SHADER_TEXEL(part_sums_sets, 2 * DAM_PENDING_SUMS, 0x2AAA, 0x1555,
                 16 * DAM_PENDING_SUMS);

/* Whether dst can take n_parts slices of `stride` floats from float
 * `first` of parts on. */
static int check(const dam_tensor *parts, uint32_t n_parts, uint64_t first,
                 uint64_t stride, const dam_tensor *dst) {
  const dam_tensor *t[] = {dst};
  int err = dam__k_check("part_sums", t, 1, 0);
  if (!err && (!parts || n_parts == 0 || first + dst->numel > stride ||
               parts->numel != (uint64_t)n_parts * stride))
    err = dam_fail(DAM_EINVAL, "part_sums: %u parts of %llu floats do not "
                   "fill the partial sums", n_parts,
                   (unsigned long long)dst->numel);
  return err;
}

static int queue(dam_exec *ex, dam_pending_sum s) {
  int err = ex->n_pending_sums == DAM_PENDING_SUMS ? dam_part_sums_flush(ex)
                                                   : DAM_OK;
  if (!err)
    ex->pending_sums[ex->n_pending_sums++] = s;
  return err;
}

int dam_part_sums_add(dam_exec *ex, dam_tensor *parts, uint32_t n_parts,
                      dam_tensor *dst) {
  return dam_part_sums_add_split(ex, parts, n_parts, &dst, 1);
}

int dam_part_sums_add_split(dam_exec *ex, dam_tensor *parts,
                            uint32_t n_parts, dam_tensor *const *dst,
                            uint32_t n_dst) {
  uint64_t stride = 0;
  for (uint32_t i = 0; i < n_dst; i++)
    stride += dst[i] ? dst[i]->numel : 0;
  int err = n_dst ? DAM_OK : dam_fail(DAM_EINVAL, "part_sums: no sums");
  uint64_t first = 0;
  for (uint32_t i = 0; !err && i < n_dst; i++) {
    err = check(parts, n_parts, first, stride, dst[i]);
    first += err ? 0 : dst[i]->numel;
  }
  if (err) {
    dam_tensor_release(ex, parts);
    return err;
  }
  /* a destination's pending zeros are written now, not over the sum */
  for (uint32_t i = 0; !err && i < n_dst; i++)
    err = dam_tensor_materialize(ex, dst[i]);
  if (err) {
    dam_tensor_release(ex, parts);
    return err;
  }
  /* a failed flush leaves parts to the end of the step */
  first = 0;
  for (uint32_t i = 0; !err && i < n_dst; first += dst[i++]->numel)
    err = queue(ex, (dam_pending_sum){parts, dst[i], n_parts, (uint32_t)first,
                                      (uint32_t)stride, i + 1 == n_dst});
  return err;
}

int dam_part_sums_flush(dam_exec *ex) {
  uint32_t n = ex->n_pending_sums;
  if (!n)
    return DAM_OK;
  dam_pending_sum q[DAM_PENDING_SUMS];
  memcpy(q, ex->pending_sums, n * sizeof *q);
  ex->n_pending_sums = 0; /* the dispatch may submit, which flushes */
  struct {
    uint32_t count[DAM_PENDING_SUMS], parts[DAM_PENDING_SUMS],
        first[DAM_PENDING_SUMS], stride[DAM_PENDING_SUMS];
  } p;
  const dam_tensor *t[2 * DAM_PENDING_SUMS];
  uint64_t invocations = 0;
  uint32_t shape = n; /* shaders/part_sums_sets.comp's SUMS */
  for (uint32_t i = 0; i < DAM_PENDING_SUMS; i++) {
    const dam_pending_sum *s = &q[i < n ? i : 0];
    p.count[i] = i < n ? (uint32_t)s->dst->numel : 0;
    p.parts[i] = i < n ? s->n_parts : 0;
    p.first[i] = s->first;
    p.stride[i] = s->stride;
    t[2 * i] = s->parts;
    t[2 * i + 1] = s->dst;
    invocations += (p.count[i] + 3) / 4;
    if (i < n && (s->first | s->stride) % 4 == 0)
      shape |= 8u << i;
  }
  int err = dam__k_run_shaped(ex, &shader_part_sums_sets, shape, t, &p,
                              invocations);
  for (uint32_t i = 0; i < n; i++)
    if (q[i].releases_parts)
      dam_tensor_release(ex, q[i].parts);
  return err;
}

int dam_part_sums_flush_touching(dam_exec *ex, const dam_range *r,
                                 uint32_t n) {
  for (uint32_t i = 0; i < ex->n_pending_sums; i++)
    for (uint32_t j = 0; j < n; j++) {
      dam_range dst = dam_tensor_range(ex->pending_sums[i].dst);
      if (dam_ranges_overlap(&dst, &r[j]))
        return dam_part_sums_flush(ex);
    }
  return DAM_OK;
}
