/* Augment plugin instances and the differentiable stage over them. */
#include "augment.h"
#include "error.h"
#include "host_api.h"
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

int dam_augment_create(const dam_augment_desc *desc, const void *params,
                       dam_augment **out) {
  dam_augment *a = calloc(1, sizeof *a);
  size_t size = desc->hdr.params_size;
  if (!a || !(a->params = calloc(1, size ? size : 1))) {
    free(a);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  if (params)
    memcpy(a->params, params, size);
  else
    dam_params_defaults(&desc->hdr, a->params);
  a->desc = desc;
  *out = a;
  return DAM_OK;
}

void dam_augment_destroy(dam_augment *a) {
  if (!a)
    return;
  free(a->params);
  free(a);
}

/* What a stage node keeps for its backward. */
typedef struct stage_record {
  uint32_t n_groups;
  float fill;
  dam_augment_group groups[];
} stage_record;

static dam_augment_call group_call(dam_exec *ex, const dam_augment_group *g,
                                   dam_tensor *const *in, dam_tensor *out,
                                   float fill) {
  return (dam_augment_call){
      .struct_size = sizeof(dam_augment_call),
      .params = g->aug->params,
      .ex = ex,
      .first = g->first,
      .count = g->count,
      .in = in[0],
      .out = out,
      .magnitude = in[1],
      .seed = in[2],
      .fill = fill,
  };
}

/* node->in = {x, magnitude, seed}. */
static int stage_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  stage_record *r = node->data;
  dam_tensor *gx = NULL, *gm = NULL;
  if ((needs & 1u) && !(gx = dam_tensor_grad(ex, node->in[0])))
    return DAM_ENOMEM;
  if ((needs & 2u) && !(gm = dam_tensor_grad(ex, node->in[1])))
    return DAM_ENOMEM;
  for (uint32_t i = 0; i < r->n_groups; i++) {
    const dam_augment_group *g = &r->groups[i];
    dam_augment_call call = group_call(ex, g, node->in, node->out, r->fill);
    call.needs_grad = needs & 3u;
    call.grad_out = node->out->grad;
    call.grad_in = gx;
    call.grad_magnitude = gm;
    dam_clear_error();
    int err = g->aug->desc->backward(dam_host_api_get(), &call);
    if (err)
      return dam_plugin_fail(&g->aug->desc->hdr, "backward", err);
  }
  return DAM_OK;
}

static int check_groups(const dam_augment_group *groups, uint32_t n_groups,
                        const dam_tensor *x, const dam_tensor *magnitude,
                        const dam_tensor *seed) {
  if (!x || !magnitude || !seed || !groups)
    return dam_fail(DAM_EINVAL, "augment: NULL argument");
  uint32_t n = x->shape.dim[0];
  if (x->shape.ndim != 4 || magnitude->numel != n || seed->numel != n)
    return dam_fail(DAM_ESHAPE, "augment: images [N, C, H, W] with N "
                    "magnitudes and seeds expected (N = %u, %llu, %llu)", n,
                    (unsigned long long)magnitude->numel,
                    (unsigned long long)seed->numel);
  uint32_t next = 0;
  for (uint32_t i = 0; i < n_groups; i++) {
    if (!groups[i].aug || groups[i].first != next || !groups[i].count)
      return dam_fail(DAM_EINVAL, "augment: group %u must start at image %u "
                      "and be non-empty", i, next);
    next += groups[i].count;
  }
  if (next != n)
    return dam_fail(DAM_EINVAL, "augment: the groups cover %u of %u images",
                    next, n);
  return DAM_OK;
}

dam_tensor *dam_augment_stage(dam_exec *ex, const dam_augment_group *groups,
                              uint32_t n_groups, dam_tensor *x,
                              dam_tensor *magnitude, dam_tensor *seed,
                              float fill) {
  if (check_groups(groups, n_groups, x, magnitude, seed))
    return NULL;
  stage_record *r = malloc(sizeof *r + n_groups * sizeof *groups);
  dam_tensor *y = r ? dam_tensor_new(ex, &x->shape, false) : NULL;
  if (!y) {
    free(r);
    if (!dam_last_error()[0])
      dam_fail(DAM_ENOMEM, "out of memory");
    return NULL;
  }
  r->n_groups = n_groups;
  r->fill = fill;
  memcpy(r->groups, groups, n_groups * sizeof *groups);
  dam_tensor *in[] = {x, magnitude, seed};
  int err = 0;
  for (uint32_t i = 0; i < n_groups && !err; i++) {
    dam_augment_call call = group_call(ex, &groups[i], in, y, fill);
    dam_clear_error();
    if ((err = groups[i].aug->desc->forward(dam_host_api_get(), &call)))
      err = dam_plugin_fail(&groups[i].aug->desc->hdr, "forward", err);
  }
  dam_node node = {.name = "augment",
                   .backward = stage_backward,
                   .in = {x, magnitude, seed},
                   .n_in = 3,
                   .out = y,
                   .data = r,
                   .free_data = free};
  return dam_tape_finish(ex, err, &node);
}
