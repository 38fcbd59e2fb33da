/* Test plugin: a valid op with an int, a float and a bool parameter
 * (y = rate * x, or y = x when `enabled` is 0). */
#include <diffautoml/plugin.h>

typedef struct {
  int32_t width;
  int32_t enabled;
  double rate;
} good_params;

static int good_shape(const void *params, const dam_op_site *site,
                      const dam_shape *in, dam_shape *out) {
  const good_params *p = params;
  if (site->c_in != site->c_out || p->width < 1) return DAM_PLUGIN_EINVAL;
  *out = *in;
  return DAM_PLUGIN_OK;
}

static float good_gain(const dam_op_call *call) {
  const good_params *p = call->params;
  return p->enabled ? (float)p->rate : 1.0f;
}

static int good_forward(const dam_host_api *host, dam_op_call *call) {
  return host->axpby(call->ex, good_gain(call), call->in, 0.0f, call->out);
}

static int good_backward(const dam_host_api *host, dam_op_call *call) {
  if (!call->grad_in) return DAM_PLUGIN_OK;
  return host->axpby(call->ex, good_gain(call), call->grad_out, 1.0f,
                     call->grad_in);
}

static const dam_param_desc good_param_descs[] = {
    DAM_PARAM(good_params, width, DAM_PARAM_INT, 3, 1, 8, "a width"),
    DAM_PARAM(good_params, rate, DAM_PARAM_FLOAT, 0.25, 0, 1, "a rate"),
    DAM_PARAM(good_params, enabled, DAM_PARAM_BOOL, 1, 0, 1, "apply rate"),
};

static const dam_op_desc good_op = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "good_op",
            "y = rate * x when enabled", good_param_descs, 3,
            sizeof(good_params)},
    .infer_shape = good_shape,
    .forward = good_forward,
    .backward = good_backward,
};

DAM_PLUGIN_DEFINE("good_param", "2.1", "BSD-2-Clause", &good_op.hdr)
