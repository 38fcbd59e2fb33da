/*
 * The geometric augment plugins on the device (affine.so: rotate, shear_x,
 * shear_y, translate_x, translate_y, flip_h; cutout.so: cutout) against C
 * references of their definitions written here in double precision: the
 * forward, magnitude 0 as the identity, images outside the call left
 * alone, the backward against the reference's adjoint and against central
 * finite differences, accumulation into the gradients, and determinism.
 */
#include "harness.h"
#include "host_api.h"
#include "plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4
#define FILL 0.25f
#define PI 3.14159265358979323846

enum kind {
  ROTATE,
  SHEAR_X,
  SHEAR_Y,
  TRANSLATE_X,
  TRANSLATE_Y,
  FLIP_H,
  CUTOUT
};

typedef struct transform {
  const char *name;
  enum kind kind;
  int exact;  /* forward compared bit for bit */
  double max; /* the parameter, or 0 for its default */
} transform;

/* Each affine transform at its default range; rotate and shear_x also at
 * their largest (every quadrant of the angle, the widest gather window). */
static const transform transforms[] = {
    {"rotate", ROTATE, 0, 0},           {"rotate", ROTATE, 0, 180},
    {"shear_x", SHEAR_X, 0, 0},         {"shear_x", SHEAR_X, 0, 1},
    {"shear_y", SHEAR_Y, 0, 0},         {"translate_x", TRANSLATE_X, 0, 0},
    {"translate_y", TRANSLATE_Y, 0, 0}, {"flip_h", FLIP_H, 1, 0},
    {"cutout", CUTOUT, 1, 0},
};
#define N_TRANSFORMS (sizeof transforms / sizeof transforms[0])

/* C, H, W */
static const uint32_t geoms[][3] = {
    {1, 7, 9}, {3, 9, 7}, {1, 28, 28}, {3, 28, 28}};
#define N_GEOMS (sizeof geoms / sizeof geoms[0])

static const float forward_levels[N] = {0.0f, 8.0f, 3.3f, 5.7f};
/* Fractional and away from 0: no kink under the finite differences. */
static const float smooth_levels[N] = {1.3f, 3.3f, 5.7f, 7.9f};

static dam_registry *reg;

static int setup(void **state) {
  if (harness_setup(state))
    return -1;
  reg = dam_registry_new();
  if (!reg || dam_registry_load_file(reg, AUGMENT_PLUGIN_DIR "/affine.so") ||
      dam_registry_load_file(reg, AUGMENT_PLUGIN_DIR "/cutout.so"))
    return -1;
  return 0;
}

static int teardown(void **state) {
  int err = harness_teardown(state);
  dam_registry_free(reg);
  return err;
}

/* ---- the reference ------------------------------------------------- */

/* A transform applied to images of one geometry. */
typedef struct ref {
  enum kind kind;
  double max; /* the descriptor's parameter (default) */
  uint32_t c, h, w;
} ref;

static double ref_sign(uint32_t seed) {
  return (dam_draw(seed, 0) & 1) ? -1.0 : 1.0;
}

/* T(x, y): where output pixel (x, y) samples the input, from the
 * documented definitions. */
static void ref_map(const ref *r, double m, uint32_t seed, double x, double y,
                    double *u, double *v) {
  double cx = (r->w - 1) / 2.0, cy = (r->h - 1) / 2.0;
  double f = ref_sign(seed) * r->max * m / 8.0;
  double a = f * PI / 180.0;
  *u = x;
  *v = y;
  switch (r->kind) {
  case ROTATE:
    *u = cx + cos(a) * (x - cx) - sin(a) * (y - cy);
    *v = cy + sin(a) * (x - cx) + cos(a) * (y - cy);
    break;
  case SHEAR_X:
    *u = x + f * (y - cy);
    break;
  case SHEAR_Y:
    *v = y + f * (x - cx);
    break;
  case TRANSLATE_X:
    *u = x - f * r->w;
    break;
  case TRANSLATE_Y:
    *v = y - f * r->h;
    break;
  case FLIP_H:
    *u = r->w - 1 - x;
    break;
  case CUTOUT:
    break;
  }
}

