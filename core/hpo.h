/*
 * Hyper-parameter modules on the host side: one dam_hpo is an hpo plugin
 * descriptor with its filled params block and its state.  Each training
 * step the engine records the module's device reductions (dam_hpo_record)
 * with the rest of the step, and once the device is done reads them back
 * and lets the module update itself (dam_hpo_finish).  The state goes into
 * checkpoints as an F64 tensor "hpo.<name>" [value, velocity, last_grad,
 * steps].  Formulas and defaults: docs/HPO.md.
 */
#ifndef DAM_HPO_H
#define DAM_HPO_H

#include <diffautoml/plugin.h>
#include <stdbool.h>

#include "config.h"
#include "safetensors.h"
#include "tensor.h"

typedef struct dam_hpo {
  const dam_hpo_desc *desc;
  void *params; /* the filled block, owned */
  dam_hpo_state state;
  dam_tensor *dots[DAM_HPO_MAX_DOTS]; /* step tensors of the pending step */
  bool pending;                       /* recorded, not finished */
} dam_hpo;

/* A module of desc with a copy of `params` (desc->hdr.params_size bytes;
 * NULL: the declared defaults), started by desc->init.  DAM_EINVAL when
 * init refuses the block (the plugin logs why), DAM_ENOMEM.  Free with
 * dam_hpo_destroy. */
int dam_hpo_create(const dam_hpo_desc *desc, const void *params, dam_hpo **out);

/* The same with the params block filled from the config (defaults, then
 * hpo.params.<name>): DAM_ECONFIG with FILE:LINE for a bad value, then as
 * dam_hpo_create. */
int dam_hpo_create_config(const dam_config *cfg, const dam_hpo_desc *desc,
                          dam_hpo **out);

/* Free h (NULL is fine).  Its dot tensors belong to the step they were
 * recorded in. */
void dam_hpo_destroy(dam_hpo *h);

/* Record the module's reductions over `step` into ex: n_dots one-element
 * step tensors, filled by desc->record.  Nothing waits.  DAM_EINVAL for a
 * step that lacks what the module needs (buf_prev when it sets
 * DAM_HPO_NEEDS_BUF_PREV) or a step still pending; the plugin's or the
 * kernel's error otherwise, naming the module. */
int dam_hpo_record(dam_hpo *h, dam_exec *ex, const dam_hpo_step *step);

/* Read the recorded reductions back (waiting for the device) and let the
 * module compute its hypergradient and update its state.  Call it with the
 * same step, after dam_hpo_record and before dam_exec_end_step.  DAM_EINVAL
 * when nothing is pending or the module refuses (a non-finite
 * hypergradient: the state is left as it was); DAM_EVULKAN. */
int dam_hpo_finish(dam_hpo *h, dam_exec *ex, const dam_hpo_step *step);

/* What dam_hpo_finish does once the values of the recorded reductions
 * (h->dots[0 .. n_dots), in order) are on the host: the engine reads them
 * back with the rest of its step, in the same wait.  Errors as
 * dam_hpo_finish, without DAM_EVULKAN. */
int dam_hpo_update(dam_hpo *h, const dam_hpo_step *step, const float *v);

/* The hyper-parameter's current value. */
double dam_hpo_value(const dam_hpo *h);

/* The module's name (its descriptor's). */
const char *dam_hpo_name(const dam_hpo *h);

/* The (eta, lambda, mu) a weight step uses: train.weight_lr,
 * train.weight_decay and train.momentum from cfg, each replaced by the
 * value of the module among mods[0..n) that owns it. */
void dam_hpo_hypers(const dam_config *cfg, dam_hpo *const *mods, uint32_t n,
                    double *learning_rate, double *weight_decay,
                    double *momentum);

/* Add the state to a checkpoint as the F64 tensor "hpo.<name>" [4].
 * Errors of dam_st_add. */
int dam_hpo_save(const dam_hpo *h, dam_safetensors *st);

/* Restore the state from a checkpoint's "hpo.<name>".  DAM_ENOTFOUND
 * when it has none, DAM_EDATA for a tensor that is not F64 [4] or holds a
 * non-finite value or a bad step count; h is unchanged on error. */
int dam_hpo_load(dam_hpo *h, const dam_safetensors *st);

#endif
