/* Tensor allocation, upload/download and lazily created gradients. */
#include "tensor.h"
#include "batchnorm.h"
#include "error.h"
#include "kernels.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

dam_shape dam_shape4(uint32_t n, uint32_t c, uint32_t h, uint32_t w) {
  dam_shape s = {4, {n, c, h, w}};
  while (s.ndim > 1 && s.dim[s.ndim - 1] == 0)
    s.dim[--s.ndim] = 1;
  return s;
}

uint64_t dam_shape_numel(const dam_shape *s) {
  uint64_t n = 1;
  for (uint32_t i = 0; i < s->ndim; i++)
    n *= s->dim[i];
  return n;
}

bool dam_shape_equal(const dam_shape *a, const dam_shape *b) {
  if (a->ndim != b->ndim)
    return false;
  for (uint32_t i = 0; i < a->ndim; i++)
    if (a->dim[i] != b->dim[i])
      return false;
  return true;
}

dam_tensor *dam_tensor_new(dam_exec *ex, const dam_shape *shape,
                           bool persistent) {
  if (shape->ndim < 1 || shape->ndim > 4) {
    dam_fail(DAM_EINVAL, "tensor of %u dims (1..4)", shape->ndim);
    return NULL;
  }
  dam_tensor *t = calloc(1, sizeof *t);
  if (!t) {
    dam_fail(DAM_ENOMEM, "out of host memory");
    return NULL;
  }
  t->shape = *shape;
  for (uint32_t i = shape->ndim; i < 4; i++)
    t->shape.dim[i] = 1;
  t->numel = dam_shape_numel(&t->shape);
  uint32_t stride = 1;
  for (int i = 3; i >= 0; i--) {
    t->stride[i] = stride;
    stride *= t->shape.dim[i];
  }
  t->persistent = persistent;
  dam_pool *pool = persistent ? &ex->params : &ex->arena;
  if (t->numel == 0 ||
      dam_pool_alloc(pool, t->numel * sizeof(float), &t->mem) != DAM_OK) {
    if (t->numel == 0)
      dam_fail(DAM_EINVAL, "tensor with a zero dimension");
    free(t);
    return NULL;
  }
  dam_tensor **head = persistent ? &ex->persistent_tensors
                                  : &ex->step_tensors;
  t->next = *head;
  if (*head)
    (*head)->prev = t;
  *head = t;
  return t;
}

/* A persistent tensor filled with value, appended to *sink when set. */
static dam_tensor *filled(dam_exec *ex, const dam_shape *shape, float value,
                          dam_tensor_list *sink) {
  dam_tensor *t = dam_tensor_new(ex, shape, true);
  if (t && (dam_k_fill(ex, t, value) != DAM_OK ||
            (sink && dam_tensor_list_push(sink, t)))) {
    dam_tensor_free(ex, t);
    return NULL;
  }
  return t;
}

dam_tensor *dam_state_new(dam_exec *ex, const dam_shape *shape,
                          float value) {
  return filled(ex, shape, value, ex->state_sink);
}

dam_tensor *dam_param_new(dam_exec *ex, const dam_shape *shape) {
  dam_tensor *t = filled(ex, shape, 0.0f, ex->param_sink);
  if (t)
    t->requires_grad = true;
  return t;
}

int dam_tensor_list_push(dam_tensor_list *l, dam_tensor *t) {
  if (l->n == l->cap) {
    uint32_t cap = l->cap ? 2 * l->cap : 8;
    dam_tensor **a = realloc(l->t, cap * sizeof *a);
    if (!a)
      return dam_fail(DAM_ENOMEM, "out of memory");
    l->t = a;
    l->cap = cap;
  }
  l->t[l->n++] = t;
  return 0;
}

void dam_exec_seed(dam_exec *ex, uint64_t seed) { ex->rng = seed; }

int dam_tensor_init_uniform(dam_exec *ex, dam_tensor *t, float lo, float hi) {
  float *v = malloc(t->numel * sizeof *v);
  if (!v)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint64_t i = 0; i < t->numel; i++)
    v[i] = lo + (hi - lo) * (float)dam_uniform01(&ex->rng);
  int err = dam_tensor_upload(ex, t, v);
  free(v);
  return err;
}