/* The same float arithmetic as cutout.c documents. */
static int ref_cut(const ref *r, double m, uint32_t seed, uint32_t x,
                   uint32_t y) {
  uint32_t side = r->h < r->w ? r->h : r->w;
  float half = (float)m * (float)(r->max * side / 16.0);
  float cx = dam_draw_unit(seed, 1) * (float)r->w;
  float cy = dam_draw_unit(seed, 2) * (float)r->h;
  return fabsf((float)x - cx) < half && fabsf((float)y - cy) < half;
}

/* Bilinear corners of (u, v) and their weights. */
typedef struct corners {
  long x[4], y[4];
  double w[4];
} corners;

static corners ref_corners(double u, double v) {
  double x0 = floor(u), y0 = floor(v), fx = u - x0, fy = v - y0;
  corners k = {{(long)x0, (long)x0 + 1, (long)x0, (long)x0 + 1},
               {(long)y0, (long)y0, (long)y0 + 1, (long)y0 + 1},
               {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy}};
  return k;
}

static int inside(const ref *r, long x, long y) {
  return x >= 0 && y >= 0 && x < (long)r->w && y < (long)r->h;
}

/* One image: out = transform(img) with magnitude m. */
static void ref_forward(const ref *r, const double *img, double m,
                        uint32_t seed, double *out) {
  uint32_t hw = r->h * r->w;
  for (uint32_t ch = 0; ch < r->c; ch++)
    for (uint32_t y = 0; y < r->h; y++)
      for (uint32_t x = 0; x < r->w; x++) {
        const double *plane = img + ch * hw;
        double *o = out + ch * hw + y * r->w + x, u, v;
        if (r->kind == CUTOUT) {
          *o = ref_cut(r, m, seed, x, y) ? FILL : plane[y * r->w + x];
          continue;
        }
        ref_map(r, m, seed, x, y, &u, &v);
        corners k = ref_corners(u, v);
        *o = 0;
        for (int i = 0; i < 4; i++)
          *o += k.w[i] * (inside(r, k.x[i], k.y[i])
                              ? plane[k.y[i] * (long)r->w + k.x[i]]
                              : FILL);
      }
}

