/*
 * max_pool_3x3 and avg_pool_3x3: a pooling window (size declared as a
 * parameter, padding keeping the size at stride 1) followed, as in the
 * DARTS search network, by a batch norm without affine parameters.  Built
 * from the host's differentiable layers, so the backward comes from the
 * host's tape.
 */
#include <diffautoml/plugin.h>

#include <stdlib.h>

typedef struct pool_params {
  int32_t kernel;
} pool_params;

static const dam_param_desc pool_param_desc[] = {
    DAM_PARAM(pool_params, kernel, DAM_PARAM_INT, 3, 1, 7,
              "window size (odd); padding kernel/2"),
};

typedef struct pool_state {
  dam_tensor *running_mean, *running_var;
} pool_state;

static int pool_infer_shape(const void *params, const dam_op_site *site,
                            const dam_shape *in, dam_shape *out) {
  uint32_t k = (uint32_t)((const pool_params *)params)->kernel;
  if (k % 2 == 0 || site->c_in != site->c_out || in->ndim != 4 ||
      in->dim[1] != site->c_in || (site->stride != 1 && site->stride != 2))
    return DAM_PLUGIN_EINVAL;
  *out = *in;
  out->dim[2] = (in->dim[2] - 1) / site->stride + 1;
  out->dim[3] = (in->dim[3] - 1) / site->stride + 1;
  return DAM_PLUGIN_OK;
}

static int pool_create(const dam_host_api *host, dam_exec *ex,
                       const void *params, const dam_op_site *site,
                       void **state) {
  (void)params;
  pool_state *s = calloc(1, sizeof *s);
  dam_shape c = {1, {site->c_out, 1, 1, 1}};
  if (!s || !(s->running_mean = host->state_new(ex, &c, 0.0f)) ||
      !(s->running_var = host->state_new(ex, &c, 1.0f))) {
    free(s);
    return DAM_PLUGIN_ENOMEM;
  }
  *state = s;
  return DAM_PLUGIN_OK;
}

static void pool_destroy(void *state) { free(state); }

static int pool_forward(const dam_host_api *host, dam_op_call *call,
                        uint32_t kind) {
  uint32_t k = (uint32_t)((const pool_params *)call->params)->kernel;
  const pool_state *s = call->state;
  dam_pool_args pool = {kind, k, call->site->stride, k / 2};
  dam_bn_args bn = {1e-5f, 0.1f};
  dam_tensor *y = host->nn_pool2d(call->ex, call->in, &pool);
  if (y)
    y = host->nn_batchnorm(call->ex, y, NULL, NULL, s->running_mean,
                           s->running_var, &bn, call->training);
  call->out = y;
  return y ? DAM_PLUGIN_OK : DAM_PLUGIN_EINVAL;
}

static int max_forward(const dam_host_api *host, dam_op_call *call) {
  return pool_forward(host, call, DAM_POOL_MAX);
}

static int avg_forward(const dam_host_api *host, dam_op_call *call) {
  return pool_forward(host, call, DAM_POOL_AVG);
}

#define POOL_OP(NAME, SUMMARY, FORWARD)                                      \
  static const dam_op_desc NAME = {                                         \
      .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, #NAME, SUMMARY,              \
              pool_param_desc, 1, sizeof(pool_params)},                     \
      .infer_shape = pool_infer_shape,                                      \
      .create = pool_create,                                                \
      .destroy = pool_destroy,                                              \
      .forward = FORWARD,                                                   \
  }

POOL_OP(max_pool_3x3, "max pooling, then batch norm (no affine)",
        max_forward);
POOL_OP(avg_pool_3x3,
        "average pooling excluding padding, then batch norm (no affine)",
        avg_forward);

DAM_PLUGIN_DEFINE("pool", "0.1.0", "MIT", &max_pool_3x3.hdr,
                  &avg_pool_3x3.hdr)
