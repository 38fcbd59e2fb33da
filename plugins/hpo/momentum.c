/*
 * momentum: the weight step's mu, tuned by hypergradient (beyond DHA,
 * which keeps mu = 0.9).  buf = mu buf_prev + g + lambda w and
 * w' = w - eta buf give dw'/d mu = -eta buf_prev, so
 *   dL_val/d mu = -eta <g_val, buf_prev>
 * one device reduction; the engine hands over buf_prev because the module
 * sets DAM_HPO_NEEDS_BUF_PREV.  Defaults: docs/HPO.md.
 */
#include <diffautoml/hpo.h>

static const dam_param_desc mu_params[] = {
    DAM_HPO_PARAMS(0, 0.999, 0.8, 0.99, 0, 5e-4, 0.9, 0, 1),
};

static int mu_init(const void *params, dam_hpo_state *st) {
  return dam_hpo_init(params, "momentum", st);
}

static int mu_record(const dam_host_api *host, dam_exec *ex, const void *params,
                     const dam_hpo_step *step, dam_tensor *const *dots) {
  (void)params;
  return dam_hpo_dots(host, ex, step, step->grad_val, step->buf_prev, dots[0]);
}

static int mu_update(const void *params, const dam_hpo_step *step,
                     const double *dots, dam_hpo_state *st) {
  return dam_hpo_apply(params, -step->learning_rate * dots[0], st);
}

static const dam_hpo_desc momentum = {
    .hdr = {sizeof(dam_hpo_desc), DAM_KIND_HPO, "momentum",
            "momentum mu of the weights; dL_val/d mu = "
            "-eta <g_val, buf_prev>",
            mu_params, sizeof mu_params / sizeof *mu_params,
            sizeof(dam_hpo_params)},
    .target = DAM_HYPER_MOMENTUM,
    .flags = DAM_HPO_NEEDS_BUF_PREV,
    .n_dots = 1,
    .init = mu_init,
    .record = mu_record,
    .update = mu_update,
};

DAM_PLUGIN_DEFINE("momentum", "0.1.0", "MIT", &momentum.hdr)
