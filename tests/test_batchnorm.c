/* Batch normalization (training, evaluation, backward) against plain C
 * references in double, whose backward is checked once against central
 * finite differences; with and without affine parameters and running
 * statistics, on odd shapes; the statistics and the backward by both
 * their paths (a subgroup per channel, and many invocations per channel);
 * and the refusal of bad arguments. */
#include "bn_reference.h"
#include "batchnorm.h"
#include "error.h"
#include "kernel_util.h"
#include "kernels.h"
#include "autograd.h"
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Odd planes, and planes of a multiple of 4 floats (read as vec4s). */
static const dims shapes[] = {
    {1, 1, 7, 7},   {7, 3, 9, 9},   {1, 16, 13, 13}, {7, 16, 7, 7},
    {7, 3, 13, 13}, {200, 2, 3, 3}, {300, 3, 1, 1},  {2, 5, 1, 1},
    {7, 3, 6, 4},   {3, 16, 2, 2},  {5, 4, 28, 28},
    /* Flat vec4 spans: planes of 49, 25, 9, 10 floats in tensors of a
     * multiple of 4 floats, C = 1 and channels wrapping inside a span. */
    {1, 64, 7, 7},  {7, 64, 7, 7},  {4, 1, 7, 7},    {2, 2, 7, 7},
    {4, 3, 5, 5},   {7, 4, 5, 5},   {4, 3, 3, 3},    {2, 3, 5, 2},
    {4, 5, 1, 1},   {2, 3, 7, 7},   {1, 3, 5, 5},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)

/* y of the training form, straight from x. */
static void ref_train(const dims *d, const double *x, const double *gamma,
                      const double *beta, double eps, double *y) {
  double mean[MAX_C], var[MAX_C], invstd[MAX_C];
  ref_stats(d, x, mean, var);
  for (uint32_t c = 0; c < d->c; c++)
    invstd[c] = 1 / sqrt(var[c] + eps);
  ref_normalize(d, x, mean, invstd, gamma, beta, y);
}

/* gx += ..., ggamma += sum gy xhat, gbeta += sum gy (NULL: skipped). */
static void ref_backward(const dims *d, const double *x, const double *gy,
                         const double *gamma, const double *mean,
                         const double *invstd, double *gx, double *ggamma,
                         double *gbeta) {
  size_t hw = plane(d), m = d->n * hw;
  for (uint32_t c = 0; c < d->c; c++) {
    double sg = 0, sgx = 0;
    for (uint32_t n = 0; n < d->n; n++)
      for (size_t e = 0; e < hw; e++) {
        size_t i = (n * d->c + c) * hw + e;
        sg += gy[i];
        sgx += gy[i] * (x[i] - mean[c]) * invstd[c];
      }
    if (ggamma)
      ggamma[c] += sgx;
    if (gbeta)
      gbeta[c] += sg;
    double g = gamma ? gamma[c] : 1;
    for (uint32_t n = 0; gx && n < d->n; n++)
      for (size_t e = 0; e < hw; e++) {
        size_t i = (n * d->c + c) * hw + e;
        double xhat = (x[i] - mean[c]) * invstd[c];
        gx[i] += g * invstd[c] * (gy[i] - sg / m - xhat * sgx / m);
      }
  }
}

/* Training forward then backward; variant bit 0: affine, bit 1: running
 * statistics, bit 2: x far from zero (the variance must not cancel). */
