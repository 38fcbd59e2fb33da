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

#include "aug_sum.spv.h"
#include "pointwise.spv.h"

enum pw_mode { PW_IDENTITY, PW_INVERT, PW_POSTERIZE, PW_SOLARIZE, PW_EQUALIZE };

/* pointwise.comp's passes */
enum pw_pass { PASS_FORWARD, PASS_BACKWARD, PASS_LUT };

typedef struct pw_push {
  uint32_t first, count, channels, plane, mode, pass;
} pw_push;

typedef struct sum_push {
  uint32_t src_image0, dst_image0, count, len;
  float scale;
  uint32_t accumulate;
} sum_push;

static const dam_shader pointwise_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "aug_pointwise",
    .spirv = dam_spv_pointwise,
    .spirv_size = sizeof dam_spv_pointwise,
    .n_bindings = 4,
    .write_mask = 0x8,
    .push_size = sizeof(pw_push),
    .local_size_x = 64,
};

static const dam_shader sum_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "aug_sum",
    .spirv = dam_spv_aug_sum,
    .spirv_size = sizeof dam_spv_aug_sum,
    .n_bindings = 2,
    .write_mask = 0x2,
    .push_size = sizeof(sum_push),
    .local_size_x = 64,
};

static const char *const pw_names[] = {"identity", "invert", "posterize",
                                       "solarize", "equalize"};

static uint32_t numel(const dam_host_api *host, const dam_tensor *t) {
  dam_shape s;
  host->tensor_shape(t, &s);
  return s.dim[0] * s.dim[1] * s.dim[2] * s.dim[3];
}

static int same_shape(const dam_host_api *host, const dam_tensor *t,
                      const dam_shape *s) {
  dam_shape b;
  if (!t)
    return 0;
  host->tensor_shape(t, &b);
  for (int d = 0; d < 4; d++)
    if (b.dim[d] != s->dim[d])
      return 0;
  return 1;
}

/* Why a call's tensors don't fit together, or NULL; *s receives the
 * images' shape. */
static const char *call_error(const dam_host_api *host,
                              const dam_augment_call *call, int backward,
                              dam_shape *s) {
  if (!call->in || !call->magnitude)
    return "a tensor is missing";
  host->tensor_shape(call->in, s);
  if ((uint64_t)call->first + call->count > s->dim[0])
    return "images first .. first+count-1 are not in the batch";
  if (numel(host, call->magnitude) != s->dim[0] ||
      (backward && call->grad_magnitude &&
       numel(host, call->grad_magnitude) != s->dim[0]))
    return "magnitude must hold one level per image";
  if (backward ? !same_shape(host, call->grad_out, s) ||
                     (call->grad_in && !same_shape(host, call->grad_in, s))
               : !same_shape(host, call->out, s))
    return "the images' tensors differ in shape";
  return NULL;
}

static int check_call(const dam_host_api *host, const dam_augment_call *call,
                      enum pw_mode mode, int backward, dam_shape *s) {
  const char *why = call_error(host, call, backward, s);
  if (!why)
    return DAM_PLUGIN_OK;
  host->log(0, "augment %s: %s", pw_names[mode], why);
  return DAM_PLUGIN_EINVAL;
}

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
  int err = check_call(host, call, mode, 0, &s);
  if (err || call->count == 0)
    return err;
  dam_tensor *aux = call->in;
  if (mode == PW_EQUALIZE) {
    dam_shape ls = {1, {call->count * s.dim[1] * 256, 1, 1, 1}};
    if (!(aux = host->tensor_new(call->ex, &ls)))
      return DAM_PLUGIN_ENOMEM;
    err = run_pass(host, call, &s, mode, PASS_LUT, call->in, aux);
  }
  return err ? err
             : run_pass(host, call, &s, mode, PASS_FORWARD, aux, call->out);
}

/* grad_in += dT/dx * grad_out (straight-through: 1), and the
 * straight-through magnitude gradient when `st_magnitude`. */
static int pw_backward(const dam_host_api *host, const dam_augment_call *call,
                       enum pw_mode mode, int st_magnitude) {
  dam_shape s;
  int err = check_call(host, call, mode, 1, &s);
  if (err || call->count == 0)
    return err;
  if (call->grad_in)
    err = run_pass(host, call, &s, mode, PASS_BACKWARD, call->grad_out,
                   call->grad_in);
  if (!err && st_magnitude && call->grad_magnitude) {
    uint32_t len = s.dim[1] * s.dim[2] * s.dim[3];
    sum_push sp = {call->first, call->first, call->count, len, 1.0f, 1};
    dam_tensor *t[2] = {call->grad_out, call->grad_magnitude};
    err = host->dispatch(call->ex, &sum_shader, t, 2, &sp, call->count);
  }
  return err;
}

#define PW_TRANSFORM(NAME, MODE, ST_MAGNITUDE)                                 \
  static int NAME##_forward(const dam_host_api *host,                          \
                            const dam_augment_call *call) {                    \
    return pw_forward(host, call, MODE);                                       \
  }                                                                            \
  static int NAME##_backward(const dam_host_api *host,                         \
                             const dam_augment_call *call) {                   \
    return pw_backward(host, call, MODE, ST_MAGNITUDE);                        \
  }
PW_TRANSFORM(identity, PW_IDENTITY, 0)
PW_TRANSFORM(invert, PW_INVERT, 0)
PW_TRANSFORM(posterize, PW_POSTERIZE, 1)
PW_TRANSFORM(solarize, PW_SOLARIZE, 1)
PW_TRANSFORM(equalize, PW_EQUALIZE, 1)

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
