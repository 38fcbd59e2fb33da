/*
 * skip_connect: the identity candidate op of the DARTS search space,
 * y = x, written against the plugin SDK only (host kernels via the API
 * table, no shaders of its own).
 */
#include <diffautoml/plugin.h>

static int skip_infer_shape(const void *params, const dam_op_site *site,
                            const dam_shape *in, dam_shape *out) {
  (void)params;
  /* Stride 2 needs a factorized reduce (two offset 1x1 stride-2 convs),
   * which arrives with the conv kernels of the host API; until then the op
   * can't be placed on reduction cells. */
  if (site->stride != 1 || site->c_in != site->c_out) return DAM_PLUGIN_EINVAL;
  if (in->ndim >= 2 && in->dim[1] != site->c_in) return DAM_PLUGIN_EINVAL;
  *out = *in;
  return DAM_PLUGIN_OK;
}

static int skip_forward(const dam_host_api *host, dam_op_call *call) {
  return host->axpby(call->ex, 1.0f, call->in, 0.0f, call->out);
}

static int skip_backward(const dam_host_api *host, dam_op_call *call) {
  if (!call->grad_in) return DAM_PLUGIN_OK;
  return host->axpby(call->ex, 1.0f, call->grad_out, 1.0f, call->grad_in);
}

static const dam_op_desc skip_connect = {
    .hdr = {.struct_size = sizeof(dam_op_desc),
            .kind = DAM_KIND_OP,
            .name = "skip_connect",
            .summary = "identity connection, y = x",
            .params = NULL,
            .n_params = 0,
            .params_size = 0},
    .infer_shape = skip_infer_shape,
    .forward = skip_forward,
    .backward = skip_backward,
};

DAM_PLUGIN_DEFINE("skip_connect", "0.1.0", "MIT", &skip_connect.hdr)