static void train_case(harness *h, const dims *d, int variant) {
  bool affine = variant & 1, running = variant & 2;
  const dam_bn_args a = {1e-5f, 0.1f};
  size_t nx = (size_t)d->n * d->c * plane(d), m = d->n * plane(d);
  float offset = variant & 4 ? 300.0f : 0.0f;
  float *x = harness_random(h, nx, offset - 2, offset + 2);
  float *gamma = harness_random(h, d->c, 0.5f, 1.5f);
  float *beta = harness_random(h, d->c, -1, 1);
  float *rm = harness_random(h, d->c, -1, 1);
  float *rv = harness_random(h, d->c, 0.5f, 2);
  float *gy = harness_random(h, nx, -1, 1);
  float *gx0 = harness_random(h, nx, -1, 1);
  float *gg0 = harness_random(h, d->c, -1, 1);
  float *gb0 = harness_random(h, d->c, -1, 1);
  dam_shape cs = dam_shape4(d->c, 0, 0, 0);
  dam_tensor *tx = harness_tensor(h, shape_of(d), x);
  dam_tensor *ty = harness_tensor(h, shape_of(d), NULL);
  dam_tensor *tg = affine ? harness_tensor(h, cs, gamma) : NULL;
  dam_tensor *tb = affine ? harness_tensor(h, cs, beta) : NULL;
  dam_tensor *trm = running ? harness_tensor(h, cs, rm) : NULL;
  dam_tensor *trv = running ? harness_tensor(h, cs, rv) : NULL;
  dam_tensor *tsm = harness_tensor(h, cs, NULL);
  dam_tensor *tsi = harness_tensor(h, cs, NULL);
  assert_int_equal(dam_k_batchnorm_train(h->ex, tx, tg, tb, trm, trv, &a, ty,
                                         tsm, tsi), 0);

  double *dx = widen(x, nx), *dg = widen(gamma, d->c), *db = widen(beta, d->c);
  double mean[MAX_C], var[MAX_C], invstd[MAX_C], want_rm[MAX_C], want_rv[MAX_C];
  double *y = malloc(nx * sizeof *y);
  assert_non_null(y);
  ref_stats(d, dx, mean, var);
  for (uint32_t c = 0; c < d->c; c++) {
    invstd[c] = 1 / sqrt(var[c] + a.eps);
    want_rm[c] = 0.9 * rm[c] + 0.1 * mean[c];
    want_rv[c] = 0.9 * rv[c] + 0.1 * var[c] * m / (m - 1.0);
  }
  ref_normalize(d, dx, mean, invstd, affine ? dg : NULL, affine ? db : NULL,
                y);
  expect_close(h, ty, y, "batchnorm_train y", d, variant);
  expect_close(h, tsm, mean, "save_mean", d, variant);
  float *si = harness_read(h, tsi);
  for (uint32_t c = 0; c < d->c; c++)
    if (fabs(si[c] - invstd[c]) > TOL * invstd[c])
      fail_msg("save_invstd[%u] %g, expected %g (variant %d)", c, si[c],
               invstd[c], variant);
  free(si);
  if (running) {
    expect_close(h, trm, want_rm, "running_mean", d, variant);
    expect_close(h, trv, want_rv, "running_var", d, variant);
  }

  /* The backward from the device's saved statistics, so the reference
   * sees exactly the mean and invstd it is given. */
  float *sm = harness_read(h, tsm);
  si = harness_read(h, tsi);
  double *dsm = widen(sm, d->c), *dsi = widen(si, d->c);
  double *dgy = widen(gy, nx), *dgx = widen(gx0, nx);
  double *dgg = widen(gg0, d->c), *dgb = widen(gb0, d->c);
  dam_tensor *tgy = harness_tensor(h, shape_of(d), gy);
  dam_tensor *tgx = harness_tensor(h, shape_of(d), gx0);
  dam_tensor *tgg = harness_tensor(h, cs, gg0);
  dam_tensor *tgb = harness_tensor(h, cs, gb0);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, tx, tgy, tg, tsm, tsi,
                                            tgx, tgg, tgb), 0);
  ref_backward(d, dx, dgy, affine ? dg : NULL, dsm, dsi, dgx, dgg, dgb);
  expect_close(h, tgx, dgx, "batchnorm_backward gx", d, variant);
  expect_close(h, tgg, dgg, "batchnorm_backward ggamma", d, variant);
  expect_close(h, tgb, dgb, "batchnorm_backward gbeta", d, variant);
  if (!affine) { /* the same gx from y = xhat alone */
    dam_tensor *tgx2 = harness_tensor(h, shape_of(d), gx0);
    assert_int_equal(dam_k_batchnorm_backward_xhat(h->ex, ty, tgy, tsi, tgx2),
                     0);
    expect_close(h, tgx2, dgx, "batchnorm_backward_xhat gx", d, variant);
  }
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x), free(gamma), free(beta), free(rm), free(rv), free(gy), free(gx0);
  free(gg0), free(gb0), free(dx), free(dg), free(db), free(y), free(sm);
  free(si), free(dsm), free(dsi), free(dgy), free(dgx), free(dgg), free(dgb);
}

static void train_plain(void **state) {
  for (size_t s = 0; s < N_SHAPES; s++)
    train_case(*state, &shapes[s], 0);
}

static void train_affine_running(void **state) {
  for (size_t s = 0; s < N_SHAPES; s++)
    train_case(*state, &shapes[s], 3);
}

static void train_far_from_zero(void **state) {
  for (size_t s = 0; s < N_SHAPES; s++)
    train_case(*state, &shapes[s], 4 | (int)(s & 3));
}

