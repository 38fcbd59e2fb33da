/*
 * PIL's ImageEnhance enhancers and ImageOps.autocontrast, with exact
 * gradients.  The enhancers blend each image with a degenerate image d:
 *   out = clamp(d + f * (x - d), 0, 1),  f = m / 8 * 1.8 + 0.1
 *   brightness  d = 0
 *   contrast    d = the image's mean grayscale (one scalar per image)
 *   color       d = the pixel's grayscale (0.299 R + 0.587 G + 0.114 B)
 *   sharpness   d = the channel smoothed by [[1,1,1],[1,5,1],[1,1,1]] / 13,
 *               border pixels kept
 * auto_contrast: per image channel out = (x - lo) / (hi - lo) with lo, hi
 * its extremes; out = x where hi - lo < 1e-6.
 * Grayscale (contrast, color) needs 1 or 3 channels.  Shaders:
 * enhance.comp, auto_contrast.comp, and aug_sum.comp for per-image sums.
 */
#include <diffautoml/plugin.h>

#include "aug_sum.spv.h"
#include "auto_contrast.spv.h"
#include "enhance.spv.h"

enum en_mode { EN_BRIGHTNESS, EN_CONTRAST, EN_COLOR, EN_SHARPNESS };
enum en_pass { EN_MEAN, EN_FORWARD, EN_GRAD, EN_INPUT };
enum ac_pass { AC_STATS, AC_FORWARD, AC_INPUT };

/* d out / d m where the clamp is inactive, over (x - d). */
#define DFACTOR_DM (1.8f / 8.0f)
/* auto_contrast's floats per image channel (see auto_contrast.comp) */
#define AC_STATS_LEN 6

typedef struct en_push {
  uint32_t first, count, channels, height, width, mode, pass;
} en_push;

typedef struct ac_push {
  uint32_t first, count, channels, plane, pass, with_grad;
} ac_push;

typedef struct sum_push {
  uint32_t src_image0, dst_image0, count, len;
  float scale;
  uint32_t accumulate;
} sum_push;

static const dam_shader enhance_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "aug_enhance",
    .spirv = dam_spv_enhance,
    .spirv_size = sizeof dam_spv_enhance,
    .n_bindings = 5,
    .write_mask = 0x10,
    .push_size = sizeof(en_push),
    .local_size_x = 64,
};

static const dam_shader auto_contrast_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "aug_auto_contrast",
    .spirv = dam_spv_auto_contrast,
    .spirv_size = sizeof dam_spv_auto_contrast,
    .n_bindings = 4,
    .write_mask = 0x8,
    .push_size = sizeof(ac_push),
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

static const char *const en_names[] = {"brightness", "contrast", "color",
                                       "sharpness"};

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
                      const char *name, int gray, int backward, dam_shape *s) {
  const char *why = call_error(host, call, backward, s);
  if (!why && gray && s->dim[1] != 1 && s->dim[1] != 3)
    why = "grayscale needs 1 or 3 channels";
  if (!why)
    return DAM_PLUGIN_OK;
  host->log(0, "augment %s: %s", name, why);
  return DAM_PLUGIN_EINVAL;
}

static dam_tensor *scratch(const dam_host_api *host, dam_exec *ex, uint32_t n) {
  dam_shape s = {1, {n, 1, 1, 1}};
  return host->tensor_new(ex, &s);
}

/* One enhance.comp dispatch over the call's images (or its images' count
 * for EN_MEAN). */
static int en_run(const dam_host_api *host, const dam_augment_call *call,
                  const dam_shape *s, enum en_mode mode, enum en_pass pass,
                  dam_tensor *stat, dam_tensor *aux, dam_tensor *dst) {
  en_push p = {call->first, call->count,    s->dim[1],     s->dim[2],
               s->dim[3],   (uint32_t)mode, (uint32_t)pass};
  dam_tensor *t[5] = {call->in, call->magnitude, stat, aux, dst};
  uint32_t n =
      call->count * (pass == EN_MEAN ? 1 : s->dim[1] * s->dim[2] * s->dim[3]);
  return host->dispatch(call->ex, &enhance_shader, t, 5, &p, n);
}

/* The per-image tensor the FORWARD and GRAD passes read as `stat`:
 * contrast's means, or (unused) the magnitudes. */
