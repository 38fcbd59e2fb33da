/* Callbacks of a valid identity op, shared by the test plugins whose
 * defects lie elsewhere (module, descriptor or parameter tables). */
#ifndef DAM_TEST_IDENTITY_OP_H
#define DAM_TEST_IDENTITY_OP_H

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
  if (!call->grad_in)
    return DAM_PLUGIN_OK;
  return host->axpby(call->ex, 1.0f, call->grad_out, 1.0f, call->grad_in);
}

#endif