void dam_tensor_free(dam_exec *ex, dam_tensor *t) {
  if (!t || !t->persistent)
    return;
  dam_tensor_free(ex, t->grad);
  dam_pool_free(&ex->params, &t->mem);
  if (t->prev)
    t->prev->next = t->next;
  else
    ex->persistent_tensors = t->next;
  if (t->next)
    t->next->prev = t->prev;
  free(t);
}

void dam_tensor_release(dam_exec *ex, dam_tensor *t) {
  if (!t || t->persistent || !t->mem.block)
    return;
  dam_pool_free(&ex->arena, &t->mem);
  t->mem = (dam_alloc){0};
}

int dam_tensor_materialize(dam_exec *ex, dam_tensor *t) {
  if (t->zeros_pending && t->mem.block) {
    t->zeros_pending = false;
    return dam_exec_zero(ex, dam_tensor_range(t));
  }
  if (t->persistent || t->mem.block)
    return DAM_OK;
  if (!dam_tensor_readable(t))
    return dam_fail(DAM_EINVAL, "a released %u-dim tensor of %llu elements "
                    "was read", t->shape.ndim, (unsigned long long)t->numel);
  int err = dam_pool_alloc(&ex->arena, t->numel * sizeof(float), &t->mem);
  if (err)
    return err;
  return t->relu_of ? dam_k_relu(ex, t->relu_of, t)
                    : dam_k_batchnorm_apply(ex, t->bn_of, t->bn_coef, t);
}

bool dam_tensor_readable(const dam_tensor *t) {
  return t->persistent || t->mem.block || t->relu_of || t->bn_of;
}

bool dam_tensor_bn_unmade(const dam_tensor *t) {
  return t->bn_of && !t->mem.block;
}

dam_range dam_tensor_range(const dam_tensor *t) {
  return (dam_range){t->mem.buffer, t->mem.offset,
                     t->numel * sizeof(float)};
}

dam_range dam_tensor_binding(const dam_tensor *t, const dam_shader *s,
                             uint32_t i) {
  dam_range r = dam_tensor_range(t);
  VkDeviceSize texels = (r.size + 15) / 16 * 16;
  if (dam_shader_texel_mask(s) & (1u << i) && texels <= t->mem.size)
    r.size = texels;
  return r;
}

bool dam_tensor_contiguous(const dam_tensor *t) {
  uint32_t stride = 1;
  for (int i = 3; i >= 0; i--) {
    if (t->shape.dim[i] > 1 && t->stride[i] != stride)
      return false;
    stride *= t->shape.dim[i];
  }
  return true;
}

int dam_tensor_upload(dam_exec *ex, dam_tensor *t, const float *data) {
  t->zeros_pending = false; /* written whole */
  return dam_exec_upload(ex, dam_tensor_range(t), data);
}

int dam_tensor_download(dam_exec *ex, const dam_tensor *t, float *data) {
  int err = dam_tensor_materialize(ex, (dam_tensor *)t);
  if (err)
    return err;
  if (!t->mem.map) /* device-only memory: through staging */
    return dam_exec_download(ex, dam_tensor_range(t), data);
  err = dam_exec_wait(ex); /* UMA: read the mapped memory itself */
  if (!err)
    memcpy(data, t->mem.map, t->numel * sizeof(float));
  return err;
}

dam_tensor *dam_tensor_zeros(dam_exec *ex, const dam_shape *shape) {
  dam_tensor *t = dam_tensor_new(ex, shape, false);
  if (t)
    t->zeros_pending = true;
  return t;
}

dam_tensor *dam_tensor_grad(dam_exec *ex, dam_tensor *t) {
  if (t->grad)
    return t->grad;
  dam_tensor *g = t->persistent ? dam_tensor_new(ex, &t->shape, true)
                                : dam_tensor_zeros(ex, &t->shape);
  if (!g)
    return NULL;
  if (t->persistent && dam_k_fill(ex, g, 0.0f) != DAM_OK) {
    dam_tensor_free(ex, g);
    return NULL;
  }
  t->grad = g;
  return g;
}

static void free_list(dam_tensor **head) {
  for (dam_tensor *t = *head, *next; t; t = next) {
    next = t->next;
    free(t);
  }
  *head = NULL;
}

void dam__tensors_release_step(dam_exec *ex) { free_list(&ex->step_tensors); }

void dam__tensors_release_persistent(dam_exec *ex) {
  free_list(&ex->persistent_tensors);
}
