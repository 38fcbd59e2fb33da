/*
 * diffautoml hpo SDK: what hyper-parameter modules share.  A module's
 * params block is a dam_hpo_params (or starts with one): the starting
 * value, the range, the optional log-space parametrization and the
 * module's own hyper-optimizer (SGD with weight decay and Nesterov
 * momentum).  DAM_HPO_PARAMS writes its parameter table; dam_hpo_init and
 * dam_hpo_apply are the init() and the update step of the descriptor, so a
 * module only says which reductions it needs and how they make its
 * hypergradient.  The formulas and the defaults: docs/HPO.md.
 */
#ifndef DIFFAUTOML_HPO_H
#define DIFFAUTOML_HPO_H

#include "plugin.h"

#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dam_hpo_params {
  double init; /* -1: the middle of [min, max] */
  double min, max;
  int32_t log_space; /* 1: the hyper-optimizer works on u = log(value) */
  int32_t reserved;
  double lr, momentum, weight_decay; /* the hyper-optimizer */
  double grad_clip; /* largest |dL/du| it takes; 0 = no clipping */
} dam_hpo_params;

/* The parameter table of a dam_hpo_params block:
 *   static const dam_param_desc params[] = {DAM_HPO_PARAMS(0, 1, ...)};
 * LO, HI bound what min, max and init may be set to; MIN, MAX, LOG, LR,
 * MOM, WD, CLIP are the defaults of min, max, log_space and the
 * hyper-optimizer's learning rate, momentum, weight decay and gradient
 * clip.  init defaults to -1. */
#define DAM_HPO_PARAMS(LO, HI, MIN, MAX, LOG, LR, MOM, WD, CLIP)               \
  DAM_PARAM(dam_hpo_params, init, DAM_PARAM_FLOAT, -1, -1, HI,                 \
            "starting value in [min, max]; -1 = the middle of the range "      \
            "(geometric middle when log_space)"),                              \
      DAM_PARAM(dam_hpo_params, min, DAM_PARAM_FLOAT, MIN, LO, HI,             \
                "lower bound; the value is clamped to [min, max] after "       \
                "each update"),                                                \
      DAM_PARAM(dam_hpo_params, max, DAM_PARAM_FLOAT, MAX, LO, HI,             \
                "upper bound, > min"),                                         \
      DAM_PARAM(dam_hpo_params, log_space, DAM_PARAM_BOOL, LOG, 0, 1,          \
                "optimize log(value) instead of the value (needs min > 0)"),   \
      DAM_PARAM(dam_hpo_params, lr, DAM_PARAM_FLOAT, LR, 0, 1e6,               \
                "learning rate of the hyper-optimizer (SGD)"),                 \
      DAM_PARAM(dam_hpo_params, momentum, DAM_PARAM_FLOAT, MOM, 0, 0.999,      \
                "Nesterov momentum of the hyper-optimizer"),                   \
      DAM_PARAM(dam_hpo_params, weight_decay, DAM_PARAM_FLOAT, WD, 0, 1e3,     \
                "weight decay of the hyper-optimizer, on the optimized "       \
                "variable (the value, or its log)"),                           \
      DAM_PARAM(dam_hpo_params, grad_clip, DAM_PARAM_FLOAT, CLIP, 0, 1e6,      \
                "the hyper-optimizer takes a hypergradient of at most this "   \
                "size (in the optimized variable); 0 = no clipping")

/* The default starting value: the middle of [min, max], geometric in log
 * space. */
static inline double dam_hpo_middle(const dam_hpo_params *p) {
  return p->log_space ? sqrt(p->min * p->max) : 0.5 * (p->min + p->max);
}

/* Check a params block for what single ranges can't say (min < max, init
 * inside, min > 0 in log space); the reason goes to the host's log, named
 * after module `name`.  DAM_PLUGIN_EINVAL when it fails. */
static inline int dam_hpo_check(const dam_hpo_params *p, const char *name) {
  const char *why = NULL;
  if (!(p->min < p->max))
    why = "min must be below max";
  else if (p->log_space && !(p->min > 0))
    why = "log_space needs min > 0";
  else if (p->init != -1 && !(p->init >= p->min && p->init <= p->max))
    why = "init must be -1 or inside [min, max]";
  if (!why)
    return DAM_PLUGIN_OK;
  if (dam_plugin_host && dam_plugin_host->log)
    dam_plugin_host->log(0, "hpo '%s': %s (init %g, min %g, max %g)", name, why,
                         p->init, p->min, p->max);
  return DAM_PLUGIN_EINVAL;
}

/* init() of a module: the checked block's starting state. */
static inline int dam_hpo_init(const dam_hpo_params *p, const char *name,
                               dam_hpo_state *st) {
  int rc = dam_hpo_check(p, name);
  if (rc)
    return rc;
  st->value = p->init == -1 ? dam_hpo_middle(p) : p->init;
  st->velocity = 0;
  st->last_grad = 0;
  st->steps = 0;
  return DAM_PLUGIN_OK;
}

/* One hyper-optimizer step from grad = dL_val / d value, in the optimized
 * variable u (the value, or its log: dL/du = value * grad):
 *   d = clip(dL/du, grad_clip) + weight_decay * u;
 *   velocity = momentum * velocity + d;
 *   u -= lr * (d + momentum * velocity)
 * then the value is clamped to [min, max], and a clamped value drops the
 * velocity that pushes it further out.  A non-finite grad leaves st as it
 * is and gives DAM_PLUGIN_EINVAL. */
static inline int dam_hpo_apply(const dam_hpo_params *p, double grad,
                                dam_hpo_state *st) {
  if (!isfinite(grad))
    return DAM_PLUGIN_EINVAL;
  double v = st->value;
  double u = p->log_space ? log(v) : v;
  double d = p->log_space ? v * grad : grad;
  if (p->grad_clip > 0 && fabs(d) > p->grad_clip)
    d = d > 0 ? p->grad_clip : -p->grad_clip;
  d += p->weight_decay * u;
  double vel = p->momentum * st->velocity + d;
  u -= p->lr * (d + p->momentum * vel);
  v = p->log_space ? exp(u) : u;
  if (!(v > p->min)) { /* NaN too */
    v = p->min;
    vel = vel > 0 ? 0 : vel;
  } else if (v >= p->max) {
    v = p->max;
    vel = vel < 0 ? 0 : vel;
  }
  st->value = v;
  st->velocity = vel;
  st->last_grad = grad;
  st->steps++;
  return DAM_PLUGIN_OK;
}

/* y = sum over the step's tensors of <a[i], b[i]>, through the host's
 * dot_sets (ABI 1.2); DAM_PLUGIN_EINVAL on an older host. */
static inline int dam_hpo_dots(const dam_host_api *host, dam_exec *ex,
                               const dam_hpo_step *step, dam_tensor *const *a,
                               dam_tensor *const *b, dam_tensor *y) {
  if (host->abi_minor < 2 ||
      host->struct_size <
          offsetof(dam_host_api, dot_sets) + sizeof host->dot_sets ||
      !host->dot_sets || !a || !b)
    return DAM_PLUGIN_EINVAL;
  return host->dot_sets(ex, a, b, step->n, y);
}

#ifdef __cplusplus
}
#endif
#endif