/* One image: gin += the adjoint of ref_forward applied to gout. */
static void ref_adjoint(const ref *r, const double *gout, double m,
                        uint32_t seed, double *gin) {
  uint32_t hw = r->h * r->w;
  for (uint32_t ch = 0; ch < r->c; ch++)
    for (uint32_t y = 0; y < r->h; y++)
      for (uint32_t x = 0; x < r->w; x++) {
        double g = gout[ch * hw + y * r->w + x], u, v;
        if (r->kind == CUTOUT) {
          if (!ref_cut(r, m, seed, x, y))
            gin[ch * hw + y * r->w + x] += g;
          continue;
        }
        ref_map(r, m, seed, x, y, &u, &v);
        corners k = ref_corners(u, v);
        for (int i = 0; i < 4; i++)
          if (inside(r, k.x[i], k.y[i]))
            gin[ch * hw + k.y[i] * r->w + k.x[i]] += g * k.w[i];
      }
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* <gout, transform(img)> for one image. */
static double ref_loss(const ref *r, const double *img, double m, uint32_t seed,
                       const double *gout) {
  size_t n = (size_t)r->c * r->h * r->w;
  double *out = malloc(n * sizeof *out);
  assert_non_null(out);
  ref_forward(r, img, m, seed, out);
  double s = dot(out, gout, n);
  free(out);
  return s;
}

/* ---- the device ---------------------------------------------------- */

/* A loaded transform and a batch of N random images of one geometry. */
typedef struct fixture {
  const transform *t;
  const dam_augment_desc *desc;
  double params[1]; /* the defaults; every block here is one double */
  ref r;
  size_t numel, per_image;
  float *in, mag[N];
  uint32_t seed[N];
  dam_tensor *tin, *tmag, *tseed;
} fixture;

/* A seed whose random sign is negative or not, from `start` on. */
static uint32_t seed_with_sign(uint32_t start, int negative) {
  while (((dam_draw(start, 0) & 1) != 0) != negative)
    start++;
  return start;
}

static dam_tensor *upload_n(harness *h, const void *bits) {
  float v[N];
  memcpy(v, bits, sizeof v);
  return harness_tensor(h, dam_shape4(N, 1, 1, 1), v);
}

static void fixture_init(harness *h, fixture *f, const transform *t,
                         const uint32_t *g, const float *levels) {
  memset(f, 0, sizeof *f);
  f->t = t;
  f->desc = (const dam_augment_desc *)dam_registry_find(reg, DAM_KIND_AUGMENT,
                                                        t->name, NULL);
  assert_non_null(f->desc);
  assert_true(f->desc->hdr.params_size <= sizeof f->params);
  dam_params_defaults(&f->desc->hdr, f->params);
  if (t->max > 0)
    assert_int_equal(dam_params_set(&f->desc->hdr, f->params,
                                    f->desc->hdr.params[0].name, t->max),
                     0);
  f->r = (ref){t->kind, f->params[0], g[0], g[1], g[2]};
  f->per_image = (size_t)g[0] * g[1] * g[2];
  f->numel = N * f->per_image;
  f->in = harness_random(h, f->numel, 0, 1);
  for (uint32_t i = 0; i < N; i++) {
    f->mag[i] = levels[i];
    f->seed[i] = seed_with_sign(7919u * (i + 1) + 131u * g[1] + g[0], i & 1);
  }
  dam_shape s = dam_shape4(N, g[0], g[1], g[2]);
  f->tin = harness_tensor(h, s, f->in);
  f->tmag = upload_n(h, f->mag);
  f->tseed = upload_n(h, f->seed);
}

static void fixture_free(harness *h, fixture *f) {
  free(f->in);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static dam_tensor *batch_tensor(harness *h, const fixture *f,
                                const float *data) {
  return harness_tensor(h, dam_shape4(N, f->r.c, f->r.h, f->r.w), data);
}

static dam_augment_call make_call(harness *h, const fixture *f, uint32_t first,
                                  uint32_t count) {
  dam_augment_call c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.params = f->desc->hdr.params_size ? f->params : NULL;
  c.ex = h->ex;
  c.first = first;
  c.count = count;
  c.in = f->tin;
  c.magnitude = f->tmag;
  c.seed = f->tseed;
  c.fill = FILL;
  return c;
}

/* Device forward of images first .. first+count-1 into out. */
static void run_forward(harness *h, const fixture *f, dam_tensor *out,
                        uint32_t first, uint32_t count) {
  dam_augment_call c = make_call(h, f, first, count);
  c.out = out;
  assert_int_equal(f->desc->forward(dam_host_api_get(), &c), 0);
}

static void run_backward(harness *h, const fixture *f, dam_tensor *gout,
                         dam_tensor *gin, dam_tensor *gmag, uint32_t first,
                         uint32_t count) {
  dam_augment_call c = make_call(h, f, first, count);
  c.needs_grad = (gin ? 1u : 0u) | (gmag ? 2u : 0u);
  c.grad_out = gout;
  c.grad_in = gin;
  c.grad_magnitude = gmag;
  assert_int_equal(f->desc->backward(dam_host_api_get(), &c), 0);
}

static double *to_double(const float *v, size_t n) {
  double *d = malloc(n * sizeof *d);
  assert_non_null(d);
  for (size_t i = 0; i < n; i++)
    d[i] = v[i];
  return d;
}

/* The reference forward of the whole batch. */
static double *ref_batch(const fixture *f) {
  double *in = to_double(f->in, f->numel);
  double *out = malloc(f->numel * sizeof *out);
  assert_non_null(out);
  for (uint32_t i = 0; i < N; i++)
    ref_forward(&f->r, in + i * f->per_image, f->mag[i], f->seed[i],
                out + i * f->per_image);
  free(in);
  return out;
}

static int uses_magnitude_grad(const transform *t) {
  return t->kind != FLIP_H && t->kind != CUTOUT;
}

/* Largest |a - b| over image i, or -1 when `exact` and they differ. */
static double image_err(const fixture *f, const float *a, const double *b,
                        uint32_t i, int exact) {
  double worst = 0;
  for (size_t k = i * f->per_image; k < (i + 1) * f->per_image; k++) {
    if (exact && a[k] != (float)b[k])
      return -1;
    double d = fabs(a[k] - b[k]);
    worst = d > worst || isnan(d) ? d : worst;
  }
  return worst;
}

/* "name(max) CxHxW": the fixture's case, for failure messages. */
static const char *case_name(const fixture *f) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s(%g) %ux%ux%u", f->t->name, f->r.max, f->r.c,
           f->r.h, f->r.w);
  return buf;
}

