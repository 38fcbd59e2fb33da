/* Test plugin: provides op "dup_op", as does dup_a.c. */
#include <diffautoml/plugin.h>

static int ident_shape(const void *params, const dam_op_site *site,
                       const dam_shape *in, dam_shape *out) {
  (void)params;
  (void)site;
  *out = *in;
  return DAM_PLUGIN_OK;
}

static int ident_forward(const dam_host_api *host, dam_op_call *call) {
  return host->axpby(call->ex, 1.0f, call->in, 0.0f, call->out);
}

static int ident_backward(const dam_host_api *host, dam_op_call *call) {
  (void)host;
  (void)call;
  return DAM_PLUGIN_OK;
}

static const dam_op_desc op = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "dup_op", "identity (b)"},
    .infer_shape = ident_shape,
    .forward = ident_forward,
    .backward = ident_backward,
};

DAM_PLUGIN_DEFINE("dup_b", "1.0", "MIT", &op.hdr)
