/*
 * The photometric augment plugins (plugins/augment/pointwise.so and
 * enhance.so) on the device against C references of their definitions:
 * the forward (bit-exact where the output is a level k/255 or 1 - x, 1e-4
 * otherwise), images outside [first, first+count) left alone, the backward
 * against central differences of the references (exact gradients) or
 * against the straight-through definition, accumulation into the given
 * gradients, NULL gradients, and run-to-run determinism.
 */
#include "harness.h"
#include "host_api.h"
#include "plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4
#define SENTINEL (-7.25f)
#define FWD_TOL 1e-4
/* Vulkan lets a shader's division be off by 2.5 units in the last place
 * (NVIDIA's is): k / 255.0 may miss the correctly rounded level by that. */
#define DIV_ULPS 3
#define GRAD_TOL 1e-4
#define FD_EPS 1e-7
#define DIRECTIONS 3

typedef struct geom {
  uint32_t c, h, w;
} geom;

static size_t image_len(const geom *g) { return (size_t)g->c * g->h * g->w; }

/* A transform's reference on one image: y = T(x) at magnitude m. */
typedef void ref_fn(const double *x, const geom *g, double m, double *y);

/* ---- references ---------------------------------------------------- */

static int level(float v) {
  float s = v * 255.0f + 0.5f;
  return (int)fminf(fmaxf(floorf(s), 0.0f), 255.0f);
}

static double level_value(int q) { return (double)((float)q / 255.0f); }

static void ref_identity(const double *x, const geom *g, double m, double *y) {
  (void)m;
  memcpy(y, x, image_len(g) * sizeof *y);
}

static void ref_invert(const double *x, const geom *g, double m, double *y) {
  (void)m;
  for (size_t k = 0; k < image_len(g); k++)
    y[k] = 1.0 - x[k];
}

static void ref_posterize(const double *x, const geom *g, double m, double *y) {
  float b = (float)m / 8.0f * 3.0f + 1.0f;
  int bits = (int)b < 0 ? 0 : (int)b > 8 ? 8 : (int)b;
  for (size_t k = 0; k < image_len(g); k++)
    y[k] = level_value(level((float)x[k]) & ~((1 << (8 - bits)) - 1));
}

static int solarized(double x, double m) {
  return level((float)x) >= (int)((float)m / 8.0f * 256.0f);
}

static void ref_solarize(const double *x, const geom *g, double m, double *y) {
  for (size_t k = 0; k < image_len(g); k++)
    y[k] = solarized(x[k], m) ? 1.0 - x[k] : x[k];
}

/* PIL's ImageOps.equalize on one channel of `plane` pixels. */
static void equalize_channel(const double *x, size_t plane, double *y) {
  uint32_t hist[256] = {0}, last = 0, lut[256];
  for (size_t k = 0; k < plane; k++)
    hist[level((float)x[k])]++;
  for (int b = 255; b >= 0 && !last; b--)
    last = hist[b];
  uint32_t step = ((uint32_t)plane - last) / 255, n = step / 2;
  for (uint32_t b = 0; b < 256; b++) {
    lut[b] = step == 0 ? b : n / step < 255 ? n / step : 255;
    n += hist[b];
  }
  for (size_t k = 0; k < plane; k++)
    y[k] = level_value((int)lut[level((float)x[k])]);
}

static void ref_equalize(const double *x, const geom *g, double m, double *y) {
  (void)m;
  size_t plane = (size_t)g->h * g->w;
  for (uint32_t c = 0; c < g->c; c++)
    equalize_channel(x + c * plane, plane, y + c * plane);
}

static double factor(double m) { return m / 8.0 * 1.8 + 0.1; }

static double gray_weight(const geom *g, uint32_t c) {
  static const double w[3] = {0.299, 0.587, 0.114};
  return g->c == 3 ? w[c] : 1.0;
}