/* Fails unless the gradient `an` of image i is within 1e-3 of its central
 * differences fd, relative to max(1, |fd|); returns the larger of worst and
 * that error. */
static double check_fd(const fixture *f, uint32_t i, const char *what,
                       double an, double fd, double worst) {
  double r = fabs(an - fd) / fmax(1.0, fabs(fd));
  if (!(r <= 1e-3))
    fail_msg("%s image %u: %s %g, differences %g", case_name(f), i, what, an,
             fd);
  return r > worst ? r : worst;
}

/* ---- tests ---------------------------------------------------------- */

static void descriptors(void **state) {
  (void)state;
  for (size_t t = 0; t < N_TRANSFORMS; t++) {
    const dam_augment_desc *d = (const dam_augment_desc *)dam_registry_find(
        reg, DAM_KIND_AUGMENT, transforms[t].name, NULL);
    assert_non_null(d);
    assert_int_equal(d->hdr.kind, DAM_KIND_AUGMENT);
    assert_int_equal(d->input_grad, DAM_AUG_GRAD_EXACT);
    assert_int_equal(d->magnitude_grad, uses_magnitude_grad(&transforms[t])
                                            ? DAM_AUG_GRAD_EXACT
                                            : DAM_AUG_GRAD_NONE);
    assert_int_equal(d->identity_at_zero, transforms[t].kind != FLIP_H);
    assert_int_equal(d->hdr.n_params, transforms[t].kind == FLIP_H ? 0 : 1);
  }
  static const struct {
    const char *op, *param;
    double def;
  } defaults[] = {{"rotate", "max_degrees", 30},
                  {"shear_x", "max_shear", 0.3},
                  {"shear_y", "max_shear", 0.3},
                  {"translate_x", "max_fraction", 0.45},
                  {"translate_y", "max_fraction", 0.45},
                  {"cutout", "max_fraction", 0.5}};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
    const dam_desc_header *d =
        dam_registry_find(reg, DAM_KIND_AUGMENT, defaults[i].op, NULL);
    assert_string_equal(d->params[0].name, defaults[i].param);
    assert_int_equal(d->params[0].type, DAM_PARAM_FLOAT);
    assert_true(d->params[0].def == defaults[i].def);
  }
}

static void forward_matches_reference(void **state) {
  harness *h = *state;
  double worst = 0;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t g = 0; g < N_GEOMS; g++) {
      fixture f;
      fixture_init(h, &f, &transforms[t], geoms[g], forward_levels);
      dam_tensor *out = batch_tensor(h, &f, NULL);
      run_forward(h, &f, out, 0, N);
      float *got = harness_read(h, out);
      double *want = ref_batch(&f);
      for (uint32_t i = 0; i < N; i++) {
        double e = image_err(&f, got, want, i, transforms[t].exact);
        if (e < 0 || e > 1e-4)
          fail_msg("%s image %u: error %g", case_name(&f), i, e);
        worst = e > worst ? e : worst;
      }
      if (transforms[t].kind != FLIP_H) /* level 0: the identity */
        assert_memory_equal(got, f.in, f.per_image * sizeof(float));
      /* level 8 changes the image */
      assert_memory_not_equal(got + f.per_image, f.in + f.per_image,
                              f.per_image * sizeof(float));
      free(got);
      free(want);
      fixture_free(h, &f);
    }
  fprintf(stderr, "forward: largest error %.3g\n", worst);
}

