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

#include "auto_contrast.spv.h"
#include "enhance.spv.h"
#define AUG_USE_SUM
#include "augment_util.h"

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

AUG_SHADER(enhance_shader, enhance, "aug_enhance", 5, 0x10, en_push);
AUG_SHADER(auto_contrast_shader, auto_contrast, "aug_auto_contrast", 4, 0x8,
           ac_push);

static const char *const en_names[] = {"brightness", "contrast", "color",
                                       "sharpness"};

/* aug_check_call, and for grayscale modes (`gray`) 1 or 3 channels. */
static int check_call(const dam_host_api *host, const dam_augment_call *call,
                      const char *name, int gray, int backward, dam_shape *s) {
  int err = aug_check_call(host, call, name, backward, s);
  if (err || !gray || s->dim[1] == 1 || s->dim[1] == 3)
    return err;
  host->log(0, "augment %s: grayscale needs 1 or 3 channels", name);
  return DAM_PLUGIN_EINVAL;
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
  dam_tensor *mean = aug_scratch(host, call->ex, call->count);
  if (mean &&
      en_run(host, call, s, mode, EN_MEAN, call->magnitude, call->in, mean))
    return NULL;
  return mean;
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
  dam_tensor *sums = aug_scratch(host, call->ex, call->count);
  if (sums &&
      aug_image_sums(host, call->ex, gm, 0, sums, 0, call->count, len, 1.0f, 0))
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
  dam_tensor *gm = aug_scratch(host, call->ex, 2 * call->count * len);
  if (!stat || !gm)
    return DAM_PLUGIN_ENOMEM;
  err = en_run(host, call, &s, mode, EN_GRAD, stat, call->grad_out, gm);
  if (!err && call->grad_in) {
    dam_tensor *sums = en_sums(host, call, mode, gm, len);
    err = sums ? en_run(host, call, &s, mode, EN_INPUT, sums, gm, call->grad_in)
               : DAM_PLUGIN_ENOMEM;
  }
  if (!err && call->grad_magnitude)
    err = aug_image_sums(host, call->ex, gm, call->count, call->grad_magnitude,
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
      aug_scratch(host, call->ex, call->count * s->dim[1] * AC_STATS_LEN);
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

AUG_CALLS(brightness, en_forward, en_backward, EN_BRIGHTNESS)
AUG_CALLS(contrast, en_forward, en_backward, EN_CONTRAST)
AUG_CALLS(color, en_forward, en_backward, EN_COLOR)
AUG_CALLS(sharpness, en_forward, en_backward, EN_SHARPNESS)

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
