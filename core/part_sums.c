/* Deferred sums of partial results over part_sums_sets.comp. */
#include "part_sums.h"
#include "error.h"
#include "kernel_util.h"

#include <string.h>

#include "part_sums_sets.spv.h"

DAM_SHADER(part_sums_sets, 2 * DAM_PENDING_SUMS, 0x2AAA,
           8 * DAM_PENDING_SUMS);

int dam_part_sums_add(dam_exec *ex, dam_tensor *parts, uint32_t n_parts,
                      dam_tensor *dst) {
  const dam_tensor *t[] = {dst};
  int err = dam__k_check("part_sums", t, 1, 0);
  if (!err && (!parts || parts->numel != (uint64_t)n_parts * dst->numel))
    err = dam_fail(DAM_EINVAL, "part_sums: %u parts of %llu floats do not "
                   "fill the partial sums", n_parts,
                   (unsigned long long)dst->numel);
  if (!err && ex->n_pending_sums == DAM_PENDING_SUMS)
    err = dam_part_sums_flush(ex);
  if (err) {
    dam_tensor_release(ex, parts);
    return err;
  }
  ex->pending_sums[ex->n_pending_sums++] =
      (dam_pending_sum){parts, dst, n_parts};
  return DAM_OK;
}

int dam_part_sums_flush(dam_exec *ex) {
  uint32_t n = ex->n_pending_sums;
  if (!n)
    return DAM_OK;
  dam_pending_sum q[DAM_PENDING_SUMS];
  memcpy(q, ex->pending_sums, n * sizeof *q);
  ex->n_pending_sums = 0; /* the dispatch may submit, which flushes */
  struct { uint32_t count[DAM_PENDING_SUMS], parts[DAM_PENDING_SUMS]; } p;
  const dam_tensor *t[2 * DAM_PENDING_SUMS];
  uint64_t invocations = 0;
  for (uint32_t i = 0; i < DAM_PENDING_SUMS; i++) {
    const dam_pending_sum *s = &q[i < n ? i : 0];
    p.count[i] = i < n ? (uint32_t)s->dst->numel : 0;
    p.parts[i] = i < n ? s->n_parts : 0;
    t[2 * i] = s->parts;
    t[2 * i + 1] = s->dst;
    invocations += p.count[i];
  }
  int err = dam__k_run(ex, &shader_part_sums_sets, t, &p, invocations);
  for (uint32_t i = 0; i < n; i++)
    dam_tensor_release(ex, q[i].parts);
  return err;
}
