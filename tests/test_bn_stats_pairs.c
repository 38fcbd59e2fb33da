/* Batch norms' statistics passes held back and recorded two per dispatch
 * (core/batchnorm.c, dam_exec_hold): each norm's results against the
 * reference in double, one dispatch for a pair on CPU devices, and the
 * held pass recorded wherever something touches it. */
#include "batchnorm.h"
#include "bn_reference.h"
#include "kernel_util.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>

/* A norm without gamma and beta for the held statistics passes: x and
 * the running statistics as uploaded (host copies kept), the outputs. */
typedef struct held_norm {
  const dims *d;
  float *x, *rm, *rv;
  dam_tensor *tx, *trm, *trv, *tsm, *tsi, *coef;
} held_norm;

static const dam_bn_args held_args = {1e-5f, 0.1f};

static held_norm held_norm_new(harness *h, const dims *d) {
  size_t nx = (size_t)d->n * d->c * plane(d);
  dam_shape cs = dam_shape4(d->c, 0, 0, 0);
  held_norm n = {d, harness_random(h, nx, -2, 3),
                 harness_random(h, d->c, -1, 1),
                 harness_random(h, d->c, 0.5f, 2)};
  n.tx = harness_tensor(h, shape_of(d), n.x);
  n.trm = harness_tensor(h, cs, n.rm);
  n.trv = harness_tensor(h, cs, n.rv);
  n.tsm = harness_tensor(h, cs, NULL);
  n.tsi = harness_tensor(h, cs, NULL);
  n.coef = harness_tensor(h, dam_shape4(4 * d->c, 0, 0, 0), NULL);
  return n;
}

static int held_norm_stats(harness *h, const held_norm *n) {
  return dam_k_batchnorm_stats(h->ex, n->tx, NULL, NULL, n->trm, n->trv,
                               &held_args, n->tsm, n->tsi, n->coef);
}

/* n's statistics of its uploaded x against the reference, the running
 * statistics updated `updates` times by them from the uploaded ones, and
 * the normalization made from its coefficients. */
static void expect_held_norm(harness *h, const held_norm *n, int updates,
                             const char *what) {
  const dims *d = n->d;
  size_t nx = (size_t)d->n * d->c * plane(d), m = d->n * plane(d);
  double *dx = widen(n->x, nx), *y = malloc(nx * sizeof *y);
  double mean[MAX_C], var[MAX_C], invstd[MAX_C], rm[MAX_C], rv[MAX_C];
  assert_non_null(y);
  ref_stats(d, dx, mean, var);
  for (uint32_t c = 0; c < d->c; c++) {
    invstd[c] = 1 / sqrt(var[c] + held_args.eps);
    rm[c] = n->rm[c], rv[c] = n->rv[c];
    for (int u = 0; u < updates; u++) {
      rm[c] = 0.9 * rm[c] + 0.1 * mean[c];
      rv[c] = 0.9 * rv[c] + 0.1 * var[c] * m / (m - 1.0);
    }
  }
  ref_normalize(d, dx, mean, invstd, NULL, NULL, y);
  expect_close(h, n->trm, rm, what, d, 2);
  expect_close(h, n->trv, rv, what, d, 3);
  if (!n->tsm) { /* released with its step: the running statistics alone */
    free(dx), free(y);
    return;
  }
  expect_close(h, n->tsm, mean, what, d, 0);
  expect_close(h, n->tsi, invstd, what, d, 1);
  dam_tensor *ty = harness_tensor(h, shape_of(d), NULL);
  dam_tensor *tx = harness_tensor(h, shape_of(d), n->x);
  assert_int_equal(dam_k_batchnorm_apply(h->ex, tx, n->coef, ty), 0);
  expect_close(h, ty, y, what, d, 4);
  free(dx), free(y);
}

static void held_norm_free(held_norm *n) {
  free(n->x), free(n->rm), free(n->rv);
}

/* Two norms' statistics passes without gamma and beta, back to back (a
 * node sum's terms): on CPU devices the first is held back and the second
 * records both in one dispatch, each norm with its own results, on planes
 * of 4k floats and of others, also after a pass of another shape.  A held
 * pass is recorded before a dispatch that writes its input, before a pass
 * on the same running statistics (the two then update them in turn), and
 * at the end of the step. */