/* y = x, also where a vec4 holds two channels' planes. */
static void train_in_place(void **state) {
  harness *h = *state;
  static const dims in_place[] = {{3, 16, 4, 4}, {4, 16, 7, 7}, {7, 3, 5, 5}};
  const dam_bn_args a = {1e-5f, 0.1f};
  for (size_t i = 0; i < sizeof in_place / sizeof *in_place; i++) {
    const dims *d = &in_place[i];
    size_t nx = (size_t)d->n * d->c * plane(d);
    float *x = harness_random(h, nx, 5, 9);
    dam_shape cs = dam_shape4(d->c, 0, 0, 0);
    dam_tensor *tx = harness_tensor(h, shape_of(d), x);
    dam_tensor *tsm = harness_tensor(h, cs, NULL);
    dam_tensor *tsi = harness_tensor(h, cs, NULL);
    assert_int_equal(dam_k_batchnorm_train(h->ex, tx, NULL, NULL, NULL,
                                           NULL, &a, tx, tsm, tsi), 0);
    double *dx = widen(x, nx), *y = malloc(nx * sizeof *y);
    double mean[MAX_C], var[MAX_C], invstd[MAX_C];
    assert_non_null(y);
    ref_stats(d, dx, mean, var);
    for (uint32_t c = 0; c < d->c; c++)
      invstd[c] = 1 / sqrt(var[c] + a.eps);
    ref_normalize(d, dx, mean, invstd, NULL, NULL, y);
    expect_close(h, tx, y, "batchnorm_train in place", d, 0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(x), free(dx), free(y);
  }
}

static void eval_mode(void **state) {
  harness *h = *state;
  for (size_t s = 0; s < N_SHAPES; s++) {
    const dims *d = &shapes[s];
    bool affine = s & 1;
    size_t nx = (size_t)d->n * d->c * plane(d);
    float *x = harness_random(h, nx, -3, 3);
    float *gamma = harness_random(h, d->c, 0.5f, 1.5f);
    float *beta = harness_random(h, d->c, -1, 1);
    float *rm = harness_random(h, d->c, -1, 1);
    float *rv = harness_random(h, d->c, 0.1f, 2);
    dam_shape cs = dam_shape4(d->c, 0, 0, 0);
    dam_tensor *tx = harness_tensor(h, shape_of(d), x);
    dam_tensor *ty = harness_tensor(h, shape_of(d), NULL);
    assert_int_equal(
        dam_k_batchnorm_eval(h->ex, tx, affine ? harness_tensor(h, cs, gamma)
                                               : NULL,
                             affine ? harness_tensor(h, cs, beta) : NULL,
                             harness_tensor(h, cs, rm),
                             harness_tensor(h, cs, rv), 1e-3f, ty),
        0);
    double *dx = widen(x, nx), *dg = widen(gamma, d->c);
    double *db = widen(beta, d->c), *mean = widen(rm, d->c);
    double *invstd = malloc(d->c * sizeof *invstd);
    double *y = malloc(nx * sizeof *y);
    assert_true(invstd && y);
    for (uint32_t c = 0; c < d->c; c++)
      invstd[c] = 1 / sqrt((double)rv[c] + 1e-3f);
    ref_normalize(d, dx, mean, invstd, affine ? dg : NULL,
                  affine ? db : NULL, y);
    expect_close(h, ty, y, "batchnorm_eval", d, affine);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(x), free(gamma), free(beta), free(rm), free(rv), free(dx), free(dg);
    free(db), free(mean), free(invstd), free(y);
  }
}

/* The inference form differentiates to x: gx = gy * gamma / sqrt(var +
 * eps), for L = <y, r>. */
static void eval_mode_gradient(void **state) {
  harness *h = *state;
  const dims d = {3, 4, 5, 3};
  size_t nx = (size_t)d.n * d.c * plane(&d);
  float *x = harness_random(h, nx, -3, 3), *r = harness_random(h, nx, -1, 1);
  float *gamma = harness_random(h, d.c, 0.5f, 1.5f);
  float *rv = harness_random(h, d.c, 0.1f, 2);
  float *rm = harness_random(h, d.c, -1, 1);
  dam_shape cs = dam_shape4(d.c, 0, 0, 0);
  dam_tensor *tx = harness_tensor(h, shape_of(&d), x);
  tx->requires_grad = true;
  dam_bn_args a = {1e-3f, 0.1f};
  dam_tensor *y = dam_batchnorm(h->ex, tx, harness_tensor(h, cs, gamma), NULL,
                                harness_tensor(h, cs, rm),
                                harness_tensor(h, cs, rv), &a, false);
  assert_non_null(y);
  dam_tensor *l = dam_dot(h->ex, y, harness_tensor(h, shape_of(&d), r));
  assert_non_null(l);
  assert_int_equal(dam_backward(h->ex, l), 0);
  float *gx = harness_read(h, tx->grad);
  for (size_t i = 0; i < nx; i++) {
    uint32_t c = (uint32_t)(i / plane(&d) % d.c);
    double want = r[i] * gamma[c] / sqrt((double)rv[c] + 1e-3f);
    assert_true(fabs(gx[i] - want) < TOL);
  }
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x), free(r), free(gamma), free(rv), free(rm), free(gx);
}