/* y = clamp(d + f * (x - d), 0, 1) given the degenerate image d. */
static void blend(const double *x, const double *d, const geom *g, double m,
                  double *y) {
  double f = factor(m);
  for (size_t k = 0; k < image_len(g); k++)
    y[k] = fmin(fmax(d[k] + f * (x[k] - d[k]), 0.0), 1.0);
}

static void ref_brightness(const double *x, const geom *g, double m,
                           double *y) {
  double *d = calloc(image_len(g), sizeof *d);
  blend(x, d, g, m, y);
  free(d);
}

static void ref_contrast(const double *x, const geom *g, double m, double *y) {
  size_t plane = (size_t)g->h * g->w, len = image_len(g);
  double mean = 0, *d = malloc(len * sizeof *d);
  for (size_t k = 0; k < len; k++)
    mean += gray_weight(g, (uint32_t)(k / plane)) * x[k];
  for (size_t k = 0; k < len; k++)
    d[k] = mean / (double)plane;
  blend(x, d, g, m, y);
  free(d);
}

static void ref_color(const double *x, const geom *g, double m, double *y) {
  size_t plane = (size_t)g->h * g->w, len = image_len(g);
  double *d = calloc(len, sizeof *d);
  for (size_t k = 0; k < len; k++)
    for (uint32_t c = 0; c < g->c; c++)
      d[k] += gray_weight(g, c) * x[c * plane + k % plane];
  blend(x, d, g, m, y);
  free(d);
}

static void ref_sharpness(const double *x, const geom *g, double m, double *y) {
  size_t len = image_len(g);
  double *d = malloc(len * sizeof *d);
  for (size_t k = 0; k < len; k++) {
    uint32_t r = (uint32_t)(k / g->w % g->h), col = (uint32_t)(k % g->w);
    d[k] = x[k];
    if (r == 0 || col == 0 || r + 1 == g->h || col + 1 == g->w)
      continue;
    double s = 4 * x[k];
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++)
        s += x[(size_t)((ptrdiff_t)k + dy * (ptrdiff_t)g->w + dx)];
    d[k] = s / 13.0;
  }
  blend(x, d, g, m, y);
  free(d);
}

static void ref_auto_contrast(const double *x, const geom *g, double m,
                              double *y) {
  (void)m;
  size_t plane = (size_t)g->h * g->w;
  for (size_t c = 0; c < g->c; c++) {
    const double *xc = x + c * plane;
    double lo = xc[0], hi = xc[0];
    for (size_t k = 1; k < plane; k++) {
      lo = fmin(lo, xc[k]);
      hi = fmax(hi, xc[k]);
    }
    for (size_t k = 0; k < plane; k++)
      y[c * plane + k] = hi - lo < 1e-6 ? xc[k] : (xc[k] - lo) / (hi - lo);
  }
}

/* ---- the transforms -------------------------------------------------- */

enum {
  EXACT = DAM_AUG_GRAD_EXACT,
  ST = DAM_AUG_GRAD_STRAIGHT_THROUGH,
  NONE = DAM_AUG_GRAD_NONE
};

typedef struct transform {
  const char *name, *file;
  ref_fn *ref;
  int bit_exact; /* outputs are levels k/255 (DIV_ULPS), x or 1 - x */
  uint32_t input_grad, magnitude_grad, identity_at_zero;
} transform;

static const transform transforms[] = {
    {"identity", "pointwise.so", ref_identity, 1, EXACT, NONE, 1},
    {"invert", "pointwise.so", ref_invert, 1, EXACT, NONE, 0},
    {"posterize", "pointwise.so", ref_posterize, 1, ST, ST, 0},
    {"solarize", "pointwise.so", ref_solarize, 1, EXACT, ST, 0},
    {"equalize", "pointwise.so", ref_equalize, 1, ST, ST, 0},
    {"brightness", "enhance.so", ref_brightness, 0, EXACT, EXACT, 0},
    {"contrast", "enhance.so", ref_contrast, 0, EXACT, EXACT, 0},
    {"color", "enhance.so", ref_color, 0, EXACT, EXACT, 0},
    {"sharpness", "enhance.so", ref_sharpness, 0, EXACT, EXACT, 0},
    {"auto_contrast", "enhance.so", ref_auto_contrast, 0, EXACT, NONE, 0},
};
#define N_TRANSFORMS (sizeof transforms / sizeof transforms[0])