static void stats_in_pairs(void **state) {
  harness *h = *state;
  static const dims pair_shapes[] = {
      {7, 3, 4, 4}, {4, 3, 7, 7}, {2, 16, 7, 7}};
  for (size_t k = 0; k < 3; k++) {
    const dims *d = &pair_shapes[k];
    held_norm a = held_norm_new(h, d), b = held_norm_new(h, d);
    uint64_t before = h->ex->stats.dispatches;
    assert_int_equal(held_norm_stats(h, &a), 0);
    bool held = h->ex->stats.dispatches == before;
    if (dam__k_cpu_device(h->ex))
      assert_true(held);
    assert_int_equal(held_norm_stats(h, &b), 0);
    if (held)
      assert_int_equal(h->ex->stats.dispatches, before + 1);
    expect_held_norm(h, &a, 1, "paired statistics, first");
    expect_held_norm(h, &b, 1, "paired statistics, second");

    held_norm shared = held_norm_new(h, d);
    shared.trm = a.trm, shared.trv = a.trv;
    before = h->ex->stats.dispatches;
    assert_int_equal(held_norm_stats(h, &a), 0);
    assert_int_equal(held_norm_stats(h, &shared), 0);
    float *rm = harness_read(h, a.trm), *rv = harness_read(h, a.trv);
    if (held) /* not one dispatch: it would update them at once */
      assert_int_equal(h->ex->stats.dispatches, before + 2);
    double m = d->n * plane(d);
    double *dx[2] = {widen(a.x, d->n * d->c * plane(d)),
                     widen(shared.x, d->n * d->c * plane(d))};
    double mean[2][MAX_C], var[2][MAX_C];
    for (int i = 0; i < 2; i++)
      ref_stats(d, dx[i], mean[i], var[i]);
    /* a's second update, then shared's, after the first pair's */
    for (uint32_t c = 0; c < d->c; c++) {
      double rm_want = 0.9 * (0.9 * (0.9 * a.rm[c] + 0.1 * mean[0][c]) +
                              0.1 * mean[0][c]) + 0.1 * mean[1][c];
      double rv_want = 0.9 * (0.9 * (0.9 * a.rv[c] +
                                     0.1 * var[0][c] * m / (m - 1)) +
                              0.1 * var[0][c] * m / (m - 1)) +
                       0.1 * var[1][c] * m / (m - 1);
      if (fabs(rm[c] - rm_want) > TOL * (1 + fabs(rm_want)) ||
          fabs(rv[c] - rv_want) > TOL * (1 + fabs(rv_want)))
        fail_msg("shared running statistics, channel %u: %g %g, expected "
                 "%g %g", c, rm[c], rv[c], rm_want, rv_want);
    }
    free(rm), free(rv), free(dx[0]), free(dx[1]);

    held_norm filled = held_norm_new(h, d);
    assert_int_equal(held_norm_stats(h, &filled), 0);
    assert_int_equal(dam_k_fill(h->ex, filled.tx, 0.5f), 0);
    expect_held_norm(h, &filled, 1, "statistics held before a fill");

    held_norm last = held_norm_new(h, d);
    dam_shape cs = dam_shape4(d->c, 0, 0, 0);
    last.trm = dam_tensor_new(h->ex, &cs, true);
    last.trv = dam_tensor_new(h->ex, &cs, true);
    assert_true(last.trm && last.trv);
    assert_int_equal(dam_tensor_upload(h->ex, last.trm, last.rm), 0);
    assert_int_equal(dam_tensor_upload(h->ex, last.trv, last.rv), 0);
    assert_int_equal(held_norm_stats(h, &last), 0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    last.tsm = NULL;
    expect_held_norm(h, &last, 1, "statistics held at the end of a step");
    dam_tensor_free(h->ex, last.trm);
    dam_tensor_free(h->ex, last.trv);
    held_norm_free(&a), held_norm_free(&b), held_norm_free(&shared);
    held_norm_free(&filled), held_norm_free(&last);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stats_in_pairs),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