static dam_tensor *en_stat(const dam_host_api *host,
                           const dam_augment_call *call, const dam_shape *s,
                           enum en_mode mode) {
  if (mode != EN_CONTRAST)
    return call->magnitude;
  dam_tensor *mean = scratch(host, call->ex, call->count);
  if (mean &&
      en_run(host, call, s, mode, EN_MEAN, call->magnitude, call->in, mean))
    return NULL;
  return mean;
}

/* dst[dst_image0 + i] (+)= scale * sum of src's image src_image0 + i. */
static int image_sums(const dam_host_api *host, dam_exec *ex, dam_tensor *src,
                      uint32_t src_image0, dam_tensor *dst, uint32_t dst_image0,
                      uint32_t count, uint32_t len, float scale,
                      uint32_t accumulate) {
  sum_push p = {src_image0, dst_image0, count, len, scale, accumulate};
  dam_tensor *t[2] = {src, dst};
  return host->dispatch(ex, &sum_shader, t, 2, &p, count);
}

static int en_forward(const dam_host_api *host, const dam_augment_call *call,
                      enum en_mode mode) {
  dam_shape s;
  int err = check_call(host, call, en_names[mode],
                       mode == EN_CONTRAST || mode == EN_COLOR, 0, &s);
  if (err || call->count == 0)
    return err;
  dam_tensor *stat = en_stat(host, call, &s, mode);
  if (!stat)
    return DAM_PLUGIN_ENOMEM;
  return en_run(host, call, &s, mode, EN_FORWARD, stat, call->in, call->out);
}

/* The per-image tensor the INPUT pass reads as `stat`: for contrast, the
 * sums of the GRAD pass's gm (what flows back through the mean); the
 * magnitudes (unused) otherwise. */
static dam_tensor *en_sums(const dam_host_api *host,
                           const dam_augment_call *call, enum en_mode mode,
                           dam_tensor *gm, uint32_t len) {
  if (mode != EN_CONTRAST)
    return call->magnitude;
  dam_tensor *sums = scratch(host, call->ex, call->count);
  if (sums &&
      image_sums(host, call->ex, gm, 0, sums, 0, call->count, len, 1.0f, 0))
    return NULL;
  return sums;
}

/* The GRAD pass gives gm (grad_out where the clamp is inactive) and
 * gm * (x - d) per element; the input gradient is f * gm plus what flows
 * through d, the magnitude's is DFACTOR_DM times the second's image sums. */
static int en_backward(const dam_host_api *host, const dam_augment_call *call,
                       enum en_mode mode) {
  dam_shape s;
  int err = check_call(host, call, en_names[mode],
                       mode == EN_CONTRAST || mode == EN_COLOR, 1, &s);
  if (err || call->count == 0 || (!call->grad_in && !call->grad_magnitude))
    return err;
  uint32_t len = s.dim[1] * s.dim[2] * s.dim[3];
  dam_tensor *stat = en_stat(host, call, &s, mode);
  dam_tensor *gm = scratch(host, call->ex, 2 * call->count * len);
  if (!stat || !gm)
    return DAM_PLUGIN_ENOMEM;
  err = en_run(host, call, &s, mode, EN_GRAD, stat, call->grad_out, gm);
  if (!err && call->grad_in) {
    dam_tensor *sums = en_sums(host, call, mode, gm, len);
    err = sums ? en_run(host, call, &s, mode, EN_INPUT, sums, gm, call->grad_in)
               : DAM_PLUGIN_ENOMEM;
  }
  if (!err && call->grad_magnitude)
    err = image_sums(host, call->ex, gm, call->count, call->grad_magnitude,
                     call->first, call->count, len, DFACTOR_DM, 1);
  return err;
}

/* One auto_contrast.comp dispatch over the call's images (their channels
 * for AC_STATS, which adds the gradient sums when aux is grad_out). */
static int ac_run(const dam_host_api *host, const dam_augment_call *call,
                  const dam_shape *s, enum ac_pass pass, dam_tensor *aux,
                  dam_tensor *stat, dam_tensor *dst) {
  uint32_t plane = s->dim[2] * s->dim[3];
  ac_push p = {call->first, call->count,    s->dim[1],
               plane,       (uint32_t)pass, aux != call->in};
  dam_tensor *t[4] = {call->in, aux, stat, dst};
  uint32_t n = call->count * s->dim[1] * (pass == AC_STATS ? 1 : plane);
  return host->dispatch(call->ex, &auto_contrast_shader, t, 4, &p, n);
}