/* A backward case over 3 channels with given statistics (the forward's
 * save_mean and save_invstd): random x and gy of d's shape as tensors, and
 * the reference gx, ggamma and gbeta (no gamma) for scale * gy. */
typedef struct stats_case {
  dam_tensor *x, *gy, *mean, *invstd;
  double *want_gx, want_g[3], want_b[3];
} stats_case;

static stats_case stats_case_new(harness *h, const dims *d, double scale) {
  static const float mean[3] = {0.1f, -0.2f, 0.05f};
  static const float invstd[3] = {0.9f, 1.1f, 0.7f};
  size_t nx = d->n * d->c * plane(d);
  float *x = harness_random(h, nx, -2, 2), *gy = harness_random(h, nx, -1, 1);
  double dmean[3], dinv[3], *dx = widen(x, nx), *dgy = widen(gy, nx);
  stats_case c = {.want_gx = calloc(nx, sizeof(double))};
  assert_non_null(c.want_gx);
  for (int k = 0; k < 3; k++)
    dmean[k] = mean[k], dinv[k] = invstd[k];
  for (size_t i = 0; i < nx; i++)
    dgy[i] *= scale;
  ref_backward(d, dx, dgy, NULL, dmean, dinv, c.want_gx, c.want_g, c.want_b);
  dam_shape cs = dam_shape4(3, 0, 0, 0);
  c.x = harness_tensor(h, shape_of(d), x);
  c.gy = harness_tensor(h, shape_of(d), gy);
  c.mean = harness_tensor(h, cs, mean);
  c.invstd = harness_tensor(h, cs, invstd);
  free(x), free(gy), free(dx), free(dgy);
  return c;
}

/* Each of gx, ggamma, gbeta alone; and none, which records nothing; on
 * odd planes and on planes of 4k floats. */
static void backward_partial_outputs(void **state) {
  harness *h = *state;
  static const dims shapes2[] = {{7, 3, 9, 9}, {7, 3, 4, 4}};
  for (size_t k = 0; k < 2; k++) {
    const dims *d = &shapes2[k];
    stats_case c = stats_case_new(h, d, 1.0);
    dam_shape cs = dam_shape4(3, 0, 0, 0), xs = shape_of(d);
    for (int which = 0; which < 3; which++) {
      dam_tensor *tgx = which == 0 ? harness_tensor(h, xs, NULL) : NULL;
      dam_tensor *tgg = which == 1 ? harness_tensor(h, cs, NULL) : NULL;
      dam_tensor *tgb = which == 2 ? harness_tensor(h, cs, NULL) : NULL;
      dam_tensor *out = tgx ? tgx : tgg ? tgg : tgb;
      assert_int_equal(dam_k_fill(h->ex, out, 0.0f), 0);
      assert_int_equal(dam_k_batchnorm_backward(h->ex, c.x, c.gy, NULL,
                                                c.mean, c.invstd, tgx, tgg,
                                                tgb), 0);
      expect_close(h, out,
                   which == 0   ? c.want_gx
                   : which == 1 ? c.want_g
                                : c.want_b,
                   "batchnorm_backward alone", d, which);
    }
    uint64_t dispatches = h->ex->stats.dispatches;
    assert_int_equal(dam_k_batchnorm_backward(h->ex, c.x, c.gy, NULL, c.mean,
                                              c.invstd, NULL, NULL, NULL), 0);
    assert_int_equal(h->ex->stats.dispatches, dispatches);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(c.want_gx);
  }
}

/* gx a step tensor's new gradient, its zeros not yet written
 * (dam_tensor_grad): the backward writes it over (the _set shaders) in
 * each layout (planes of 4k floats, flat vec4 spans, single floats), a
 * second backward adds to it, and a new gradient left alone reads as
 * zeros. */
