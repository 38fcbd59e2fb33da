/*
 * cutout: sets a square of each image to call->fill, in every channel
 * (shaders cutout*.comp, common code in cutout_common.glsl).
 *
 * Image i with magnitude m = magnitude[i] and seed[i]: the square has side
 * m/8 * max_fraction * min(H, W) and centre
 * (dam_draw_unit(seed, 1) * W, dam_draw_unit(seed, 2) * H); pixel (x, y)
 * (centres at integer coordinates) is cut when |x - cx| < side/2 and
 * |y - cy| < side/2, strictly, so m = 0 cuts nothing.  In float:
 * half = m * (float)(max_fraction * min(H, W) / 16), cx and cy as written.
 *
 * Backward: the input gradient is exact (grad_out passes where nothing is
 * cut); the output is piecewise constant in m, so there is no magnitude
 * gradient.
 */
#include <diffautoml/plugin.h>

#include "cutout.spv.h"
#include "cutout_grad_in.spv.h"

typedef struct cutout_params {
  double max_fraction;
} cutout_params;

/* Push in cutout_common.glsl. */
typedef struct cutout_push {
  uint32_t first, count, c, h, w;
  float half_per_level, fill;
} cutout_push;

static const dam_shader forward_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "cutout",
    .spirv = dam_spv_cutout,
    .spirv_size = sizeof dam_spv_cutout,
    .n_bindings = 4,
    .write_mask = 0x2,
    .push_size = sizeof(cutout_push),
    .local_size_x = 64,
};

static const dam_shader grad_in_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "cutout_grad_in",
    .spirv = dam_spv_cutout_grad_in,
    .spirv_size = sizeof dam_spv_cutout_grad_in,
    .n_bindings = 4,
    .write_mask = 0x2,
    .push_size = sizeof(cutout_push),
    .local_size_x = 64,
};

static uint64_t numel(const dam_host_api *host, const dam_tensor *t) {
  dam_shape s;
  host->tensor_shape(t, &s);
  return (uint64_t)s.dim[0] * s.dim[1] * s.dim[2] * s.dim[3];
}

static int same_shape(const dam_host_api *host, const dam_tensor *a,
                      const dam_shape *s) {
  dam_shape b;
  if (!a)
    return 0;
  host->tensor_shape(a, &b);
  for (int i = 0; i < 4; i++)
    if (b.dim[i] != s->dim[i])
      return 0;
  return 1;
}

/* Check the call's tensors (`other`, when non-NULL, must have in's shape)
 * and fill the push constants. */
static int cutout_setup(const dam_host_api *host, const dam_augment_call *call,
                        const dam_tensor *other, cutout_push *pc) {
  dam_shape s;
  if (!call->in || !call->magnitude || !call->seed || !call->params)
    return DAM_PLUGIN_EINVAL;
  host->tensor_shape(call->in, &s);
  uint32_t n = s.dim[0];
  uint64_t total = numel(host, call->in);
  if (s.ndim != 4 || total == 0 || total > UINT32_MAX ||
      !same_shape(host, other, &s) || numel(host, call->magnitude) < n ||
      numel(host, call->seed) < n || call->first > n ||
      call->count > n - call->first) {
    host->log(0, "cutout: bad shapes or images %u+%u", call->first,
              call->count);
    return DAM_PLUGIN_EINVAL;
  }
  double max_fraction = ((const cutout_params *)call->params)->max_fraction;
  uint32_t side = s.dim[2] < s.dim[3] ? s.dim[2] : s.dim[3];
  *pc = (cutout_push){call->first, call->count,
                      s.dim[1],    s.dim[2],
                      s.dim[3],    (float)(max_fraction * side / 16.0),
                      call->fill};
  return DAM_PLUGIN_OK;
}

static int cutout_forward(const dam_host_api *host,
                          const dam_augment_call *call) {
  cutout_push pc;
  int err = cutout_setup(host, call, call->out, &pc);
  if (err)
    return err;
  dam_tensor *t[4] = {call->in, call->out, call->magnitude, call->seed};
  return host->dispatch(call->ex, &forward_shader, t, 4, &pc,
                        pc.count * pc.c * pc.h * pc.w);
}

static int cutout_backward(const dam_host_api *host,
                           const dam_augment_call *call) {
  if (!(call->needs_grad & 1u) || !call->grad_in)
    return DAM_PLUGIN_OK;
  cutout_push pc;
  dam_shape s;
  int err = cutout_setup(host, call, call->grad_in, &pc);
  if (err)
    return err;
  host->tensor_shape(call->in, &s);
  if (!same_shape(host, call->grad_out, &s))
    return DAM_PLUGIN_EINVAL;
  dam_tensor *t[4] = {call->grad_out, call->grad_in, call->magnitude,
                      call->seed};
  return host->dispatch(call->ex, &grad_in_shader, t, 4, &pc,
                        pc.count * pc.c * pc.h * pc.w);
}

static const dam_param_desc cutout_param[] = {
    DAM_PARAM(cutout_params, max_fraction, DAM_PARAM_FLOAT, 0.5, 0, 1,
              "side at magnitude 8, as a fraction of min(H, W)"),
};

static const dam_augment_desc cutout = {
    .hdr = {sizeof(dam_augment_desc), DAM_KIND_AUGMENT, "cutout",
            "fill the pixels with |x-cx|,|y-cy| < side/2, side = "
            "m/8*max_fraction*min(H,W), centre (u1*W, u2*H) from the seed; "
            "no magnitude gradient (piecewise constant)",
            cutout_param, 1, sizeof(cutout_params)},
    .input_grad = DAM_AUG_GRAD_EXACT,
    .magnitude_grad = DAM_AUG_GRAD_NONE,
    .identity_at_zero = 1,
    .forward = cutout_forward,
    .backward = cutout_backward,
};

DAM_PLUGIN_DEFINE("cutout", "0.1.0", "MIT", &cutout.hdr)
