/*
 * The affine augmentations, one source for six named transforms sharing
 * three shaders (affine*.comp, common code in affine_common.glsl):
 * rotate, shear_x, shear_y, translate_x, translate_y, flip_h.
 *
 * Conventions.  Pixel (x, y) has its centre at integer coordinates, x to
 * the right and y downwards as displayed; c = ((W-1)/2, (H-1)/2).  Output
 * pixel p is the bilinear sample of the input at T(p) = c + A (p - c) + t;
 * each of the 4 corners outside the image reads call->fill, so the output
 * stays continuous and differentiable in T.  Per image, m = magnitude[i]
 * (a level in [0, 8], used continuously) and s = -1 if
 * dam_draw(seed[i], 0) is odd, else +1.  With q = s * max * m / 8:
 *   rotate       theta = q degrees; the content turns counterclockwise as
 *                displayed for theta > 0 about c:
 *                T(p) = c + [cos -sin; sin cos] (p - c)
 *   shear_x      u = x + q (y - cy), v = y   (rows below c sample further
 *                right, so their content moves left for q > 0)
 *   shear_y      u = x, v = y + q (x - cx)
 *   translate_x  the content moves right by q W pixels: u = x - q W
 *   translate_y  the content moves down by q H pixels:  v = y - q H
 *   flip_h       u = W - 1 - x (no magnitude)
 * m = 0 gives T(p) == p bit for bit (sin and cos are computed in the
 * shader, exactly 0 and 1 at 0), so the output equals the input.
 *
 * Backward: the input gradient is the exact adjoint of the bilinear
 * sampling, gathered per input pixel over a window derived from A^-1 (see
 * affine_grad_in.comp); the magnitude gradient is exact (the derivative of
 * the bilinear weights through dT/dm), reduced per image in two passes.
 */
#include <diffautoml/plugin.h>

#include <math.h>

#include "affine.spv.h"
#include "affine_grad_in.spv.h"
#include "affine_grad_mag.spv.h"
#include "affine_grad_mag_sum.spv.h"
#include "augment_util.h"

/* The same numbers as AFF_* in affine_common.glsl. */
enum affine_kind {
  ROTATE = 0,
  SHEAR_X = 1,
  SHEAR_Y = 2,
  TRANSLATE_X = 3,
  TRANSLATE_Y = 4,
  FLIP_H = 5
};

typedef struct rotate_params {
  double max_degrees;
} rotate_params;
typedef struct shear_params {
  double max_shear;
} shear_params;
typedef struct translate_params {
  double max_fraction;
} translate_params;

/* The push constants of every affine shader (Push in affine_common.glsl). */
typedef struct affine_push {
  uint32_t kind, first, count, c, h, w;
  float scale, fill;
} affine_push;

AUG_SHADER(forward_shader, affine, "affine", 4, 0x2, affine_push);
AUG_SHADER(grad_in_shader, affine_grad_in, "affine_grad_in", 4, 0x2,
           affine_push);
AUG_SHADER(grad_mag_shader, affine_grad_mag, "affine_grad_mag", 5, 0x10,
           affine_push);
AUG_SHADER(grad_mag_sum_shader, affine_grad_mag_sum, "affine_grad_mag_sum", 2,
           0x2, affine_push);

static const char *const affine_names[] = {
    "rotate", "shear_x", "shear_y", "translate_x", "translate_y", "flip_h"};

/* dq/dm before the random sign, in the units T uses (radians, pixels). */
static float affine_scale(uint32_t kind, const void *params, uint32_t h,
                          uint32_t w) {
  switch (kind) {
  case ROTATE:
    return (float)(((const rotate_params *)params)->max_degrees *
                   (3.14159265358979323846 / 180.0) / 8.0);
  case SHEAR_X:
  case SHEAR_Y:
    return (float)(((const shear_params *)params)->max_shear / 8.0);
  case TRANSLATE_X:
    return (float)(((const translate_params *)params)->max_fraction * w / 8.0);
  case TRANSLATE_Y:
    return (float)(((const translate_params *)params)->max_fraction * h / 8.0);
  default:
    return 0.0f;
  }
}

/* Check the call (aug_call_error) and its params; fill the push constants. */
static int affine_setup(const dam_host_api *host, const dam_augment_call *call,
                        int backward, uint32_t kind, affine_push *pc) {
  dam_shape s;
  if (kind != FLIP_H && !call->params)
    return DAM_PLUGIN_EINVAL;
  int err = aug_check_call(host, call, affine_names[kind], backward, &s);
  if (err)
    return err;
  *pc = (affine_push){kind,
                      call->first,
                      call->count,
                      s.dim[1],
                      s.dim[2],
                      s.dim[3],
                      affine_scale(kind, call->params, s.dim[2], s.dim[3]),
                      call->fill};
  return DAM_PLUGIN_OK;
}

static int affine_forward(const dam_host_api *host,
                          const dam_augment_call *call, uint32_t kind) {
  affine_push pc;
  int err = affine_setup(host, call, 0, kind, &pc);
  if (err)
    return err;
  dam_tensor *t[4] = {call->in, call->out, call->magnitude, call->seed};
  return host->dispatch(call->ex, &forward_shader, t, 4, &pc,
                        pc.count * pc.c * pc.h * pc.w);
}