static void backward_into_new_gradient(void **state) {
  harness *h = *state;
  static const dims layouts[] = {{2, 3, 4, 4}, {4, 3, 7, 7}, {7, 3, 9, 9}};
  float mean[3] = {0.1f, -0.2f, 0.05f}, invstd[3] = {0.9f, 1.1f, 0.7f};
  double dmean[3], dinv[3], want_g[3], want_b[3];
  for (int c = 0; c < 3; c++)
    dmean[c] = mean[c], dinv[c] = invstd[c];
  dam_shape cs = dam_shape4(3, 0, 0, 0);
  for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
    const dims *d = &layouts[k];
    dam_shape xs = shape_of(d);
    size_t nx = dam_shape_numel(&xs);
    float *x = harness_random(h, nx, -2, 2);
    float *gy = harness_random(h, nx, -1, 1);
    double *dx = widen(x, nx), *dgy = widen(gy, nx);
    double *want = calloc(nx, sizeof *want);
    assert_non_null(want);
    ref_backward(d, dx, dgy, NULL, dmean, dinv, want, want_g, want_b);
    dam_tensor *tx = harness_tensor(h, xs, x);
    dam_tensor *tgy = harness_tensor(h, xs, gy);
    dam_tensor *tm = harness_tensor(h, cs, mean);
    dam_tensor *ti = harness_tensor(h, cs, invstd);
    dam_tensor *owner = dam_tensor_new(h->ex, &xs, false);
    dam_tensor *gx = owner ? dam_tensor_grad(h->ex, owner) : NULL;
    assert_true(gx && gx->zeros_pending);
    assert_int_equal(dam_k_batchnorm_backward(h->ex, tx, tgy, NULL, tm, ti,
                                              gx, NULL, NULL), 0);
    assert_false(gx->zeros_pending);
    expect_close(h, gx, want, "backward into a new gradient", d, 0);
    assert_int_equal(dam_k_batchnorm_backward(h->ex, tx, tgy, NULL, tm, ti,
                                              gx, NULL, NULL), 0);
    for (size_t i = 0; i < nx; i++)
      want[i] *= 2;
    expect_close(h, gx, want, "a second backward into it", d, 0);
    dam_tensor *other = dam_tensor_new(h->ex, &xs, false);
    dam_tensor *untouched = other ? dam_tensor_grad(h->ex, other) : NULL;
    assert_non_null(untouched);
    memset(want, 0, nx * sizeof *want);
    expect_close(h, untouched, want, "a new gradient left alone", d, 0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(x), free(gy), free(dx), free(dgy), free(want);
  }
}

/* A channel's sums skip the floats of its neighbours' planes that share
 * its vec4s: an infinity in channel 1 of 7x7 planes leaves channels 0 and
 * 2 finite and right, forward and backward. */
static void neighbours_kept_out(void **state) {
  harness *h = *state;
  const dims d = {4, 3, 7, 7};
  const dam_bn_args a = {1e-5f, 0.1f};
  size_t hw = plane(&d), nx = d.n * d.c * hw;
  float *x = harness_random(h, nx, -2, 2), *gy = harness_random(h, nx, -1, 1);
  for (uint32_t n = 0; n < d.n; n++)
    for (size_t e = 0; e < hw; e++)
      x[(n * d.c + 1) * hw + e] = INFINITY;
  double *dx = widen(x, nx), *dgy = widen(gy, nx);
  double mean[3], var[3], invstd[3], *y = malloc(nx * sizeof *y);
  double *gx = calloc(nx, sizeof *gx);
  assert_true(y && gx);
  ref_stats(&d, dx, mean, var);
  for (int c = 0; c < 3; c++)
    invstd[c] = 1 / sqrt(var[c] + a.eps);
  ref_normalize(&d, dx, mean, invstd, NULL, NULL, y);
  ref_backward(&d, dx, dgy, NULL, mean, invstd, gx, NULL, NULL);
  dam_shape cs = dam_shape4(d.c, 0, 0, 0);
  dam_tensor *tx = harness_tensor(h, shape_of(&d), x);
  dam_tensor *ty = harness_tensor(h, shape_of(&d), NULL);
  dam_tensor *tgy = harness_tensor(h, shape_of(&d), gy);
  dam_tensor *tgx = harness_tensor(h, shape_of(&d), NULL);
  dam_tensor *tsm = harness_tensor(h, cs, NULL);
  dam_tensor *tsi = harness_tensor(h, cs, NULL);
  assert_int_equal(dam_k_batchnorm_train(h->ex, tx, NULL, NULL, NULL, NULL,
                                         &a, ty, tsm, tsi), 0);
  assert_int_equal(dam_k_fill(h->ex, tgx, 0.0f), 0);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, tx, tgy, NULL, tsm, tsi,
                                            tgx, NULL, NULL), 0);
  float *got_y = harness_read(h, ty), *got_gx = harness_read(h, tgx);
  for (uint32_t n = 0; n < d.n; n++)
    for (uint32_t c = 0; c < d.c; c += 2)
      for (size_t e = 0; e < hw; e++) {
        size_t i = (n * d.c + c) * hw + e;
        if (!(fabs(got_y[i] - y[i]) < TOL && fabs(got_gx[i] - gx[i]) < TOL))
          fail_msg("element %zu: y %g gx %g, expected %g %g", i, got_y[i],
                   got_gx[i], y[i], gx[i]);
      }
  free(got_y), free(got_gx);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x), free(gy), free(dx), free(dgy), free(y), free(gx);
}

