/*
 * Photometric transforms where each output intensity depends only on the
 * same input intensity (equalize: through its image channel's histogram).
 * Levels are q = clamp(floor(x * 255 + 0.5), 0, 255); m is the magnitude.
 *   identity   out = x
 *   invert     out = 1 - x
 *   posterize  out = q / 255 with q's low 8 - min(int(m / 8 * 3 + 1), 8)
 *              bits cleared
 *   solarize   out = 1 - x where q >= int(m / 8 * 256), else x
 *   equalize   PIL's ImageOps.equalize per image channel, out = lut[q] / 255
 * Shaders: pointwise.comp (forward, input gradient, equalize's tables) and
 * aug_sum.comp (the straight-through magnitude gradient).
 */
#include <diffautoml/plugin.h>

#include "pointwise.spv.h"
#define AUG_USE_SUM
#include "augment_util.h"

enum pw_mode { PW_IDENTITY, PW_INVERT, PW_POSTERIZE, PW_SOLARIZE, PW_EQUALIZE };

/* pointwise.comp's passes */
enum pw_pass { PASS_FORWARD, PASS_BACKWARD, PASS_LUT };

typedef struct pw_push {
  uint32_t first, count, channels, plane, mode, pass;
} pw_push;

AUG_SHADER(pointwise_shader, pointwise, "aug_pointwise", 4, 0x8, pw_push);

static const char *const pw_names[] = {"identity", "invert", "posterize",
                                       "solarize", "equalize"};

/* One pointwise.comp dispatch over the call's images (their elements, or
 * their channels for PASS_LUT). */
static int run_pass(const dam_host_api *host, const dam_augment_call *call,
                    const dam_shape *s, enum pw_mode mode, enum pw_pass pass,
                    dam_tensor *aux, dam_tensor *dst) {
  uint32_t plane = s->dim[2] * s->dim[3];
  pw_push p = {call->first, call->count,    s->dim[1],
               plane,       (uint32_t)mode, (uint32_t)pass};
  dam_tensor *t[4] = {call->in, call->magnitude, aux, dst};
  uint32_t n = call->count * s->dim[1] * (pass == PASS_LUT ? 1 : plane);
  return host->dispatch(call->ex, &pointwise_shader, t, 4, &p, n);
}

static int pw_forward(const dam_host_api *host, const dam_augment_call *call,
                      enum pw_mode mode) {
  dam_shape s;
  int err = aug_check_call(host, call, pw_names[mode], 0, &s);
  if (err || call->count == 0)
    return err;
  dam_tensor *aux = call->in;
  if (mode == PW_EQUALIZE) {
    if (!(aux = aug_scratch(host, call->ex, call->count * s.dim[1] * 256)))
      return DAM_PLUGIN_ENOMEM;
    err = run_pass(host, call, &s, mode, PASS_LUT, call->in, aux);
  }
  return err ? err
             : run_pass(host, call, &s, mode, PASS_FORWARD, aux, call->out);
}

/* grad_in += dT/dx * grad_out (straight-through: 1), and the
 * straight-through magnitude gradient where the descriptor declares one
 * (every mode but identity and invert). */
static int pw_backward(const dam_host_api *host, const dam_augment_call *call,
                       enum pw_mode mode) {
  dam_shape s;
  int err = aug_check_call(host, call, pw_names[mode], 1, &s);
  if (err || call->count == 0)
    return err;
  if (call->grad_in)
    err = run_pass(host, call, &s, mode, PASS_BACKWARD, call->grad_out,
                   call->grad_in);
  if (!err && mode != PW_IDENTITY && mode != PW_INVERT && call->grad_magnitude)
    err = aug_image_sums(host, call->ex, call->grad_out, call->first,
                         call->grad_magnitude, call->first, call->count,
                         s.dim[1] * s.dim[2] * s.dim[3], 1.0f, 1);
  return err;
}

AUG_CALLS(identity, pw_forward, pw_backward, PW_IDENTITY)
AUG_CALLS(invert, pw_forward, pw_backward, PW_INVERT)
AUG_CALLS(posterize, pw_forward, pw_backward, PW_POSTERIZE)
AUG_CALLS(solarize, pw_forward, pw_backward, PW_SOLARIZE)
AUG_CALLS(equalize, pw_forward, pw_backward, PW_EQUALIZE)

#define PW_DESC(NAME, SUMMARY, INPUT_GRAD, MAGNITUDE_GRAD, IDENTITY_AT_ZERO)   \
  static const dam_augment_desc NAME = {                                       \
      .hdr = {.struct_size = sizeof(dam_augment_desc),                         \
              .kind = DAM_KIND_AUGMENT,                                        \
              .name = #NAME,                                                   \
              .summary = SUMMARY},                                             \
      .input_grad = INPUT_GRAD,                                                \
      .magnitude_grad = MAGNITUDE_GRAD,                                        \
      .identity_at_zero = IDENTITY_AT_ZERO,                                    \
      .forward = NAME##_forward,                                               \
      .backward = NAME##_backward,                                             \
  }
PW_DESC(identity, "out = in (no magnitude)", DAM_AUG_GRAD_EXACT,
        DAM_AUG_GRAD_NONE, 1);
PW_DESC(invert, "out = 1 - in (no magnitude)", DAM_AUG_GRAD_EXACT,
        DAM_AUG_GRAD_NONE, 0);
PW_DESC(posterize,
        "keep the top min(int(m/8*3+1), 8) bits of the 0..255 level; "
        "straight-through in input and magnitude",
        DAM_AUG_GRAD_STRAIGHT_THROUGH, DAM_AUG_GRAD_STRAIGHT_THROUGH, 0);
PW_DESC(solarize,
        "out = 1 - in where the 0..255 level >= int(m/8*256), else in; "
        "exact in input, straight-through in magnitude",
        DAM_AUG_GRAD_EXACT, DAM_AUG_GRAD_STRAIGHT_THROUGH, 0);
PW_DESC(equalize,
        "PIL's histogram equalization of each image channel's 0..255 "
        "levels (no magnitude); straight-through in input and magnitude",
        DAM_AUG_GRAD_STRAIGHT_THROUGH, DAM_AUG_GRAD_STRAIGHT_THROUGH, 0);

DAM_PLUGIN_DEFINE("pointwise", "0.1.0", "MIT", &identity.hdr, &invert.hdr,
                  &posterize.hdr, &solarize.hdr, &equalize.hdr)
