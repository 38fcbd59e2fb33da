/* Row gathers over gather_rows.comp. */
#include "gather.h"
#include "kernel_util.h"

#include "gather_rows.spv.h"

DAM_SHADER(gather_rows, 3, 0x4, 12);

int dam_k_gather_rows(dam_exec *ex, const dam_tensor *x, const dam_tensor *idx,
                      dam_tensor *y, bool accumulate) {
  const dam_tensor *t[] = {x, idx, y};
  int err = dam__k_check("gather_rows", t, 3, 0);
  if (err)
    return err;
  uint32_t rows = y->shape.dim[0], xrows = x->shape.dim[0];
  uint64_t len = y->numel / rows;
  if (x->numel / xrows != len || x->numel % xrows || idx->numel != rows)
    return dam_fail(DAM_ESHAPE, "gather_rows: rows of %llu and %llu floats, "
                    "%llu indices for %u rows",
                    (unsigned long long)(x->numel / xrows),
                    (unsigned long long)len, (unsigned long long)idx->numel,
                    rows);
  struct {
    uint32_t rows, len, accumulate;
  } p = {rows, (uint32_t)len, accumulate ? 1u : 0u};
  return dam__k_run(ex, &shader_gather_rows, t, &p, y->numel);
}

dam_tensor *dam_uint_tensor(dam_exec *ex, const uint32_t *v, uint32_t n) {
  dam_shape s = dam_shape4(n, 0, 0, 0);
  dam_tensor *t = dam_tensor_new(ex, &s, false);
  if (t && dam_tensor_upload(ex, t, (const float *)(const void *)v)) /* bits */
    return NULL;
  return t;
}