static const geom geoms[] = {{1, 7, 9}, {3, 7, 9}, {1, 28, 28}, {3, 28, 28}};
#define N_GEOMS (sizeof geoms / sizeof geoms[0])

/* {0, 8, fractional}: 8/3 sits on posterize's bit boundary. */
static const float magnitudes[N] = {0.0f, 8.0f, 8.0f / 3.0f, 5.3f};

static dam_registry *registry;

static const dam_augment_desc *find(const transform *t) {
  const dam_desc_header *d =
      dam_registry_find(registry, DAM_KIND_AUGMENT, t->name, NULL);
  assert_non_null(d);
  return (const dam_augment_desc *)d;
}

/* ---- batches and calls --------------------------------------------- */

enum input_kind { LEVELS, UNIFORM, NARROW };

/* N images of geometry g: exact levels k/255, uniform floats in [0, 1),
 * or uniform in [0.3, 0.5). */
static float *images(harness *h, const geom *g, enum input_kind kind) {
  size_t n = N * image_len(g);
  float *x = harness_random(h, n, kind == NARROW ? 0.3f : 0.0f,
                            kind == NARROW ? 0.5f : 1.0f);
  if (kind == LEVELS)
    for (size_t k = 0; k < n; k++)
      x[k] = (float)(int)(x[k] * 256.0f) / 255.0f;
  return x;
}

typedef struct run {
  dam_tensor *in, *out, *magnitude, *seed, *grad_out, *grad_in, *grad_magnitude;
} run;

static run upload(harness *h, const geom *g, const float *x) {
  dam_shape s = dam_shape4(N, g->c, g->h, g->w), ms = dam_shape4(N, 0, 0, 0);
  float seeds[N];
  for (uint32_t i = 0; i < N; i++) {
    uint32_t v = 0x5eed0000u + i;
    memcpy(&seeds[i], &v, sizeof v);
  }
  return (run){.in = harness_tensor(h, s, x),
               .magnitude = harness_tensor(h, ms, magnitudes),
               .seed = harness_tensor(h, ms, seeds)};
}

static dam_augment_call call_of(harness *h, const run *r, uint32_t first,
                                uint32_t count, uint32_t needs) {
  return (dam_augment_call){.struct_size = sizeof(dam_augment_call),
                            .needs_grad = needs,
                            .ex = h->ex,
                            .first = first,
                            .count = count,
                            .in = r->in,
                            .out = r->out,
                            .magnitude = r->magnitude,
                            .seed = r->seed,
                            .grad_out = r->grad_out,
                            .grad_in = r->grad_in,
                            .grad_magnitude = r->grad_magnitude};
}

/* The forward over images [first, first+count) of an output prefilled
 * with SENTINEL; returns the whole output (malloc'd). */
static float *forward(harness *h, const transform *t, const geom *g,
                      const float *x, uint32_t first, uint32_t count) {
  size_t n = N * image_len(g);
  float *fill = malloc(n * sizeof *fill);
  for (size_t k = 0; k < n; k++)
    fill[k] = SENTINEL;
  run r = upload(h, g, x);
  r.out = harness_tensor(h, dam_shape4(N, g->c, g->h, g->w), fill);
  dam_augment_call call = call_of(h, &r, first, count, 0);
  assert_int_equal(find(t)->forward(dam_host_api_get(), &call), 0);
  float *y = harness_read(h, r.out);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(fill);
  return y;
}

typedef struct grads {
  float *in, *magnitude; /* NULL where not asked for */
} grads;

