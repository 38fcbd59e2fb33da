/*
 * The DARTS convolution candidates, one source for four named ops:
 *   dil_conv_KxK: relu -> depthwise KxK conv (dilation 2, at the site's
 *                 stride) -> 1x1 conv -> batch norm
 *   sep_conv_KxK: the same with dilation 1, then once more at stride 1
 * Kernel size, dilation and whether the batch norms are affine are declared
 * parameters; their defaults tell the named ops apart.  Built from the
 * host's differentiable layers, so the backward comes from the host's tape.
 */
#include <diffautoml/plugin.h>

#include <math.h>
#include <stdlib.h>

typedef struct conv_params {
  int32_t kernel, dilation, affine;
} conv_params;

/* One depthwise + pointwise + batch norm stage. */
typedef struct stage {
  dam_tensor *depthwise, *pointwise, *gamma, *beta, *mean, *var;
} stage;

typedef struct conv_state {
  stage stages[2];
  uint32_t n_stages;
} conv_state;

#define CONV_PARAMS(NAME, KERNEL, DILATION)                                  \
  static const dam_param_desc NAME[] = {                                    \
      DAM_PARAM(conv_params, kernel, DAM_PARAM_INT, KERNEL, 1, 9,            \
                "kernel size (odd); padding keeps the size at stride 1"),   \
      DAM_PARAM(conv_params, dilation, DAM_PARAM_INT, DILATION, 1, 4,        \
                "dilation of the depthwise convolution"),                   \
      DAM_PARAM(conv_params, affine, DAM_PARAM_BOOL, 0, 0, 1,                \
                "learn a scale and shift in the batch norms"),              \
  }
CONV_PARAMS(sep3_params, 3, 1);
CONV_PARAMS(sep5_params, 5, 1);
CONV_PARAMS(dil3_params, 3, 2);
CONV_PARAMS(dil5_params, 5, 2);

static int conv_infer_shape(const void *params, const dam_op_site *site,
                            const dam_shape *in, dam_shape *out) {
  const conv_params *p = params;
  if (p->kernel % 2 == 0 || in->ndim != 4 || in->dim[1] != site->c_in ||
      (site->stride != 1 && site->stride != 2))
    return DAM_PLUGIN_EINVAL;
  *out = *in;
  out->dim[1] = site->c_out;
  out->dim[2] = (in->dim[2] - 1) / site->stride + 1;
  out->dim[3] = (in->dim[3] - 1) / site->stride + 1;
  return DAM_PLUGIN_OK;
}

/* Weights drawn like PyTorch's default: uniform within 1/sqrt(fan_in). */
static dam_tensor *weights(const dam_host_api *host, dam_exec *ex,
                           uint32_t out, uint32_t in_per_group,
                           uint32_t k) {
  dam_shape s = {4, {out, in_per_group, k, k}};
  dam_tensor *w = host->param_new(ex, &s);
  float bound = 1.0f / sqrtf((float)(in_per_group * k * k));
  if (w && host->init_uniform(ex, w, -bound, bound))
    return NULL;
  return w;
}

static int stage_create(const dam_host_api *host, dam_exec *ex,
                        const conv_params *p, uint32_t c_in, uint32_t c_out,
                        stage *st) {
  dam_shape c = {1, {c_out, 1, 1, 1}};
  st->depthwise = weights(host, ex, c_in, 1, (uint32_t)p->kernel);
  st->pointwise = weights(host, ex, c_out, c_in, 1);
  st->mean = host->state_new(ex, &c, 0.0f);
  st->var = host->state_new(ex, &c, 1.0f);
  if (p->affine) {
    if ((st->gamma = host->param_new(ex, &c)))
      host->fill(ex, st->gamma, 1.0f);
    st->beta = host->param_new(ex, &c);
    if (!st->gamma || !st->beta)
      return DAM_PLUGIN_ENOMEM;
  }
  return st->depthwise && st->pointwise && st->mean && st->var
             ? DAM_PLUGIN_OK
             : DAM_PLUGIN_ENOMEM;
}