/* Each channel's extremes (and with grad_out, the sums the input gradient
 * needs through them). */
static dam_tensor *ac_stats(const dam_host_api *host,
                            const dam_augment_call *call, const dam_shape *s,
                            dam_tensor *grad_out) {
  dam_tensor *stats =
      scratch(host, call->ex, call->count * s->dim[1] * AC_STATS_LEN);
  if (stats && ac_run(host, call, s, AC_STATS, grad_out ? grad_out : call->in,
                      call->in, stats))
    return NULL;
  return stats;
}

static int auto_contrast_forward(const dam_host_api *host,
                                 const dam_augment_call *call) {
  dam_shape s;
  int err = check_call(host, call, "auto_contrast", 0, 0, &s);
  if (err || call->count == 0)
    return err;
  dam_tensor *stats = ac_stats(host, call, &s, NULL);
  if (!stats)
    return DAM_PLUGIN_ENOMEM;
  return ac_run(host, call, &s, AC_FORWARD, call->in, stats, call->out);
}

static int auto_contrast_backward(const dam_host_api *host,
                                  const dam_augment_call *call) {
  dam_shape s;
  int err = check_call(host, call, "auto_contrast", 0, 1, &s);
  if (err || call->count == 0 || !call->grad_in)
    return err;
  dam_tensor *stats = ac_stats(host, call, &s, call->grad_out);
  if (!stats)
    return DAM_PLUGIN_ENOMEM;
  return ac_run(host, call, &s, AC_INPUT, call->grad_out, stats, call->grad_in);
}

#define EN_TRANSFORM(NAME, MODE)                                               \
  static int NAME##_forward(const dam_host_api *host,                          \
                            const dam_augment_call *call) {                    \
    return en_forward(host, call, MODE);                                       \
  }                                                                            \
  static int NAME##_backward(const dam_host_api *host,                         \
                             const dam_augment_call *call) {                   \
    return en_backward(host, call, MODE);                                      \
  }
EN_TRANSFORM(brightness, EN_BRIGHTNESS)
EN_TRANSFORM(contrast, EN_CONTRAST)
EN_TRANSFORM(color, EN_COLOR)
EN_TRANSFORM(sharpness, EN_SHARPNESS)

#define EN_DESC(NAME, SUMMARY, MAGNITUDE_GRAD)                                 \
  static const dam_augment_desc NAME = {                                       \
      .hdr = {.struct_size = sizeof(dam_augment_desc),                         \
              .kind = DAM_KIND_AUGMENT,                                        \
              .name = #NAME,                                                   \
              .summary = SUMMARY},                                             \
      .input_grad = DAM_AUG_GRAD_EXACT,                                        \
      .magnitude_grad = MAGNITUDE_GRAD,                                        \
      .identity_at_zero = 0,                                                   \
      .forward = NAME##_forward,                                               \
      .backward = NAME##_backward,                                             \
  }
EN_DESC(brightness, "out = clamp(f*x, 0, 1), f = m/8*1.8+0.1",
        DAM_AUG_GRAD_EXACT);
EN_DESC(contrast,
        "out = clamp(d + f*(x-d), 0, 1), d = the image's mean grayscale, "
        "f = m/8*1.8+0.1",
        DAM_AUG_GRAD_EXACT);
EN_DESC(color,
        "out = clamp(d + f*(x-d), 0, 1), d = the pixel's grayscale, "
        "f = m/8*1.8+0.1",
        DAM_AUG_GRAD_EXACT);
EN_DESC(sharpness,
        "out = clamp(d + f*(x-d), 0, 1), d = x smoothed by "
        "[[1,1,1],[1,5,1],[1,1,1]]/13 (border kept), f = m/8*1.8+0.1",
        DAM_AUG_GRAD_EXACT);
EN_DESC(auto_contrast,
        "per image channel out = (x-lo)/(hi-lo), lo, hi its extremes "
        "(out = x where hi-lo < 1e-6); no magnitude",
        DAM_AUG_GRAD_NONE);

DAM_PLUGIN_DEFINE("enhance", "0.1.0", "MIT", &brightness.hdr, &contrast.hdr,
                  &color.hdr, &sharpness.hdr, &auto_contrast.hdr)