static void outside_images_untouched(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t g = 0; g < N_GEOMS; g++) {
      fixture f;
      fixture_init(h, &f, &transforms[t], geoms[g], forward_levels);
      float *sentinel = malloc(f.numel * sizeof *sentinel);
      assert_non_null(sentinel);
      for (size_t k = 0; k < f.numel; k++)
        sentinel[k] = -7.0f;
      float gm0[N] = {-3, -3, -3, -3};
      float *gout = harness_random(h, f.numel, -1, 1);
      dam_tensor *out = batch_tensor(h, &f, sentinel);
      dam_tensor *gin = batch_tensor(h, &f, sentinel);
      dam_tensor *gmag = upload_n(h, gm0);
      run_forward(h, &f, out, 1, 2);
      run_backward(h, &f, batch_tensor(h, &f, gout), gin, gmag, 1, 2);
      float *got = harness_read(h, out), *ggot = harness_read(h, gin);
      float *mgot = harness_read(h, gmag);
      double *want = ref_batch(&f);
      for (uint32_t i = 0; i < N; i++) {
        size_t at = i * f.per_image;
        if (i == 0 || i == 3) {
          assert_memory_equal(got + at, sentinel, f.per_image * sizeof(float));
          assert_memory_equal(ggot + at, sentinel, f.per_image * sizeof(float));
          assert_true(mgot[i] == -3.0f);
        } else {
          double e = image_err(&f, got, want, i, transforms[t].exact);
          assert_true(e >= 0 && e <= 1e-4);
        }
      }
      free(sentinel);
      free(gout);
      free(got);
      free(ggot);
      free(mgot);
      free(want);
      fixture_free(h, &f);
    }
}

/* grad_in against the reference's adjoint (element by element, on top of
 * what grad_in held) and against central differences along a random
 * direction. */
static void backward_input(void **state) {
  harness *h = *state;
  double worst_adj = 0, worst_fd = 0;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t g = 0; g < N_GEOMS; g++) {
      fixture f;
      fixture_init(h, &f, &transforms[t], geoms[g], forward_levels);
      float *gout = harness_random(h, f.numel, -1, 1);
      float *gin0 = harness_random(h, f.numel, -1, 1);
      dam_tensor *gin = batch_tensor(h, &f, gin0);
      run_backward(h, &f, batch_tensor(h, &f, gout), gin, NULL, 0, N);
      float *got = harness_read(h, gin);

      double *dgout = to_double(gout, f.numel);
      double *want = to_double(gin0, f.numel);
      for (uint32_t i = 0; i < N; i++)
        ref_adjoint(&f.r, dgout + i * f.per_image, f.mag[i], f.seed[i],
                    want + i * f.per_image);
      double e = harness_max_rel_err(got, want, f.numel);
      if (transforms[t].exact)
        for (size_t k = 0; k < f.numel; k++)
          if (got[k] != gin0[k] + (float)(want[k] - gin0[k]))
            fail_msg("%s: grad_in[%zu] %.9g, want %.9g", transforms[t].name, k,
                     got[k], want[k]);
      if (!(e <= 1e-4))
        fail_msg("%s: grad_in error %g", case_name(&f), e);
      worst_adj = e > worst_adj ? e : worst_adj;

      /* <grad_in, d> == d/de <gout, f(x + e d)> per image */
      double *x = to_double(f.in, f.numel), *xp = malloc(f.numel * sizeof *xp);
      double *xm = malloc(f.numel * sizeof *xm);
      float *dir = harness_random(h, f.numel, -1, 1);
      assert_non_null(xp);
      assert_non_null(xm);
      const double step = 1e-3;
      for (size_t k = 0; k < f.numel; k++) {
        xp[k] = x[k] + step * dir[k];
        xm[k] = x[k] - step * dir[k];
      }
      for (uint32_t i = 0; i < N; i++) {
        size_t at = i * f.per_image;
        double fd = (ref_loss(&f.r, xp + at, f.mag[i], f.seed[i], dgout + at) -
                     ref_loss(&f.r, xm + at, f.mag[i], f.seed[i], dgout + at)) /
                    (2 * step);
        double an = 0;
        for (size_t k = at; k < at + f.per_image; k++)
          an += ((double)got[k] - gin0[k]) * dir[k];
        worst_fd = check_fd(&f, i, "<grad_in, d>", an, fd, worst_fd);
      }
      free(x);
      free(xp);
      free(xm);
      free(dir);
      free(dgout);
      free(want);
      free(gout);
      free(gin0);
      free(got);
      fixture_free(h, &f);
    }
  fprintf(stderr, "grad_in: adjoint error %.3g, finite differences %.3g\n",
          worst_adj, worst_fd);
}

