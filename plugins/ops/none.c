/*
 * none: the zero candidate of DARTS mode, y = 0 with the shape the site
 * asks for (every stride-th pixel).  Nothing flows back through it.
 */
#include <diffautoml/plugin.h>

static int none_infer_shape(const void *params, const dam_op_site *site,
                            const dam_shape *in, dam_shape *out) {
  (void)params;
  if (in->ndim != 4 || in->dim[1] != site->c_in || site->stride < 1 ||
      site->stride > 2)
    return DAM_PLUGIN_EINVAL;
  *out = *in;
  out->dim[1] = site->c_out;
  out->dim[2] = (in->dim[2] - 1) / site->stride + 1;
  out->dim[3] = (in->dim[3] - 1) / site->stride + 1;
  return DAM_PLUGIN_OK;
}

static int none_forward(const dam_host_api *host, dam_op_call *call) {
  return host->fill(call->ex, call->out, 0.0f);
}

static int none_backward(const dam_host_api *host, dam_op_call *call) {
  (void)host;
  (void)call;
  return DAM_PLUGIN_OK;
}

static const dam_op_desc none = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "none", "zero, y = 0", NULL, 0,
            0},
    .infer_shape = none_infer_shape,
    .forward = none_forward,
    .backward = none_backward,
};

DAM_PLUGIN_DEFINE("none", "0.1.0", "MIT", &none.hdr)
