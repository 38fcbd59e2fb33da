/* Softmax cross-entropy (loss, probabilities, gradient) and the count of
 * correct predictions against a double-precision C reference, with large
 * logits, invalid labels and ties; the reference gradient against central
 * finite differences; refused shapes. */
#include "harness.h"
#include "error.h"
#include "kernels.h"
#include "loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const uint32_t shapes[][2] = {
    {1, 10}, {7, 10}, {64, 10}, {7, 129}, {200, 7}, {3, 1},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)

/* loss[n] and probs[n,:] of one sample in double. */
static double ref_xent(const float *z, uint32_t k, uint32_t label,
                       double *probs) {
  double m = z[0], s = 0;
  for (uint32_t j = 1; j < k; j++)
    m = z[j] > m ? z[j] : m;
  for (uint32_t j = 0; j < k; j++)
    s += exp((double)z[j] - m);
  for (uint32_t j = 0; j < k && probs; j++)
    probs[j] = exp((double)z[j] - m) / s;
  return m + log(s) - z[label];
}

/* Logits in [-5, 5] around a per-row offset of up to +-100, so a softmax
 * without the max shift would overflow. */
static float *draw_logits(harness *h, uint32_t n, uint32_t k) {
  float *z = harness_random(h, (size_t)n * k, -5, 5);
  for (uint32_t r = 0; r < n; r++) {
    float off = harness_uniform(h, -100, 100);
    for (uint32_t j = 0; j < k; j++)
      z[r * k + j] += off;
  }
  return z;
}

static float *draw_labels(harness *h, uint32_t n, uint32_t k) {
  float *l = malloc(n * sizeof *l);
  assert_non_null(l);
  for (uint32_t r = 0; r < n; r++) {
    l[r] = floorf(harness_uniform(h, 0, (float)k));
    if (l[r] >= (float)k)
      l[r] = (float)(k - 1);
  }
  return l;
}