/* The backward over images [first, first+count) with grad_out gout, into
 * grad_in prefilled with pin and grad_magnitude with pmag (bit 0 and bit
 * 1 of needs: which of them exist). */
static grads backward(harness *h, const transform *t, const geom *g,
                      const float *x, const float *gout, const float *pin,
                      const float *pmag, uint32_t first, uint32_t count,
                      uint32_t needs) {
  dam_shape s = dam_shape4(N, g->c, g->h, g->w);
  run r = upload(h, g, x);
  r.grad_out = harness_tensor(h, s, gout);
  if (needs & 1)
    r.grad_in = harness_tensor(h, s, pin);
  if (needs & 2)
    r.grad_magnitude = harness_tensor(h, dam_shape4(N, 0, 0, 0), pmag);
  dam_augment_call call = call_of(h, &r, first, count, needs);
  assert_int_equal(find(t)->backward(dam_host_api_get(), &call), 0);
  grads out = {r.grad_in ? harness_read(h, r.grad_in) : NULL,
               r.grad_magnitude ? harness_read(h, r.grad_magnitude) : NULL};
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return out;
}

static void grads_free(grads *gr) {
  free(gr->in);
  free(gr->magnitude);
}

/* ---- reference helpers ----------------------------------------------- */

static double *to_double(const float *v, size_t n) {
  double *d = calloc(n, sizeof *d);
  for (size_t k = 0; k < n; k++)
    d[k] = v[k];
  return d;
}

/* <gout, T(x + e v)> over one image (v may be NULL: e ignored). */
static double objective(const transform *t, const geom *g, const float *x,
                        const double *v, double e, double m,
                        const float *gout) {
  size_t len = image_len(g);
  double *xp = to_double(x, len), *y = malloc(len * sizeof *y), sum = 0;
  for (size_t k = 0; v && k < len; k++)
    xp[k] += e * v[k];
  t->ref(xp, g, m, y);
  for (size_t k = 0; k < len; k++)
    sum += gout[k] * y[k];
  free(xp);
  free(y);
  return sum;
}

/* d/de <gout, T(x + e v)> at magnitude m by central differences, or with
 * v NULL, d/dm <gout, T(x)>. */
static double central_diff(const transform *t, const geom *g, const float *x,
                           const double *v, double m, const float *gout) {
  double dm = v ? 0 : FD_EPS;
  return (objective(t, g, x, v, FD_EPS, m + dm, gout) -
          objective(t, g, x, v, -FD_EPS, m - dm, gout)) /
         (2 * FD_EPS);
}

/* Whether got is within GRAD_TOL of want, relative to max(1, |want|);
 * *worst keeps the largest such error. */
static int grad_close(double got, double want, double *worst) {
  double e = fabs(got - want) / fmax(1.0, fabs(want));
  *worst = fmax(*worst, e);
  return e <= GRAD_TOL;
}

static double worst_forward, worst_input, worst_magnitude;

static void check_untouched(const float *got, const float *want, size_t len,
                            uint32_t first, uint32_t count) {
  for (uint32_t i = 0; i < N; i++)
    if (i < first || i >= first + count)
      assert_memory_equal(got + i * len, want + i * len, len * sizeof *got);
}

/* ---- tests --------------------------------------------------------- */

static void descriptors(void **state) {
  (void)state;
  for (size_t t = 0; t < N_TRANSFORMS; t++) {
    const dam_augment_desc *d = find(&transforms[t]);
    assert_int_equal(d->hdr.kind, DAM_KIND_AUGMENT);
    assert_int_equal(d->input_grad, transforms[t].input_grad);
    assert_int_equal(d->magnitude_grad, transforms[t].magnitude_grad);
    assert_int_equal(d->identity_at_zero, transforms[t].identity_at_zero);
    int st = d->input_grad == ST || d->magnitude_grad == ST;
    assert_int_equal(strstr(d->hdr.summary, "straight-through") != NULL, st);
  }
}