/* A scale's gradient, one element holding `prior` before the backward
 * adds into it, against prior + want. */
static void expect_gscale(harness *h, dam_tensor *gs, double prior,
                          double want, const char *what) {
  float *got = harness_read(h, gs);
  if (!(fabs(got[0] - (prior + want)) < TOL * (1 + fabs(want))))
    fail_msg("%s: the scale's gradient is %g, expected %g", what, got[0],
             prior + want);
  free(got);
}

/* The sum over channels of a case's ggamma for scale * gy: <gy, xhat>. */
static double dot_xhat(const double *ggamma, double scale) {
  return (ggamma[0] + ggamma[1] + ggamma[2]) / scale;
}

/* The backward of a node sum's term, for scale[0] * gy, against the
 * reference on each layout (4k-float planes, odd planes), with the scale's
 * gradient <gy, xhat> added into a prior value where the device's path
 * takes it (refused where not); refused with a scale of two elements.
 * (Run on both paths: SPLIT below.) */
static void backward_scaled(void **state) {
  harness *h = *state;
  static const dims shapes2[] = {{4, 3, 4, 4}, {4, 3, 5, 5}};
  const float scale = -0.75f, prior = 0.25f;
  for (size_t k = 0; k < 2; k++) {
    const dims *d = &shapes2[k];
    stats_case c = stats_case_new(h, d, scale);
    dam_tensor *ts = harness_tensor(h, dam_shape4(1, 0, 0, 0), &scale);
    dam_tensor *tgs = harness_tensor(h, dam_shape4(1, 0, 0, 0), &prior);
    dam_tensor *tgx = harness_tensor(h, shape_of(d), NULL);
    bool takes = dam_k_batchnorm_backward_takes_gscale(h->ex, c.x);
    assert_int_equal(dam_k_fill(h->ex, tgx, 0.0f), 0);
    assert_int_equal(dam_k_batchnorm_backward_scaled(h->ex, c.x, c.gy, ts,
                                                     c.mean, c.invstd, tgx,
                                                     takes ? tgs : NULL),
                     0);
    expect_close(h, tgx, c.want_gx, "batchnorm_backward_scaled", d, 0);
    if (takes)
      expect_gscale(h, tgs, prior, dot_xhat(c.want_g, scale),
                    "batchnorm_backward_scaled");
    else
      assert_int_equal(dam_k_batchnorm_backward_scaled(
                           h->ex, c.x, c.gy, ts, c.mean, c.invstd, tgx, tgs),
                       DAM_EINVAL);
    assert_int_equal(dam_k_batchnorm_backward_scaled(h->ex, c.x, c.gy, c.mean,
                                                     c.mean, c.invstd, tgx,
                                                     NULL),
                     DAM_EINVAL);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(c.want_gx);
  }
}

/* Two norms' backwards for scaled gys in one call (a node sum's pair:
 * one dispatch on CPU devices), each against the reference, on each
 * layout: into new gradients (their zeros pending: the _set variant),
 * into gradients holding prior values, and with both gradients the same
 * tensor (then one norm after the other).  The first and the last also
 * add both scales' gradients into new ones where the device's path takes
 * them.  (Run on both paths: SPLIT.) */