/* grad_magnitude (on top of what it held) against central differences of
 * the reference per image; nothing added where there is no gradient. */
static void backward_magnitude(void **state) {
  harness *h = *state;
  double worst = 0;
  for (size_t t = 0; t < N_TRANSFORMS; t++)
    for (size_t g = 0; g < N_GEOMS; g++) {
      fixture f;
      fixture_init(h, &f, &transforms[t], geoms[g], smooth_levels);
      float *gout = harness_random(h, f.numel, -1, 1);
      float gm0[N] = {0.5f, -1.0f, 2.0f, 0.25f};
      dam_tensor *gmag = upload_n(h, gm0);
      run_backward(h, &f, batch_tensor(h, &f, gout), NULL, gmag, 0, N);
      float *got = harness_read(h, gmag);
      double *x = to_double(f.in, f.numel), *dgout = to_double(gout, f.numel);
      const double step = 1e-6;
      for (uint32_t i = 0; i < N; i++) {
        size_t at = i * f.per_image;
        if (!uses_magnitude_grad(&transforms[t])) {
          assert_true(got[i] == gm0[i]);
          continue;
        }
        double fd =
            (ref_loss(&f.r, x + at, f.mag[i] + step, f.seed[i], dgout + at) -
             ref_loss(&f.r, x + at, f.mag[i] - step, f.seed[i], dgout + at)) /
            (2 * step);
        worst = check_fd(&f, i, "grad_magnitude", (double)got[i] - gm0[i], fd,
                         worst);
      }
      free(x);
      free(dgout);
      free(gout);
      free(got);
      fixture_free(h, &f);
    }
  fprintf(stderr, "grad_magnitude: relative error %.3g\n", worst);
}

/* Forward and backward twice: the same bits. */
static void deterministic(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < N_TRANSFORMS; t++) {
    fixture f;
    fixture_init(h, &f, &transforms[t], geoms[N_GEOMS - 1], smooth_levels);
    float *gout_v = harness_random(h, f.numel, -1, 1);
    dam_tensor *gout = batch_tensor(h, &f, gout_v);
    float *res[2][3], *zeros = calloc(f.numel, sizeof(float));
    assert_non_null(zeros);
    for (int run = 0; run < 2; run++) {
      dam_tensor *out = batch_tensor(h, &f, NULL);
      dam_tensor *gin = batch_tensor(h, &f, zeros);
      dam_tensor *gmag = upload_n(h, zeros);
      run_forward(h, &f, out, 0, N);
      run_backward(h, &f, gout, gin, gmag, 0, N);
      res[run][0] = harness_read(h, out);
      res[run][1] = harness_read(h, gin);
      res[run][2] = harness_read(h, gmag);
    }
    assert_memory_equal(res[0][0], res[1][0], f.numel * sizeof(float));
    assert_memory_equal(res[0][1], res[1][1], f.numel * sizeof(float));
    assert_memory_equal(res[0][2], res[1][2], N * sizeof(float));
    for (int run = 0; run < 2; run++)
      for (int k = 0; k < 3; k++)
        free(res[run][k]);
    free(zeros);
    free(gout_v);
    fixture_free(h, &f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(descriptors),
      cmocka_unit_test(forward_matches_reference),
      cmocka_unit_test(outside_images_untouched),
      cmocka_unit_test(backward_input),
      cmocka_unit_test(backward_magnitude),
      cmocka_unit_test(deterministic),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