/* How many floats lie between a and b (finite; over 2^31 when their signs
 * differ and they are not both zero). */
static int64_t ulps_apart(float a, float b) {
  if (a == b)
    return 0;
  int32_t ia, ib;
  memcpy(&ia, &a, sizeof ia);
  memcpy(&ib, &b, sizeof ib);
  int64_t d = (int64_t)ia - ib;
  return d < 0 ? -d : d;
}

/* Images [first, first+count) of y against the reference; the others
 * hold SENTINEL. */
static void check_forward(const transform *t, const geom *g, const float *x,
                          const float *y, uint32_t first, uint32_t count) {
  size_t len = image_len(g);
  double *ref = malloc(len * sizeof *ref);
  for (uint32_t i = 0; i < N; i++) {
    const float *yi = y + i * len;
    if (i < first || i >= first + count) {
      for (size_t k = 0; k < len; k++)
        assert_true(yi[k] == SENTINEL);
      continue;
    }
    double *xi = to_double(x + i * len, len);
    t->ref(xi, g, magnitudes[i], ref);
    for (size_t k = 0; k < len; k++) {
      double e = fabs(yi[k] - ref[k]);
      worst_forward = t->bit_exact ? worst_forward : fmax(worst_forward, e);
      if ((t->bit_exact && ulps_apart(yi[k], (float)ref[k]) > DIV_ULPS) ||
          !(e <= FWD_TOL))
        fail_msg("%s C=%u %ux%u image %u [%zu]: %.9g, want %.9g", t->name, g->c,
                 g->h, g->w, i, k, yi[k], ref[k]);
    }
    free(xi);
  }
  free(ref);
}

static void forward_matches_reference(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t gi = 0; gi < N_GEOMS; gi++)
      for (int kind = LEVELS; kind <= NARROW; kind++) {
        float *x = images(h, &geoms[gi], (enum input_kind)kind);
        float *y = forward(h, &transforms[t], &geoms[gi], x, 0, N);
        check_forward(&transforms[t], &geoms[gi], x, y, 0, N);
        free(x);
        free(y);
      }
  print_message("forward: worst error of the blends %.2e (levels exact)\n",
                worst_forward);
}

static void forward_leaves_other_images(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t gi = 0; gi < 2; gi++) {
      float *x = images(h, &geoms[gi], UNIFORM);
      float *y = forward(h, &transforms[t], &geoms[gi], x, 1, 2);
      check_forward(&transforms[t], &geoms[gi], x, y, 1, 2);
      free(x);
      free(y);
    }
}

static void identity_at_zero(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < N_TRANSFORMS; t++) {
    if (!transforms[t].identity_at_zero)
      continue;
    float *x = images(h, &geoms[1], UNIFORM);
    float *y = forward(h, &transforms[t], &geoms[1], x, 0, 1);
    assert_memory_equal(y, x, image_len(&geoms[1]) * sizeof *x);
    free(x);
    free(y);
  }
}

/* An exact input gradient: the change in grad_in along random directions
 * against central differences of <gout, T(x)>. */
static void check_input_fd(harness *h, const transform *t, const geom *g,
                           const float *x, const float *gout, const float *pin,
                           const float *gin, uint32_t i) {
  size_t len = image_len(g), o = i * len;
  for (int dir = 0; dir < DIRECTIONS; dir++) {
    float *vf = harness_random(h, len, -1, 1);
    double *v = to_double(vf, len), got = 0;
    for (size_t k = 0; k < len; k++)
      got += ((double)gin[o + k] - pin[o + k]) * v[k];
    double want = central_diff(t, g, x + o, v, magnitudes[i], gout + o);
    if (!grad_close(got, want, &worst_input))
      fail_msg("%s C=%u %ux%u image %u: d/dx %.9g, finite differences %.9g",
               t->name, g->c, g->h, g->w, i, got, want);
    free(vf);
    free(v);
  }
}