static void backward_scaled_pair(void **state) {
  harness *h = *state;
  static const dims shapes2[] = {{4, 3, 4, 4}, {4, 3, 5, 5}};
  const float scale[2] = {-0.75f, 1.5f};
  for (size_t k = 0; k < 2; k++) {
    const dims *d = &shapes2[k];
    size_t nx = (size_t)d->n * d->c * plane(d);
    stats_case c[2] = {stats_case_new(h, d, scale[0]),
                       stats_case_new(h, d, scale[1])};
    /* both on the first case's gy, as a node sum's terms are */
    double *want[2] = {calloc(nx, sizeof(double)),
                       calloc(nx, sizeof(double))};
    float *gy = harness_read(h, c[0].gy), *prior = harness_random(h, nx, -1, 1);
    double want_gs[2];
    assert_true(want[0] && want[1]);
    for (int i = 0; i < 2; i++) {
      double mean[3], inv[3], g[3] = {0}, b[3] = {0};
      float *x = harness_read(h, c[i].x), *m = harness_read(h, c[i].mean);
      float *v = harness_read(h, c[i].invstd);
      double *dx = widen(x, nx), *dgy = widen(gy, nx);
      for (int ch = 0; ch < 3; ch++)
        mean[ch] = m[ch], inv[ch] = v[ch];
      for (size_t e = 0; e < nx; e++)
        dgy[e] *= scale[i];
      ref_backward(d, dx, dgy, NULL, mean, inv, want[i], g, b);
      want_gs[i] = dot_xhat(g, scale[i]);
      free(x), free(m), free(v), free(dx), free(dgy);
    }
    const dam_tensor *xs[2] = {c[0].x, c[1].x};
    const dam_tensor *means[2] = {c[0].mean, c[1].mean};
    const dam_tensor *invs[2] = {c[0].invstd, c[1].invstd};
    const dam_tensor *ss[2] = {
        harness_tensor(h, dam_shape4(1, 0, 0, 0), &scale[0]),
        harness_tensor(h, dam_shape4(1, 0, 0, 0), &scale[1])};
    for (int into = 0; into < 3; into++) { /* new, prior values, shared */
      dam_tensor *gx[2];
      for (int i = 0; i < 2; i++) {
        dam_tensor *t = harness_tensor(h, shape_of(d), into ? prior : NULL);
        gx[i] = into == 0 ? dam_tensor_grad(h->ex, t) : t;
        assert_non_null(gx[i]);
      }
      if (into == 2)
        gx[1] = gx[0];
      bool with_gs = into != 1 &&
                     dam_k_batchnorm_backward_takes_gscale(h->ex, xs[0]);
      dam_tensor *gs[2] = {
          dam_tensor_grad(h->ex, harness_tensor(h, dam_shape4(1, 0, 0, 0),
                                                NULL)),
          dam_tensor_grad(h->ex, harness_tensor(h, dam_shape4(1, 0, 0, 0),
                                                NULL))};
      assert_int_equal(dam_k_batchnorm_backward_scaled_pair(
                           h->ex, xs, c[0].gy, ss, means, invs, gx,
                           with_gs ? gs : NULL),
                       0);
      double *w = malloc(nx * sizeof *w);
      assert_non_null(w);
      for (int i = 0; i < (into == 2 ? 1 : 2); i++) {
        for (size_t e = 0; e < nx; e++)
          w[e] = (into == 0 ? 0 : prior[e]) +
                 (into == 2 ? want[0][e] + want[1][e] : want[i][e]);
        expect_close(h, gx[i], w, "batchnorm_backward_scaled_pair", d, into);
      }
      for (int i = 0; i < 2 && with_gs; i++)
        expect_gscale(h, gs[i], 0, want_gs[i],
                      "batchnorm_backward_scaled_pair");
      free(w);
    }
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(c[0].want_gx), free(c[1].want_gx), free(want[0]), free(want[1]);
    free(gy), free(prior);
  }
}

/* The reference backward against central differences of the reference
 * training forward, for L = sum(w * y), w random. */
static void reference_backward_matches_finite_differences(void **state) {
  harness *h = *state;
  const dims d = {3, 2, 3, 4};
  const size_t nx = 3 * 2 * 12;
  const double eps = 1e-5, step = 1e-6;
  double x[72], w[72], y[72], gamma[2] = {0.7, 1.3}, beta[2] = {0.2, -0.4};
  double mean[2], var[2], invstd[2], gx[72] = {0}, gg[2] = {0}, gb[2] = {0};
  for (size_t i = 0; i < nx; i++) {
    x[i] = harness_uniform(h, -2, 2);
    w[i] = harness_uniform(h, -1, 1);
  }
  ref_stats(&d, x, mean, var);
  for (int c = 0; c < 2; c++)
    invstd[c] = 1 / sqrt(var[c] + eps);
  ref_backward(&d, x, w, gamma, mean, invstd, gx, gg, gb);
  double *params[] = {x, gamma, beta}, *grads[] = {gx, gg, gb};
  size_t counts[] = {nx, 2, 2};
  for (int p = 0; p < 3; p++)
    for (size_t i = 0; i < counts[p]; i++) {
      double loss[2], keep = params[p][i];
      for (int side = 0; side < 2; side++) {
        params[p][i] = keep + (side ? step : -step);
        ref_train(&d, x, gamma, beta, eps, y);
        loss[side] = 0;
        for (size_t j = 0; j < nx; j++)
          loss[side] += w[j] * y[j];
      }
      params[p][i] = keep;
      double fd = (loss[1] - loss[0]) / (2 * step);
      if (fabs(fd - grads[p][i]) > 1e-6 * (1 + fabs(fd)))
        fail_msg("parameter %d element %zu: finite difference %g, "
                 "reference %g", p, i, fd, grads[p][i]);
    }
}