static void xent_against_reference(void **state) {
  harness *h = *state;
  for (size_t s = 0; s < N_SHAPES; s++) {
    uint32_t n = shapes[s][0], k = shapes[s][1];
    size_t nk = (size_t)n * k;
    float *z = draw_logits(h, n, k), *l = draw_labels(h, n, k);
    float *gloss = harness_random(h, n, -1, 1);
    float *g0 = harness_random(h, nk, -1, 1);
    dam_tensor *tz = harness_tensor(h, dam_shape4(n, k, 0, 0), z);
    dam_tensor *tl = harness_tensor(h, dam_shape4(n, 0, 0, 0), l);
    dam_tensor *tloss = harness_tensor(h, dam_shape4(n, 0, 0, 0), NULL);
    dam_tensor *tp = harness_tensor(h, dam_shape4(n, k, 0, 0), NULL);
    dam_tensor *tgl = harness_tensor(h, dam_shape4(n, 0, 0, 0), gloss);
    dam_tensor *tg = harness_tensor(h, dam_shape4(n, k, 0, 0), g0);
    assert_int_equal(dam_k_softmax_xent(h->ex, tz, tl, tloss, tp), 0);
    assert_int_equal(dam_k_softmax_xent_backward(h->ex, tp, tl, tgl, tg), 0);
    double *loss = malloc(n * sizeof *loss);
    double *p = malloc(nk * sizeof *p), *g = malloc(nk * sizeof *g);
    for (uint32_t r = 0; r < n; r++) {
      loss[r] = ref_xent(z + r * k, k, (uint32_t)l[r], p + r * k);
      for (uint32_t j = 0; j < k; j++)
        g[r * k + j] =
            g0[r * k + j] + gloss[r] * (p[r * k + j] - (j == (uint32_t)l[r]));
    }
    float *got_loss = harness_read(h, tloss), *got_p = harness_read(h, tp);
    float *got_g = harness_read(h, tg);
    double e1 = harness_max_rel_err(got_loss, loss, n);
    double e2 = harness_max_rel_err(got_p, p, nk);
    double e3 = harness_max_rel_err(got_g, g, nk);
    if (e1 > TOL || e2 > TOL || e3 > TOL)
      fail_msg("[%u,%u]: relative error loss %g, probs %g, gradient %g", n, k,
               e1, e2, e3);
    free(got_loss), free(got_p), free(got_g);
    free(loss), free(p), free(g), free(z), free(l), free(gloss), free(g0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

/* d/dz of L = sum_n gloss[n] loss[n] from the reference forward, against
 * the closed form gloss[n] (p - onehot) that the device backward uses. */
static void reference_gradient_matches_finite_differences(void **state) {
  harness *h = *state;
  enum { N = 3, K = 5 };
  float *z = draw_logits(h, N, K), *l = draw_labels(h, N, K);
  float *gloss = harness_random(h, N, -1, 1);
  double p[K];
  for (uint32_t r = 0; r < N; r++) {
    ref_xent(z + r * K, K, (uint32_t)l[r], p);
    for (uint32_t j = 0; j < K; j++) {
      float *v = &z[r * K + j], keep = *v, hi = keep + 1e-3f, lo = keep - 1e-3f;
      *v = hi;
      double up = gloss[r] * ref_xent(z + r * K, K, (uint32_t)l[r], NULL);
      *v = lo;
      double down = gloss[r] * ref_xent(z + r * K, K, (uint32_t)l[r], NULL);
      *v = keep;
      double fd = (up - down) / ((double)hi - (double)lo);
      double want = gloss[r] * (p[j] - (j == (uint32_t)l[r]));
      if (fabs(fd - want) > 1e-6)
        fail_msg("sample %u class %u: finite difference %g, closed form %g", r,
                 j, fd, want);
    }
  }
  free(z), free(l), free(gloss);
}

/* Labels -1, K and 2.5 poison their own sample only. */
static void invalid_labels_give_nan(void **state) {
  harness *h = *state;
  enum { N = 5, K = 4 };
  float z[N * K], l[N] = {1, -1, 4, 2.5f, 3}, gloss[N] = {1, 1, 1, 1, 1};
  for (int i = 0; i < N * K; i++)
    z[i] = harness_uniform(h, -2, 2);
  dam_tensor *tz = harness_tensor(h, dam_shape4(N, K, 0, 0), z);
  dam_tensor *tl = harness_tensor(h, dam_shape4(N, 0, 0, 0), l);
  dam_tensor *tloss = harness_tensor(h, dam_shape4(N, 0, 0, 0), NULL);
  dam_tensor *tp = harness_tensor(h, dam_shape4(N, K, 0, 0), NULL);
  dam_tensor *tgl = harness_tensor(h, dam_shape4(N, 0, 0, 0), gloss);
  dam_tensor *tg = harness_tensor(h, dam_shape4(N, K, 0, 0), NULL);
  dam_tensor *tc = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
  assert_int_equal(dam_k_fill(h->ex, tg, 0.0f), 0);
  assert_int_equal(dam_k_softmax_xent(h->ex, tz, tl, tloss, tp), 0);
  assert_int_equal(dam_k_softmax_xent_backward(h->ex, tp, tl, tgl, tg), 0);
  assert_int_equal(dam_k_count_correct(h->ex, tz, tl, tc), 0);
  float *loss = harness_read(h, tloss), *g = harness_read(h, tg), c;
  assert_int_equal(dam_tensor_download(h->ex, tc, &c), 0);
  for (int r = 0; r < N; r++) {
    bool bad = r >= 1 && r <= 3;
    assert_true(isnan(loss[r]) == bad);
    for (int j = 0; j < K; j++)
      assert_true(isnan(g[r * K + j]) == bad);
  }
  assert_true(c <= 2.0f);
  free(loss), free(g);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static uint32_t argmax(const float *z, uint32_t k) {
  uint32_t best = 0;
  for (uint32_t j = 1; j < k; j++)
    if (z[j] > z[best])
      best = j;
  return best;
}

static void count_correct(void **state) {
  harness *h = *state;
  static const uint32_t more[][2] = {
      {1, 10}, {64, 10}, {65, 3}, {1000, 10}, {300001, 2}};
  for (size_t s = 0; s < sizeof more / sizeof *more; s++) {
    uint32_t n = more[s][0], k = more[s][1], want = 0;
    float *z = harness_random(h, (size_t)n * k, -1, 1);
    float *l = draw_labels(h, n, k);
    for (uint32_t r = 0; r < n; r++) {
      float *row = z + (size_t)r * k;
      if (r % 3 == 0 && k > 2) { /* a tie: the first maximum counts */
        row[k - 1] = row[1] = 2.0f;
        l[r] = (float)(r % 2 ? 1 : k - 1);
      } else if (r % 2 == 0) {
        l[r] = (float)argmax(row, k);
      }
      want += argmax(row, k) == (uint32_t)l[r];
    }
    dam_tensor *tz = harness_tensor(h, dam_shape4(n, k, 0, 0), z);
    dam_tensor *tl = harness_tensor(h, dam_shape4(n, 0, 0, 0), l);
    dam_tensor *tc = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
    assert_int_equal(dam_k_count_correct(h->ex, tz, tl, tc), 0);
    float c;
    assert_int_equal(dam_tensor_download(h->ex, tc, &c), 0);
    if (c != (float)want)
      fail_msg("[%u,%u]: %g correct, expected %u", n, k, c, want);
    free(z), free(l);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

static void bad_shapes_refused(void **state) {
  harness *h = *state;
  dam_exec *ex = h->ex;
  dam_tensor *z = harness_tensor(h, dam_shape4(7, 10, 0, 0), NULL);
  dam_tensor *z1 = harness_tensor(h, dam_shape4(70, 0, 0, 0), NULL);
  dam_tensor *z4 = harness_tensor(h, dam_shape4(7, 10, 1, 1), NULL);
  dam_tensor *l = harness_tensor(h, dam_shape4(7, 0, 0, 0), NULL);
  dam_tensor *l6 = harness_tensor(h, dam_shape4(6, 0, 0, 0), NULL);
  dam_tensor *p9 = harness_tensor(h, dam_shape4(7, 9, 0, 0), NULL);
  dam_tensor *one = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
  dam_tensor *two = harness_tensor(h, dam_shape4(2, 0, 0, 0), NULL);
  uint64_t dispatches = ex->stats.dispatches;
  const char *fwd = "softmax_xent", *bwd = "softmax_xent_backward";
  harness_expect_refused(dam_k_softmax_xent(ex, z1, l, l, z), DAM_ESHAPE, fwd);
  harness_expect_refused(dam_k_softmax_xent(ex, z4, l, l, z), DAM_ESHAPE, fwd);
  harness_expect_refused(dam_k_softmax_xent(ex, z, l6, l, z), DAM_ESHAPE, fwd);
  harness_expect_refused(dam_k_softmax_xent(ex, z, l, l6, z), DAM_ESHAPE, fwd);
  harness_expect_refused(dam_k_softmax_xent(ex, z, l, l, p9), DAM_ESHAPE, fwd);
  harness_expect_refused(dam_k_softmax_xent(ex, z, l, l, z1), DAM_ESHAPE, fwd);
  harness_expect_refused(dam_k_softmax_xent(ex, z, NULL, l, z), DAM_EINVAL,
                         fwd);
  harness_expect_refused(dam_k_softmax_xent_backward(ex, z, l6, l, z),
                         DAM_ESHAPE, bwd);
  harness_expect_refused(dam_k_softmax_xent_backward(ex, z, l, l6, z),
                         DAM_ESHAPE, bwd);
  harness_expect_refused(dam_k_softmax_xent_backward(ex, z, l, l, p9),
                         DAM_ESHAPE, bwd);
  harness_expect_refused(dam_k_softmax_xent_backward(ex, z1, l, l, z),
                         DAM_ESHAPE, bwd);
  harness_expect_refused(dam_k_softmax_xent_backward(ex, z, l, l, NULL),
                         DAM_EINVAL, bwd);
  harness_expect_refused(dam_k_count_correct(ex, z, l, two), DAM_ESHAPE,
                         "count_correct");
  harness_expect_refused(dam_k_count_correct(ex, z, l6, one), DAM_ESHAPE,
                         "count_correct");
  harness_expect_refused(dam_k_count_correct(ex, z1, l, one), DAM_ESHAPE,
                         "count_correct");
  harness_expect_refused(dam_k_count_correct(ex, NULL, l, one), DAM_EINVAL,
                         "count_correct");
  assert_int_equal(ex->stats.dispatches, dispatches);
  assert_int_equal(dam_exec_end_step(ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(xent_against_reference),
      cmocka_unit_test(reference_gradient_matches_finite_differences),
      cmocka_unit_test(invalid_labels_give_nan),
      cmocka_unit_test(count_correct),
      cmocka_unit_test(bad_shapes_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
