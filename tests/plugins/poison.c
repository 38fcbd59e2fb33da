/*
 * Test plugin (tests/check_search_run.sh, mode nan): op "poison", the
 * identity at stride 1 and a 1x1 stride-2 average pool (every other pixel)
 * at stride 2, until its `after`-th forward call in this process; from
 * then on every output is NaN.  Lets a search run go NaN at a chosen
 * point.  Built from the host's layers, so the tape differentiates it.
 */
#include <diffautoml/plugin.h>

#include <math.h>

typedef struct poison_params {
  int32_t after;
} poison_params;

static const dam_param_desc poison_param_desc[] = {
    DAM_PARAM(poison_params, after, DAM_PARAM_INT, 1000000, 0, 2000000000,
              "forward calls (all placements) before the outputs turn NaN"),
};

static int64_t poison_calls; /* forward calls so far, all placements */

static int poison_infer_shape(const void *params, const dam_op_site *site,
                              const dam_shape *in, dam_shape *out) {
  (void)params;
  if (in->ndim != 4 || in->dim[1] != site->c_in || site->c_in != site->c_out ||
      (site->stride != 1 && site->stride != 2))
    return DAM_PLUGIN_EINVAL;
  *out = *in;
  out->dim[2] = (in->dim[2] - 1) / site->stride + 1;
  out->dim[3] = (in->dim[3] - 1) / site->stride + 1;
  return DAM_PLUGIN_OK;
}

static int poison_forward(const dam_host_api *host, dam_op_call *call) {
  const poison_params *p = call->params;
  dam_tensor *y = call->in;
  if (call->site->stride == 2) {
    dam_pool_args a = {DAM_POOL_AVG, 1, 2, 0};
    y = host->nn_pool2d(call->ex, y, &a);
  }
  if (y && poison_calls++ >= p->after) {
    dam_shape s;
    host->tensor_shape(y, &s);
    y = host->tensor_new(call->ex, &s);
    if (y && host->fill(call->ex, y, NAN) != 0)
      y = NULL;
  }
  call->out = y;
  return y ? DAM_PLUGIN_OK : DAM_PLUGIN_EINVAL;
}

static const dam_op_desc poison = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "poison",
            "identity (stride 2: every other pixel), NaN after `after` calls",
            poison_param_desc, 1, sizeof(poison_params)},
    .infer_shape = poison_infer_shape,
    .forward = poison_forward,
};

DAM_PLUGIN_DEFINE("poison", "0.1.0", "MIT", &poison.hdr)
