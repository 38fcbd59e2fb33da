/*
 * skip_connect: the identity candidate of the DARTS search space at
 * stride 1; at stride 2 (reduction cells) DARTS' factorized reduce: relu,
 * two 1x1 stride-2 convolutions on the even and odd pixel phases,
 * concatenated, then a batch norm.  Built from the host's differentiable
 * layers, so the backward comes from the host's tape.
 */
#include <diffautoml/plugin.h>

#include <math.h>
#include <stdlib.h>

typedef struct skip_params {
  int32_t affine;
} skip_params;

static const dam_param_desc skip_param_desc[] = {
    DAM_PARAM(skip_params, affine, DAM_PARAM_BOOL, 0, 0, 1,
              "learn a scale and shift in the stride-2 batch norm"),
};

typedef struct reduce_state {
  dam_tensor *even, *odd, *gamma, *beta, *mean, *var;
} reduce_state;

static int skip_infer_shape(const void *params, const dam_op_site *site,
                            const dam_shape *in, dam_shape *out) {
  (void)params;
  if (in->ndim != 4 || in->dim[1] != site->c_in)
    return DAM_PLUGIN_EINVAL;
  if (site->stride == 1 && site->c_in != site->c_out)
    return DAM_PLUGIN_EINVAL;
  if (site->stride == 2 && site->c_out % 2 != 0)
    return DAM_PLUGIN_EINVAL;
  if (site->stride != 1 && site->stride != 2)
    return DAM_PLUGIN_EINVAL;
  *out = *in;
  out->dim[1] = site->c_out;
  out->dim[2] = (in->dim[2] - 1) / site->stride + 1;
  out->dim[3] = (in->dim[3] - 1) / site->stride + 1;
  return DAM_PLUGIN_OK;
}

static dam_tensor *pointwise(const dam_host_api *host, dam_exec *ex,
                             uint32_t out, uint32_t in) {
  dam_shape s = {4, {out, in, 1, 1}};
  dam_tensor *w = host->param_new(ex, &s);
  float bound = 1.0f / sqrtf((float)in);
  return w && !host->init_uniform(ex, w, -bound, bound) ? w : NULL;
}

static int skip_create(const dam_host_api *host, dam_exec *ex,
                       const void *params, const dam_op_site *site,
                       void **state) {
  if (site->stride == 1)
    return DAM_PLUGIN_OK;
  reduce_state *s = calloc(1, sizeof *s);
  if (!s)
    return DAM_PLUGIN_ENOMEM;
  *state = s;
  dam_shape c = {1, {site->c_out, 1, 1, 1}};
  s->even = pointwise(host, ex, site->c_out / 2, site->c_in);
  s->odd = pointwise(host, ex, site->c_out / 2, site->c_in);
  s->mean = host->state_new(ex, &c, 0.0f);
  s->var = host->state_new(ex, &c, 1.0f);
  if (((const skip_params *)params)->affine) {
    if ((s->gamma = host->param_new(ex, &c)))
      host->fill(ex, s->gamma, 1.0f);
    if (!s->gamma || !(s->beta = host->param_new(ex, &c)))
      return DAM_PLUGIN_ENOMEM;
  }
  return s->even && s->odd && s->mean && s->var ? DAM_PLUGIN_OK
                                                : DAM_PLUGIN_ENOMEM;
}

static void skip_destroy(void *state) { free(state); }

static int skip_forward(const dam_host_api *host, dam_op_call *call) {
  const reduce_state *s = call->state;
  if (call->site->stride == 1) {
    call->out = call->in;
    return DAM_PLUGIN_OK;
  }
  dam_bn_args bn = {1e-5f, 0.1f};
  dam_exec *ex = call->ex;
  dam_tensor *y = host->nn_relu(ex, call->in);
  y = y ? host->nn_factorized_reduce(ex, y, s->even, s->odd) : NULL;
  y = y ? host->nn_batchnorm(ex, y, s->gamma, s->beta, s->mean, s->var, &bn,
                             call->training)
        : NULL;
  call->out = y;
  return y ? DAM_PLUGIN_OK : DAM_PLUGIN_EINVAL;
}

static const dam_op_desc skip_connect = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "skip_connect",
            "identity; factorized reduce at stride 2", skip_param_desc, 1,
            sizeof(skip_params)},
    .infer_shape = skip_infer_shape,
    .create = skip_create,
    .destroy = skip_destroy,
    .forward = skip_forward,
};

DAM_PLUGIN_DEFINE("skip_connect", "0.2.0", "MIT", &skip_connect.hdr)
