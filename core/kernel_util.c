/* Shared checks and dispatch for the core kernel files. */
#include "kernel_util.h"

int dam__k_check(const char *op, const dam_tensor *const *t, uint32_t n,
                 uint64_t numel) {
  for (uint32_t i = 0; i < n; i++) {
    if (!t[i])
      return dam_fail(DAM_EINVAL, "%s: tensor %u is NULL", op, i);
    if (!dam_tensor_contiguous(t[i]))
      return dam_fail(DAM_EINVAL, "%s: tensor %u is not contiguous", op, i);
    if (numel && t[i]->numel != numel)
      return dam_fail(DAM_ESHAPE, "%s: tensor %u has %llu elements, "
                      "expected %llu", op, i,
                      (unsigned long long)t[i]->numel,
                      (unsigned long long)numel);
  }
  if (t[0]->numel > UINT32_MAX)
    return dam_fail(DAM_ERANGE, "%s: more than 2^32 elements", op);
  return DAM_OK;
}

int dam__k_bind(dam_exec *ex, const dam_shader *s, const dam_tensor *const *t,
                dam_range *r) {
  for (uint32_t i = 0; i < s->n_bindings; i++) {
    int err = dam_tensor_materialize(ex, (dam_tensor *)t[i]);
    if (err)
      return err;
    r[i] = dam_tensor_binding(t[i], s, i);
  }
  return DAM_OK;
}

int dam__k_run(dam_exec *ex, const dam_shader *s, const dam_tensor *const *t,
               const void *push, uint64_t invocations) {
  return dam__k_run_shaped(ex, s, 0, t, push, invocations);
}

int dam__k_run_shaped(dam_exec *ex, const dam_shader *s, uint32_t shape,
                      const dam_tensor *const *t, const void *push,
                      uint64_t invocations) {
  dam_range r[DAM_MAX_BINDINGS];
  int err = dam__k_bind(ex, s, t, r);
  return err ? err
             : dam_exec_dispatch_shaped(ex, s, shape, r, s->n_bindings, push,
                                        (uint32_t)invocations);
}

uint64_t dam__k_elementwise_invocations(uint64_t n) {
  uint64_t vec4_runs = (n / 4 + DAM_EW_SPAN - 1) / DAM_EW_SPAN;
  return vec4_runs > n % 8 ? vec4_runs : n % 8;
}

bool dam__k_take_zeros(dam_tensor *t) {
  bool pending = t->zeros_pending;
  t->zeros_pending = false;
  return pending;
}

bool dam__k_cpu_device(const dam_exec *ex) { return ex->dev->cpu_workers; }

uint64_t dam__k_target_invocations(const dam_exec *ex) {
  return dam__k_cpu_device(ex) ? 256ull * ex->dev->cpu_workers : 1u << 17;
}