static int grad_input(const dam_host_api *host, const dam_augment_call *call,
                      const affine_push *pc) {
  dam_tensor *t[4] = {call->grad_out, call->grad_in, call->magnitude,
                      call->seed};
  return host->dispatch(call->ex, &grad_in_shader, t, 4, pc,
                        pc->count * pc->c * pc->h * pc->w);
}

/* Per (image, row) partial sums into a step tensor, then one sum per
 * image added into grad_magnitude. */
static int grad_magnitude(const dam_host_api *host,
                          const dam_augment_call *call, const affine_push *pc) {
  dam_tensor *partial = aug_scratch(host, call->ex, pc->count * pc->h);
  if (!partial)
    return DAM_PLUGIN_ENOMEM;
  dam_tensor *t[5] = {call->in, call->grad_out, call->magnitude, call->seed,
                      partial};
  int err =
      host->dispatch(call->ex, &grad_mag_shader, t, 5, pc, pc->count * pc->h);
  dam_tensor *u[2] = {partial, call->grad_magnitude};
  return err ? err
             : host->dispatch(call->ex, &grad_mag_sum_shader, u, 2, pc,
                              pc->count);
}

static int affine_backward(const dam_host_api *host,
                           const dam_augment_call *call, uint32_t kind) {
  int want_in = (call->needs_grad & 1u) && call->grad_in;
  int want_mag =
      kind != FLIP_H && (call->needs_grad & 2u) && call->grad_magnitude;
  if (!want_in && !want_mag)
    return DAM_PLUGIN_OK;
  affine_push pc;
  int err = affine_setup(host, call, 1, kind, &pc);
  if (err)
    return err;
  if (pc.count == 0)
    return DAM_PLUGIN_OK;
  if (want_in && (err = grad_input(host, call, &pc)))
    return err;
  return want_mag ? grad_magnitude(host, call, &pc) : DAM_PLUGIN_OK;
}

AUG_CALLS(rotate, affine_forward, affine_backward, ROTATE)
AUG_CALLS(shear_x, affine_forward, affine_backward, SHEAR_X)
AUG_CALLS(shear_y, affine_forward, affine_backward, SHEAR_Y)
AUG_CALLS(translate_x, affine_forward, affine_backward, TRANSLATE_X)
AUG_CALLS(translate_y, affine_forward, affine_backward, TRANSLATE_Y)
AUG_CALLS(flip_h, affine_forward, affine_backward, FLIP_H)

static const dam_param_desc rotate_param[] = {
    DAM_PARAM(rotate_params, max_degrees, DAM_PARAM_FLOAT, 30, 0, 180,
              "angle at magnitude 8, in degrees"),
};
static const dam_param_desc shear_param[] = {
    DAM_PARAM(shear_params, max_shear, DAM_PARAM_FLOAT, 0.3, 0, 1,
              "shear factor at magnitude 8"),
};
static const dam_param_desc translate_param[] = {
    DAM_PARAM(translate_params, max_fraction, DAM_PARAM_FLOAT, 0.45, 0, 1,
              "offset at magnitude 8, as a fraction of the image size"),
};

#define AFFINE_DESC(NAME, SUMMARY, PARAMS, N_PARAMS, MAG_GRAD, IDENTITY)       \
  static const dam_augment_desc NAME = {                                       \
      .hdr = {sizeof(dam_augment_desc), DAM_KIND_AUGMENT, #NAME, SUMMARY,      \
              PARAMS, N_PARAMS, N_PARAMS * sizeof(double)},                    \
      .input_grad = DAM_AUG_GRAD_EXACT,                                        \
      .magnitude_grad = MAG_GRAD,                                              \
      .identity_at_zero = IDENTITY,                                            \
      .forward = NAME##_forward,                                               \
      .backward = NAME##_backward,                                             \
  }

AFFINE_DESC(rotate,
            "rotate by s*max_degrees*m/8 degrees counterclockwise about the "
            "centre, bilinear, fill outside (s = random sign)",
            rotate_param, 1, DAM_AUG_GRAD_EXACT, 1);
AFFINE_DESC(shear_x,
            "out(x,y) = in(x + s*max_shear*m/8*(y-cy), y), bilinear, fill "
            "outside (s = random sign)",
            shear_param, 1, DAM_AUG_GRAD_EXACT, 1);
AFFINE_DESC(shear_y,
            "out(x,y) = in(x, y + s*max_shear*m/8*(x-cx)), bilinear, fill "
            "outside (s = random sign)",
            shear_param, 1, DAM_AUG_GRAD_EXACT, 1);
AFFINE_DESC(translate_x,
            "out(x,y) = in(x - s*max_fraction*m/8*W, y), bilinear, fill "
            "outside (s = random sign)",
            translate_param, 1, DAM_AUG_GRAD_EXACT, 1);
AFFINE_DESC(translate_y,
            "out(x,y) = in(x, y - s*max_fraction*m/8*H), bilinear, fill "
            "outside (s = random sign)",
            translate_param, 1, DAM_AUG_GRAD_EXACT, 1);
AFFINE_DESC(flip_h,
            "out(x,y) = in(W-1-x, y), whatever the magnitude (no magnitude "
            "gradient)",
            NULL, 0, DAM_AUG_GRAD_NONE, 0);

DAM_PLUGIN_DEFINE("affine", "0.1.0", "MIT", &rotate.hdr, &shear_x.hdr,
                  &shear_y.hdr, &translate_x.hdr, &translate_y.hdr, &flip_h.hdr)