static void bad_arguments_refused(void **state) {
  harness *h = *state;
  const dam_bn_args a = {1e-5f, 0.1f};
  dam_tensor *x = harness_tensor(h, dam_shape4(2, 3, 5, 5), NULL);
  dam_tensor *y = harness_tensor(h, dam_shape4(2, 3, 5, 5), NULL);
  dam_tensor *other = harness_tensor(h, dam_shape4(2, 3, 5, 4), NULL);
  dam_tensor *three = harness_tensor(h, dam_shape4(2, 3, 5, 0), NULL);
  dam_tensor *single = harness_tensor(h, dam_shape4(1, 3, 1, 1), NULL);
  dam_tensor *c3 = harness_tensor(h, dam_shape4(3, 0, 0, 0), NULL);
  dam_tensor *c3b = harness_tensor(h, dam_shape4(3, 0, 0, 0), NULL);
  dam_tensor *c4 = harness_tensor(h, dam_shape4(4, 0, 0, 0), NULL);
  uint64_t dispatches = h->ex->stats.dispatches;
  assert_int_equal(dam_k_batchnorm_train(h->ex, x, c4, NULL, NULL, NULL, &a,
                                         y, c3, c3b), DAM_ESHAPE);
  assert_non_null(strstr(dam_last_error(), "gamma"));
  assert_int_equal(dam_k_batchnorm_train(h->ex, x, NULL, NULL, NULL, c4, &a,
                                         y, c3, c3b), DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_train(h->ex, x, NULL, NULL, NULL, NULL,
                                         &a, other, c3, c3b), DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_train(h->ex, three, NULL, NULL, NULL,
                                         NULL, &a, three, c3, c3b),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_train(h->ex, x, NULL, NULL, NULL, NULL,
                                         &a, y, NULL, c3b), DAM_EINVAL);
  assert_int_equal(dam_k_batchnorm_train(h->ex, single, NULL, NULL, NULL,
                                         NULL, &a, single, c3, c3b),
                   DAM_EINVAL);
  assert_non_null(strstr(dam_last_error(), "variance"));
  const dam_bn_args bad = {-1.0f, 0.1f};
  assert_int_equal(dam_k_batchnorm_train(h->ex, x, NULL, NULL, NULL, NULL,
                                         &bad, y, c3, c3b), DAM_EINVAL);
  assert_int_equal(dam_k_batchnorm_train(h->ex, x, NULL, NULL, NULL, NULL,
                                         NULL, y, c3, c3b), DAM_EINVAL);
  assert_int_equal(dam_k_batchnorm_eval(h->ex, x, NULL, NULL, NULL, c3,
                                        1e-5f, y), DAM_EINVAL);
  assert_int_equal(dam_k_batchnorm_eval(h->ex, x, NULL, c4, c3, c3b, 1e-5f,
                                        y), DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_eval(h->ex, x, NULL, NULL, c3, c3b,
                                        1e-5f, NULL), DAM_EINVAL);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, x, other, NULL, c3, c3b,
                                            y, NULL, NULL), DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, x, y, NULL, c3, c3b,
                                            other, NULL, NULL), DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, x, y, NULL, c3, c3b,
                                            NULL, c4, NULL), DAM_ESHAPE);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, x, y, NULL, NULL, c3b,
                                            y, NULL, NULL), DAM_EINVAL);
  assert_int_equal(dam_k_batchnorm_backward(h->ex, x, NULL, NULL, c3, c3b,
                                            y, NULL, NULL), DAM_EINVAL);
  assert_int_equal(h->ex->stats.dispatches, dispatches);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* The statistics and backward of GPUs, on every device. */
static int split_on(void **state) {
  (void)state;
  dam__batchnorm_force_split(true);
  return 0;
}

static int split_off(void **state) {
  (void)state;
  dam__batchnorm_force_split(false);
  return 0;
}

/* A test again on the path of GPUs (the device's own choice runs as the
 * test itself: a subgroup per channel on CPU devices). */
#define SPLIT(f) {#f "_split", f, split_on, split_off, NULL}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reference_backward_matches_finite_differences),
      cmocka_unit_test(train_plain),
      cmocka_unit_test(train_affine_running),
      cmocka_unit_test(train_far_from_zero),
      cmocka_unit_test(train_in_place),
      cmocka_unit_test(eval_mode),
      cmocka_unit_test(eval_mode_gradient),
      cmocka_unit_test(backward_partial_outputs),
      cmocka_unit_test(backward_into_new_gradient),
      cmocka_unit_test(neighbours_kept_out),
      cmocka_unit_test(bad_arguments_refused),
      cmocka_unit_test(backward_scaled),
      cmocka_unit_test(backward_scaled_pair),
      SPLIT(train_plain),
      SPLIT(train_affine_running),
      SPLIT(train_far_from_zero),
      SPLIT(train_in_place),
      SPLIT(eval_mode_gradient),
      SPLIT(backward_partial_outputs),
      SPLIT(backward_into_new_gradient),
      SPLIT(neighbours_kept_out),
      SPLIT(backward_scaled),
      SPLIT(backward_scaled_pair),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
