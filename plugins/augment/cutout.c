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

#include "augment_util.h"
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

AUG_SHADER(forward_shader, cutout, "cutout", 4, 0x2, cutout_push);
AUG_SHADER(grad_in_shader, cutout_grad_in, "cutout_grad_in", 4, 0x2,
           cutout_push);

/* Check the call (aug_call_error) and its params; fill the push constants. */
static int cutout_setup(const dam_host_api *host, const dam_augment_call *call,
                        int backward, cutout_push *pc) {
  dam_shape s;
  if (!call->params)
    return DAM_PLUGIN_EINVAL;
  int err = aug_check_call(host, call, "cutout", backward, &s);
  if (err)
    return err;
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
  int err = cutout_setup(host, call, 0, &pc);
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
  int err = cutout_setup(host, call, 1, &pc);
  if (err)
    return err;
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
