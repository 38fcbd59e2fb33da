/*
 * Helpers shared by the augment plugins of this folder (affine.c, cutout.c,
 * pointwise.c, enhance.c).  Plugin-local: it needs only the SDK header.
 * A plugin that dispatches aug_sum.comp defines AUG_USE_SUM before
 * including it (and lists aug_sum.comp among its shaders in meson.build).
 */
#ifndef AUGMENT_UTIL_H
#define AUGMENT_UTIL_H

#include <diffautoml/plugin.h>

/* Declares `static const dam_shader VAR` over the embedded SPIR-V array
 * dam_spv_SPV (from SPV.spv.h, included before): called NAME in the host's
 * messages and profiles, with N_BINDINGS bindings, WRITE_MASK, the push
 * constants of type PUSH, and local_size_x 64 (every shader here). */
#define AUG_SHADER(VAR, SPV, NAME, N_BINDINGS, WRITE_MASK, PUSH)               \
  static const dam_shader VAR = {                                              \
      .struct_size = sizeof(dam_shader),                                       \
      .name = NAME,                                                            \
      .spirv = dam_spv_##SPV,                                                  \
      .spirv_size = sizeof dam_spv_##SPV,                                      \
      .n_bindings = N_BINDINGS,                                                \
      .write_mask = WRITE_MASK,                                                \
      .push_size = sizeof(PUSH),                                               \
      .local_size_x = 64,                                                      \
  }

/* Defines the descriptor callbacks NAME_forward and NAME_backward as
 * FORWARD(host, call, ARG) and BACKWARD(host, call, ARG). */
#define AUG_CALLS(NAME, FORWARD, BACKWARD, ARG)                                \
  static int NAME##_forward(const dam_host_api *host,                          \
                            const dam_augment_call *call) {                    \
    return FORWARD(host, call, ARG);                                           \
  }                                                                            \
  static int NAME##_backward(const dam_host_api *host,                         \
                             const dam_augment_call *call) {                   \
    return BACKWARD(host, call, ARG);                                          \
  }

/* The element count of t, over all four dims (64-bit: no wrap). */
static inline uint64_t aug_numel(const dam_host_api *host,
                                 const dam_tensor *t) {
  dam_shape s;
  host->tensor_shape(t, &s);
  return (uint64_t)s.dim[0] * s.dim[1] * s.dim[2] * s.dim[3];
}

/* 1 when t is non-NULL and its four dims equal s's, else 0. */
static inline int aug_same_shape(const dam_host_api *host, const dam_tensor *t,
                                 const dam_shape *s) {
  dam_shape b;
  if (!t)
    return 0;
  host->tensor_shape(t, &b);
  for (int d = 0; d < 4; d++)
    if (b.dim[d] != s->dim[d])
      return 0;
  return 1;
}

/* Why `call` breaks the SDK's contract, or NULL.  in must be a non-empty
 * 4-D [N, C, H, W] tensor of at most UINT32_MAX elements, magnitude and
 * seed must hold N elements, images first .. first+count-1 must lie in the
 * batch; forward (backward == 0): out has in's shape; backward: grad_out
 * has it, grad_in is NULL or has it, grad_magnitude is NULL or holds N
 * elements.  *s receives in's shape once in is known. */
static inline const char *aug_call_error(const dam_host_api *host,
                                         const dam_augment_call *call,
                                         int backward, dam_shape *s) {
  if (!call->in || !call->magnitude || !call->seed)
    return "a tensor is missing";
  host->tensor_shape(call->in, s);
  uint64_t n = s->dim[0], total = aug_numel(host, call->in);
  if (s->ndim != 4 || total == 0 || total > UINT32_MAX)
    return "the images must be a non-empty 4-D tensor of under 2^32 floats";
  if ((uint64_t)call->first + call->count > n)
    return "images first .. first+count-1 are not in the batch";
  if (aug_numel(host, call->magnitude) != n ||
      aug_numel(host, call->seed) != n ||
      (backward && call->grad_magnitude &&
       aug_numel(host, call->grad_magnitude) != n))
    return "magnitude and seed must hold one value per image";
  if (backward ? !aug_same_shape(host, call->grad_out, s) ||
                     (call->grad_in && !aug_same_shape(host, call->grad_in, s))
               : !aug_same_shape(host, call->out, s))
    return "the images' tensors differ in shape";
  return NULL;
}

/* aug_call_error as a return code: DAM_PLUGIN_OK, or DAM_PLUGIN_EINVAL
 * after logging "augment NAME: why" as an error. */
static inline int aug_check_call(const dam_host_api *host,
                                 const dam_augment_call *call, const char *name,
                                 int backward, dam_shape *s) {
  const char *why = aug_call_error(host, call, backward, s);
  if (!why)
    return DAM_PLUGIN_OK;
  host->log(0, "augment %s: %s", name, why);
  return DAM_PLUGIN_EINVAL;
}

/* A new step tensor of n floats ([n, 1, 1, 1]), or NULL. */
static inline dam_tensor *aug_scratch(const dam_host_api *host, dam_exec *ex,
                                      uint32_t n) {
  dam_shape s = {1, {n, 1, 1, 1}};
  return host->tensor_new(ex, &s);
}

#ifdef AUG_USE_SUM
#include "aug_sum.spv.h"

/* Push constants of aug_sum.comp (its P block). */
typedef struct aug_sum_push {
  uint32_t src_image0, dst_image0, count, len;
  float scale;
  uint32_t accumulate;
} aug_sum_push;

AUG_SHADER(aug_sum_shader, aug_sum, "aug_sum", 2, 0x2, aug_sum_push);

/* Records dst[dst_image0 + i] = scale * the sum of src's image
 * src_image0 + i (`len` consecutive floats), plus dst's old value when
 * accumulate != 0, for i < count. */
static inline int aug_image_sums(const dam_host_api *host, dam_exec *ex,
                                 dam_tensor *src, uint32_t src_image0,
                                 dam_tensor *dst, uint32_t dst_image0,
                                 uint32_t count, uint32_t len, float scale,
                                 uint32_t accumulate) {
  aug_sum_push p = {src_image0, dst_image0, count, len, scale, accumulate};
  dam_tensor *t[2] = {src, dst};
  return host->dispatch(ex, &aug_sum_shader, t, 2, &p, count);
}
#endif

#endif
