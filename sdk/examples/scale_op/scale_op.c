/*
 * scale_op: an example out-of-tree op plugin for diffautoml.
 *
 * The op "scale" computes y = alpha * x with one float parameter, alpha,
 * declared as data so the host fills it from the config and checks its
 * range.  The op reaches the core only through the host API table: forward
 * and backward compose the core's axpby kernel, so no shader is needed.
 */
#include <diffautoml/plugin.h>

/* The params block the host fills and hands to every callback. */
typedef struct scale_params {
  double alpha;
} scale_params;

static const dam_param_desc scale_param_descs[] = {
    DAM_PARAM(scale_params, alpha, DAM_PARAM_FLOAT, 0.5, -10.0, 10.0,
              "factor applied to the input"),
};

/* Same shape out as in; only where it keeps the channel count and the
 * resolution (stride 1). */
static int scale_infer_shape(const void *params, const dam_op_site *site,
                             const dam_shape *in, dam_shape *out) {
  (void)params;
  if (site->stride != 1 || site->c_in != site->c_out)
    return DAM_PLUGIN_EINVAL;
  *out = *in;
  return DAM_PLUGIN_OK;
}

/* y = alpha * x */
static int scale_forward(const dam_host_api *host, dam_op_call *call) {
  const scale_params *p = call->params;
  return host->axpby(call->ex, (float)p->alpha, call->in, 0.0f, call->out);
}

/* gx += alpha * gy; no weights, so nothing else to accumulate. */
static int scale_backward(const dam_host_api *host, dam_op_call *call) {
  const scale_params *p = call->params;
  if (!call->grad_in) return DAM_PLUGIN_OK;
  return host->axpby(call->ex, (float)p->alpha, call->grad_out, 1.0f,
                     call->grad_in);
}

static const dam_op_desc scale_op = {
    .hdr = {.struct_size = sizeof(dam_op_desc),
            .kind = DAM_KIND_OP,
            .name = "scale",
            .summary = "y = alpha * x",
            .params = scale_param_descs,
            .n_params = sizeof scale_param_descs / sizeof scale_param_descs[0],
            .params_size = sizeof(scale_params)},
    .infer_shape = scale_infer_shape,
    .create = NULL,
    .destroy = NULL,
    .forward = scale_forward,
    .backward = scale_backward,
};

DAM_PLUGIN_DEFINE("scale_op", "1.0.0", "MIT", &scale_op.hdr)