static void check_input(harness *h, const transform *t, const geom *g,
                        const float *x, const float *gout, const float *pin,
                        const float *gin, uint32_t i) {
  size_t len = image_len(g), o = i * len;
  if (t->input_grad == EXACT && strcmp(t->name, "solarize") != 0) {
    check_input_fd(h, t, g, x, gout, pin, gin, i);
    return;
  }
  /* straight-through, or solarize's piecewise +-1 */
  for (size_t k = o; k < o + len; k++) {
    int neg = t->input_grad == EXACT && solarized(x[k], magnitudes[i]);
    assert_true(gin[k] == pin[k] + (neg ? -gout[k] : gout[k]));
  }
}

static void check_magnitude(const transform *t, const geom *g, const float *x,
                            const float *gout, const float *pmag,
                            const float *gmag, uint32_t i) {
  size_t len = image_len(g), o = i * len;
  if (t->magnitude_grad == NONE) {
    assert_true(gmag[i] == pmag[i]);
    return;
  }
  double want = 0, got = (double)gmag[i] - pmag[i];
  if (t->magnitude_grad == ST)
    for (size_t k = o; k < o + len; k++)
      want += gout[k];
  else
    want = central_diff(t, g, x + o, NULL, magnitudes[i], gout + o);
  if (!grad_close(got, want, &worst_magnitude))
    fail_msg("%s C=%u %ux%u image %u: d/dm %.9g, want %.9g", t->name, g->c,
             g->h, g->w, i, got, want);
}

/* The backward of transform t over [first, first+count) of a uniform
 * batch; the gradients' other entries stay as prefilled. */
static void check_backward(harness *h, const transform *t, const geom *g,
                           uint32_t first, uint32_t count) {
  size_t len = image_len(g), n = N * len;
  float *x = images(h, g, UNIFORM), *gout = harness_random(h, n, -1, 1);
  float *pin = harness_random(h, n, -1, 1), *pmag = harness_random(h, N, -1, 1);
  grads gr = backward(h, t, g, x, gout, pin, pmag, first, count, 3);
  check_untouched(gr.in, pin, len, first, count);
  check_untouched(gr.magnitude, pmag, 1, first, count);
  for (uint32_t i = first; i < first + count; i++) {
    check_input(h, t, g, x, gout, pin, gr.in, i);
    check_magnitude(t, g, x, gout, pmag, gr.magnitude, i);
  }
  /* Each gradient alone: the same values, the other one NULL. */
  for (uint32_t needs = 1; needs <= 2; needs++) {
    grads one = backward(h, t, g, x, gout, pin, pmag, first, count, needs);
    if (needs == 1)
      assert_memory_equal(one.in, gr.in, n * sizeof *x);
    else
      assert_memory_equal(one.magnitude, gr.magnitude, N * sizeof *x);
    grads_free(&one);
  }
  grads_free(&gr);
  free(x);
  free(gout);
  free(pin);
  free(pmag);
}

static void backward_matches_reference(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t gi = 0; gi < N_GEOMS; gi++) {
      check_backward(h, &transforms[t], &geoms[gi], 0, N);
      check_backward(h, &transforms[t], &geoms[gi], 1, 2);
    }
  print_message("backward: worst relative error d/dx %.2e, d/dm %.2e\n",
                worst_input, worst_magnitude);
}

/* auto_contrast's input gradient on one channel by its definition, ties
 * going to the first index: what the backward adds for grad_out gout. */
static void auto_contrast_grad(const float *x, const float *gout, size_t plane,
                               double *gin) {
  size_t amin = 0, amax = 0;
  for (size_t k = 1; k < plane; k++) {
    amin = x[k] < x[amin] ? k : amin;
    amax = x[k] > x[amax] ? k : amax;
  }
  double lo = x[amin], hi = x[amax], r = hi - lo, s_lo = 0, s_hi = 0;
  for (size_t k = 0; k < plane; k++) {
    gin[k] = r < 1e-6 ? gout[k] : gout[k] / r;
    s_lo += gout[k] * (x[k] - hi);
    s_hi += gout[k] * (x[k] - lo);
  }
  if (r >= 1e-6) {
    gin[amin] += s_lo / (r * r);
    gin[amax] -= s_hi / (r * r);
  }
}

