/*
 * Host side of the hyper-parameter modules (hpo.h): params and state of
 * one module, its reductions recorded with the step and read back after
 * it, its checkpoint tensor.
 */
#include "hpo.h"
#include "error.h"
#include "host_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAM__HPO_PREFIX "hpo."

int dam_hpo_create(const dam_hpo_desc *desc, const void *params,
                   dam_hpo **out) {
  size_t size = desc->hdr.params_size;
  dam_hpo *h = calloc(1, sizeof *h);
  void *block = calloc(1, size ? size : 1);
  *out = NULL;
  if (!h || !block) {
    free(h);
    free(block);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  if (params)
    memcpy(block, params, size);
  else
    dam_params_defaults(&desc->hdr, block);
  h->desc = desc;
  h->params = block;
  int rc = desc->init(block, &h->state);
  if (rc) {
    dam_hpo_destroy(h);
    return dam_fail(rc == DAM_ENOMEM ? DAM_ENOMEM : DAM_EINVAL,
                    "hpo '%s': init refused its parameters (its log line "
                    "above says why)",
                    desc->hdr.name);
  }
  *out = h;
  return 0;
}

int dam_hpo_create_config(const dam_config *cfg, const dam_hpo_desc *desc,
                          dam_hpo **out) {
  size_t size = desc->hdr.params_size;
  void *block = calloc(1, size ? size : 1);
  *out = NULL;
  if (!block)
    return dam_fail(DAM_ENOMEM, "out of memory");
  int rc = dam_config_fill_params(cfg, &desc->hdr, block);
  if (rc == 0)
    rc = dam_hpo_create(desc, block, out);
  free(block);
  return rc;
}

void dam_hpo_destroy(dam_hpo *h) {
  if (!h)
    return;
  free(h->params);
  free(h);
}

const char *dam_hpo_name(const dam_hpo *h) { return h->desc->hdr.name; }

double dam_hpo_value(const dam_hpo *h) { return h->state.value; }

static int dam__check_step(const dam_hpo *h, const dam_hpo_step *step) {
  const char *name = dam_hpo_name(h);
  if (!step || step->struct_size < sizeof *step)
    return dam_fail(DAM_EINVAL,
                    "hpo '%s': no step, or a step of an older "
                    "layout",
                    name);
  if (step->n && (!step->weights || !step->buf || !step->grad_val))
    return dam_fail(DAM_EINVAL,
                    "hpo '%s': the step lacks weights, buf or grad_val", name);
  if ((h->desc->flags & DAM_HPO_NEEDS_BUF_PREV) && step->n && !step->buf_prev)
    return dam_fail(DAM_EINVAL,
                    "hpo '%s': the step has no buf_prev, which the module "
                    "needs (DAM_HPO_NEEDS_BUF_PREV)",
                    name);
  return 0;
}

int dam_hpo_record(dam_hpo *h, dam_exec *ex, const dam_hpo_step *step) {
  const char *name = dam_hpo_name(h);
  const dam_shape one = {1, {1, 1, 1, 1}};
  int rc = dam__check_step(h, step);
  if (rc)
    return rc;
  if (h->pending)
    return dam_fail(DAM_EINVAL,
                    "hpo '%s': recorded again before dam_hpo_finish", name);
  for (uint32_t i = 0; i < h->desc->n_dots; i++)
    if (!(h->dots[i] = dam_tensor_new(ex, &one, false)))
      return dam_fail(DAM_ENOMEM, "hpo '%s': %s", name, dam_last_error());
  dam_clear_error();
  rc = h->desc->record(dam_host_api_get(), ex, h->params, step, h->dots);
  if (rc)
    return dam_fail(rc, "hpo '%s': record failed: %s", name,
                    *dam_last_error() ? dam_last_error() : dam_strerror(rc));
  h->pending = true;
  return 0;
}

int dam_hpo_update(dam_hpo *h, const dam_hpo_step *step, const float *v) {
  const char *name = dam_hpo_name(h);
  double dots[DAM_HPO_MAX_DOTS] = {0};
  char list[DAM_HPO_MAX_DOTS * 26] = "";
  bool finite = true;
  size_t len = 0;
  if (!h->pending)
    return dam_fail(DAM_EINVAL, "hpo '%s': finish without a recorded step",
                    name);
  h->pending = false;
  for (uint32_t i = 0; i < h->desc->n_dots; i++) {
    dots[i] = v[i];
    finite = finite && isfinite(dots[i]);
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%g",
                            i ? ", " : "", dots[i]);
  }
  dam_hpo_state next = h->state;
  int rc = h->desc->update(h->params, step, dots, &next);
  if (rc)
    return dam_fail(
        DAM_EINVAL, "hpo '%s': update refused the reductions [%s]%s", name,
        list, finite ? "" : ": not finite, did the training diverge?");
  h->state = next;
  return 0;
}

