/*
 * weight_decay: the weight step's lambda, tuned by hypergradient (DHA).
 * buf = mu buf_prev + g + lambda w and w' = w - eta buf give
 * dw'/d lambda = -eta w, so
 *   dL_val/d lambda = -eta <g_val, w>
 * The engine hands over w' (after the step); with w = w' + eta buf,
 *   <g_val, w> = <g_val, w'> + eta <g_val, buf>
 * from two device reductions.  Defaults: docs/HPO.md.
 */
#include <diffautoml/hpo.h>

static const dam_param_desc wd_params[] = {
    DAM_HPO_PARAMS(0, 1, 1e-4, 5e-4, 0, 1e-5, 0.9, 0, 0),
};

static int wd_init(const void *params, dam_hpo_state *st) {
  return dam_hpo_init(params, "weight_decay", st);
}

static int wd_record(const dam_host_api *host, dam_exec *ex, const void *params,
                     const dam_hpo_step *step, dam_tensor *const *dots) {
  (void)params;
  int rc = dam_hpo_dots(host, ex, step, step->grad_val, step->weights, dots[0]);
  return rc ? rc
            : dam_hpo_dots(host, ex, step, step->grad_val, step->buf, dots[1]);
}

static int wd_update(const void *params, const dam_hpo_step *step,
                     const double *dots, dam_hpo_state *st) {
  double eta = step->learning_rate;
  return dam_hpo_apply(params, -eta * (dots[0] + eta * dots[1]), st);
}

static const dam_hpo_desc weight_decay = {
    .hdr = {sizeof(dam_hpo_desc), DAM_KIND_HPO, "weight_decay",
            "weight decay lambda of the weights; dL_val/d lambda = "
            "-eta <g_val, w>",
            wd_params, sizeof wd_params / sizeof *wd_params,
            sizeof(dam_hpo_params)},
    .target = DAM_HYPER_WEIGHT_DECAY,
    .n_dots = 2,
    .init = wd_init,
    .record = wd_record,
    .update = wd_update,
};

DAM_PLUGIN_DEFINE("weight_decay", "0.1.0", "MIT", &weight_decay.hdr)