static int conv_create(const dam_host_api *host, dam_exec *ex,
                       const void *params, const dam_op_site *site,
                       void **state, uint32_t n_stages) {
  const conv_params *p = params;
  conv_state *s = calloc(1, sizeof *s);
  if (!s)
    return DAM_PLUGIN_ENOMEM;
  s->n_stages = n_stages;
  int err = 0;
  for (uint32_t i = 0; i < n_stages && !err; i++)
    err = stage_create(host, ex, p, site->c_in,
                       i + 1 == n_stages ? site->c_out : site->c_in,
                       &s->stages[i]);
  if (err) {
    free(s);
    return err;
  }
  *state = s;
  return DAM_PLUGIN_OK;
}

static int sep_create(const dam_host_api *host, dam_exec *ex,
                      const void *params, const dam_op_site *site,
                      void **state) {
  return conv_create(host, ex, params, site, state, 2);
}

static int dil_create(const dam_host_api *host, dam_exec *ex,
                      const void *params, const dam_op_site *site,
                      void **state) {
  return conv_create(host, ex, params, site, state, 1);
}

static void conv_destroy(void *state) { free(state); }

static dam_tensor *stage_forward(const dam_host_api *host, dam_op_call *call,
                                 const stage *st, dam_tensor *x,
                                 uint32_t stride) {
  const conv_params *p = call->params;
  uint32_t d = (uint32_t)p->dilation, pad = d * (uint32_t)(p->kernel - 1) / 2;
  dam_shape xs;
  host->tensor_shape(x, &xs);
  dam_conv2d_geom dw = {{stride, stride}, {pad, pad}, {d, d}, xs.dim[1]};
  dam_conv2d_geom pw = {{1, 1}, {0, 0}, {1, 1}, 1};
  dam_bn_args bn = {1e-5f, 0.1f};
  dam_exec *ex = call->ex;
  dam_tensor *y = host->nn_relu(ex, x);
  y = y ? host->nn_conv2d(ex, y, st->depthwise, &dw) : NULL;
  y = y ? host->nn_conv2d(ex, y, st->pointwise, &pw) : NULL;
  return y ? host->nn_batchnorm(ex, y, st->gamma, st->beta, st->mean,
                                st->var, &bn, call->training)
           : NULL;
}

static int conv_forward(const dam_host_api *host, dam_op_call *call) {
  const conv_state *s = call->state;
  dam_tensor *y = call->in;
  for (uint32_t i = 0; i < s->n_stages && y; i++)
    y = stage_forward(host, call, &s->stages[i], y,
                      i == 0 ? call->site->stride : 1);
  call->out = y;
  return y ? DAM_PLUGIN_OK : DAM_PLUGIN_EINVAL;
}

#define CONV_OP(NAME, SUMMARY, PARAMS, CREATE)                               \
  static const dam_op_desc NAME = {                                         \
      .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, #NAME, SUMMARY, PARAMS, 3,   \
              sizeof(conv_params)},                                         \
      .infer_shape = conv_infer_shape,                                      \
      .create = CREATE,                                                     \
      .destroy = conv_destroy,                                              \
      .forward = conv_forward,                                              \
  }

CONV_OP(sep_conv_3x3, "separable 3x3 conv, twice (relu, dw, pw, bn)",
        sep3_params, sep_create);
CONV_OP(sep_conv_5x5, "separable 5x5 conv, twice (relu, dw, pw, bn)",
        sep5_params, sep_create);
CONV_OP(dil_conv_3x3, "dilated separable 3x3 conv (relu, dw, pw, bn)",
        dil3_params, dil_create);
CONV_OP(dil_conv_5x5, "dilated separable 5x5 conv (relu, dw, pw, bn)",
        dil5_params, dil_create);

DAM_PLUGIN_DEFINE("conv", "0.1.0", "MIT", &sep_conv_3x3.hdr,
                  &sep_conv_5x5.hdr, &dil_conv_3x3.hdr, &dil_conv_5x5.hdr)
