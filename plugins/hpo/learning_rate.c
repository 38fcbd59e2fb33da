/*
 * learning_rate: the weight step's eta, tuned by hypergradient (DHA).
 * The step w' = w - eta * buf gives dw'/d eta = -buf, so with g_val the
 * validation gradient at w'
 *   dL_val/d eta = -<g_val, buf>
 * one device reduction over every trained tensor.  By default the
 * hyper-optimizer works on log(eta), where the step is scale-free:
 * dL/d log(eta) = -eta <g_val, buf> is about the validation loss one
 * training step gains or loses (docs/HPO.md).
 */
#include <diffautoml/hpo.h>

static const dam_param_desc lr_params[] = {
    DAM_HPO_PARAMS(1e-6, 10, 1e-3, 0.05, 1, 0.1, 0.9, 0, 1),
};

static int lr_init(const void *params, dam_hpo_state *st) {
  return dam_hpo_init(params, "learning_rate", st);
}

static int lr_record(const dam_host_api *host, dam_exec *ex, const void *params,
                     const dam_hpo_step *step, dam_tensor *const *dots) {
  (void)params;
  return dam_hpo_dots(host, ex, step, step->grad_val, step->buf, dots[0]);
}

static int lr_update(const void *params, const dam_hpo_step *step,
                     const double *dots, dam_hpo_state *st) {
  (void)step;
  return dam_hpo_apply(params, -dots[0], st);
}

static const dam_hpo_desc learning_rate = {
    .hdr = {sizeof(dam_hpo_desc), DAM_KIND_HPO, "learning_rate",
            "learning rate eta of the weights; dL_val/d eta = -<g_val, buf>",
            lr_params, sizeof lr_params / sizeof *lr_params,
            sizeof(dam_hpo_params)},
    .target = DAM_HYPER_LEARNING_RATE,
    .n_dots = 1,
    .init = lr_init,
    .record = lr_record,
    .update = lr_update,
};

DAM_PLUGIN_DEFINE("learning_rate", "0.1.0", "MIT", &learning_rate.hdr)