int dam_hpo_finish(dam_hpo *h, dam_exec *ex, const dam_hpo_step *step) {
  if (!h->pending)
    return dam_hpo_update(h, step, NULL);
  float v[DAM_HPO_MAX_DOTS];
  dam_range r[DAM_HPO_MAX_DOTS];
  void *to[DAM_HPO_MAX_DOTS];
  for (uint32_t i = 0; i < h->desc->n_dots; i++) {
    r[i] = dam_tensor_range(h->dots[i]);
    to[i] = &v[i];
  }
  int rc = dam_exec_download_ranges(ex, r, h->desc->n_dots, to);
  if (rc) {
    h->pending = false;
    return rc;
  }
  return dam_hpo_update(h, step, v);
}

void dam_hpo_hypers(const dam_config *cfg, dam_hpo *const *mods, uint32_t n,
                    double *learning_rate, double *weight_decay,
                    double *momentum) {
  *learning_rate = cfg->train.weight_lr;
  *weight_decay = cfg->train.weight_decay;
  *momentum = cfg->train.momentum;
  for (uint32_t i = 0; i < n; i++) {
    double v = dam_hpo_value(mods[i]);
    switch (mods[i]->desc->target) {
    case DAM_HYPER_LEARNING_RATE:
      *learning_rate = v;
      break;
    case DAM_HYPER_WEIGHT_DECAY:
      *weight_decay = v;
      break;
    case DAM_HYPER_MOMENTUM:
      *momentum = v;
      break;
    }
  }
}

/* "hpo.<name>" into buf. */
static const char *dam__tensor_name(const dam_hpo *h, char *buf, size_t n) {
  snprintf(buf, n, DAM__HPO_PREFIX "%s", dam_hpo_name(h));
  return buf;
}

int dam_hpo_save(const dam_hpo *h, dam_safetensors *st) {
  char name[128];
  const uint64_t shape[1] = {4};
  const double v[4] = {h->state.value, h->state.velocity, h->state.last_grad,
                       (double)h->state.steps};
  return dam_st_add(st, dam__tensor_name(h, name, sizeof name), DAM_ST_F64, 1,
                    shape, v);
}

int dam_hpo_load(dam_hpo *h, const dam_safetensors *st) {
  char name[128];
  const char *file = st->path ? st->path : "checkpoint";
  const dam_st_tensor *t =
      dam_st_find(st, dam__tensor_name(h, name, sizeof name));
  if (!t)
    return dam_fail(DAM_ENOTFOUND,
                    "%s: no tensor '%s' (was hpo module '%s' enabled when it "
                    "was written?)",
                    file, name, dam_hpo_name(h));
  if (t->dtype != DAM_ST_F64 || t->ndim != 1 || t->shape[0] != 4)
    return dam_fail(DAM_EDATA,
                    "%s: tensor '%s' is %s with %u dims, not F64 [4]", file,
                    name, dam_st_dtype_name(t->dtype), t->ndim);
  double v[4];
  memcpy(v, t->data, sizeof v);
  if (!isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]) || !(v[3] >= 0) ||
      v[3] > 9007199254740992.0 || v[3] != floor(v[3]))
    return dam_fail(DAM_EDATA,
                    "%s: tensor '%s' holds [%g, %g, %g, %g]: not a state "
                    "(value, velocity, last_grad, steps)",
                    file, name, v[0], v[1], v[2], v[3]);
  h->state = (dam_hpo_state){v[0], v[1], v[2], (uint64_t)v[3]};
  return 0;
}