/* Extremes reached by several pixels, and a constant channel. */
static void auto_contrast_ties(void **state) {
  harness *h = *state;
  const transform *t = &transforms[N_TRANSFORMS - 1];
  assert_string_equal(t->name, "auto_contrast");
  const geom *g = &geoms[1];
  size_t len = image_len(g), plane = (size_t)g->h * g->w, n = N * len;
  float *x = harness_random(h, n, 0, 1), *gout = harness_random(h, n, -1, 1);
  float *zero = calloc(N, sizeof *zero), *pin = calloc(n, sizeof *pin);
  for (size_t k = 0; k < n; k++)
    x[k] = (float)(17 * (int)(x[k] * 16.0f)) / 255.0f;
  for (size_t k = 0; k < plane; k++)
    x[2 * len + k] = 0.25f;
  float *y = forward(h, t, g, x, 0, N);
  check_forward(t, g, x, y, 0, N);
  grads gr = backward(h, t, g, x, gout, pin, zero, 0, N, 1);
  double *want = malloc(plane * sizeof *want);
  for (size_t c = 0; c < N * g->c; c++) {
    auto_contrast_grad(x + c * plane, gout + c * plane, plane, want);
    for (size_t k = 0; k < plane; k++)
      if (!grad_close(gr.in[c * plane + k], want[k], &worst_input))
        fail_msg("auto_contrast channel %zu [%zu]: d/dx %.9g, want %.9g", c, k,
                 gr.in[c * plane + k], want[k]);
  }
  free(want);
  grads_free(&gr);
  free(y);
  free(x);
  free(gout);
  free(zero);
  free(pin);
}

static void runs_are_identical(void **state) {
  harness *h = *state;
  const geom *g = &geoms[3];
  size_t n = N * image_len(g);
  for (size_t t = 0; t < N_TRANSFORMS; t++) {
    const transform *tr = &transforms[t];
    float *x = images(h, g, UNIFORM), *gout = harness_random(h, n, -1, 1);
    float *pin = harness_random(h, n, -1, 1),
          *pmag = harness_random(h, N, -1, 1);
    float *y[2];
    grads gr[2];
    for (int r = 0; r < 2; r++) {
      y[r] = forward(h, tr, g, x, 0, N);
      gr[r] = backward(h, tr, g, x, gout, pin, pmag, 0, N, 3);
    }
    assert_memory_equal(y[0], y[1], n * sizeof *x);
    assert_memory_equal(gr[0].in, gr[1].in, n * sizeof *x);
    assert_memory_equal(gr[0].magnitude, gr[1].magnitude, N * sizeof *x);
    for (int r = 0; r < 2; r++) {
      free(y[r]);
      grads_free(&gr[r]);
    }
    free(x);
    free(gout);
    free(pin);
    free(pmag);
  }
}

int main(void) {
  registry = dam_registry_new();
  if (!registry ||
      dam_registry_load_file(registry, AUGMENT_PLUGIN_DIR "/pointwise.so") ||
      dam_registry_load_file(registry, AUGMENT_PLUGIN_DIR "/enhance.so")) {
    fprintf(stderr, "cannot load the photometric plugins\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(descriptors),
      cmocka_unit_test(forward_matches_reference),
      cmocka_unit_test(forward_leaves_other_images),
      cmocka_unit_test(identity_at_zero),
      cmocka_unit_test(backward_matches_reference),
      cmocka_unit_test(auto_contrast_ties),
      cmocka_unit_test(runs_are_identical),
  };
  int failed = cmocka_run_group_tests(tests, harness_setup, harness_teardown);
  dam_registry_free(registry);
  return failed;
}
