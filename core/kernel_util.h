/*
 * Internal plumbing shared by the core kernel files (kernels.c, conv.c,
 * pool.c, ...): describing an embedded shader and checking and binding
 * tensors.  Not part of the public API.
 */
#ifndef DAM_KERNEL_UTIL_H
#define DAM_KERNEL_UTIL_H

#include "error.h"
#include "tensor.h"

/* A static dam_shader over the embedded SPIR-V array dam_spv_NAME (from
 * NAME.spv.h), local size 64, with the bindings of TEXEL_MASK read as
 * samplerBuffers of vec4s (dam_shader.texel_mask). */
#define DAM_SHADER_TEXEL(NAME, BINDINGS, WRITE_MASK, TEXEL_MASK, PUSH)        \
  DAM_SHADER_SIZED(NAME, BINDINGS, WRITE_MASK, TEXEL_MASK, PUSH, 64)

/* The same with every binding a storage buffer. */
#define DAM_SHADER(NAME, BINDINGS, WRITE_MASK, PUSH)                          \
  DAM_SHADER_TEXEL(NAME, BINDINGS, WRITE_MASK, 0, PUSH)

/* DAM_SHADER_TEXEL for a shader of local size LOCAL. */
#define DAM_SHADER_SIZED(NAME, BINDINGS, WRITE_MASK, TEXEL_MASK, PUSH, LOCAL)  \
  static const dam_shader shader_##NAME = {                                   \
      sizeof(dam_shader), #NAME,   dam_spv_##NAME, sizeof dam_spv_##NAME,     \
      BINDINGS,           WRITE_MASK, PUSH,        LOCAL, TEXEL_MASK}

/* Check that the n tensors t[0..n) are non-NULL and contiguous, and, when
 * numel is non-zero, that each has numel elements; t[0] must fit 32-bit
 * indexing.  DAM_EINVAL / DAM_ESHAPE / DAM_ERANGE with `op` in the
 * message. */
int dam__k_check(const char *op, const dam_tensor *const *t, uint32_t n,
                 uint64_t numel);

/* The ranges r[i] that bind t[i] at binding i of s (s->n_bindings
 * tensors), each made first if it is not yet (dam_tensor_materialize). */
int dam__k_bind(dam_exec *ex, const dam_shader *s, const dam_tensor *const *t,
                dam_range *r);

/* Record a dispatch of s over `invocations` invocations with t[i] bound at
 * binding i (s->n_bindings tensors). */
int dam__k_run(dam_exec *ex, const dam_shader *s, const dam_tensor *const *t,
               const void *push, uint64_t invocations);

/* dam__k_run of s's pipeline specialized on `shape`
 * (dam_exec_dispatch_shaped). */
int dam__k_run_shaped(dam_exec *ex, const dam_shader *s, uint32_t shape,
                      const dam_tensor *const *t, const void *push,
                      uint64_t invocations);

/* Invocations of an elementwise shader over n floats: DAM_EW_SPAN vec4s
 * (or DAM_EW_SPAN / 2 pairs of them) each, and one per float left over
 * past the last whole pair (shaders/elementwise.glsl, whose DAM_EW_SPAN
 * this must match). */
#define DAM_EW_SPAN 4
uint64_t dam__k_elementwise_invocations(uint64_t n);

/* For a kernel about to write every element of t: true when t's contents
 * are zeros not yet written (dam_tensor.zeros_pending), which it then
 * overwrites instead of adding to; they are no longer pending either way. */
bool dam__k_take_zeros(dam_tensor *t);

/* True when ex's device is a CPU (lavapipe) not asked to take a discrete
 * GPU's paths (dam_device.cpu_workers set): kernels pick their
 * barrier-free variants there, shared-memory tiled ones elsewhere. */
bool dam__k_cpu_device(const dam_exec *ex);

/* How many invocations a pass that splits a long reduction into parts
 * aims for: on a CPU device four workgroups per host core (its threads
 * run there), on other devices 2^17. */
uint64_t dam__k_target_invocations(const dam_exec *ex);

#endif
