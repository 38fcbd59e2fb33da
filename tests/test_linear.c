/* Linear layer kernels against a double-precision C reference (forward,
 * gradient to the input, to the weights and bias, accumulating) on odd
 * and DARTS-sized shapes; the reference backward against central finite
 * differences; refused shapes. */
#include "harness.h"
#include "error.h"
#include "kernels.h"
#include "linear.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOL 1e-4

typedef struct layer_case {
  uint32_t n, c, h, w; /* x is [n, c, h, w] (trailing zeros: fewer dims) */
  uint32_t o;
  bool bias;
} layer_case;

static const layer_case cases[] = {
    {1, 37, 0, 0, 10, true},   {7, 37, 0, 0, 10, true},
    {64, 256, 0, 0, 10, true}, {7, 256, 0, 0, 10, false},
    {7, 300, 0, 0, 129, true}, {1, 300, 0, 0, 129, false},
    {7, 3, 5, 5, 13, true},    {5, 1, 1, 1, 1, true},
};

/* y = x w^T + b */
static void ref_forward(const float *x, const float *w, const float *b,
                        uint32_t n, uint32_t in, uint32_t o, double *y) {
  for (uint32_t r = 0; r < n; r++)
    for (uint32_t c = 0; c < o; c++) {
      double s = b ? b[c] : 0.0;
      for (uint32_t k = 0; k < in; k++)
        s += (double)x[r * in + k] * w[c * in + k];
      y[r * o + c] = s;
    }
}

/* Gradients of L = <gy, y(x, w, b)>: gx = gy w, gw = gy^T x, gb = sum gy
 * (written). */
static void ref_backward(const float *gy, const float *x, const float *w,
                         uint32_t n, uint32_t in, uint32_t o, double *gx,
                         double *gw, double *gb) {
  for (uint32_t r = 0; r < n; r++)
    for (uint32_t k = 0; k < in; k++) {
      double s = 0;
      for (uint32_t c = 0; c < o; c++)
        s += (double)gy[r * o + c] * w[c * in + k];
      gx[r * in + k] = s;
    }
  for (uint32_t c = 0; c < o; c++) {
    double sb = 0;
    for (uint32_t k = 0; k < in; k++) {
      double s = 0;
      for (uint32_t r = 0; r < n; r++)
        s += (double)gy[r * o + c] * x[r * in + k];
      gw[c * in + k] = s;
    }
    for (uint32_t r = 0; r < n; r++)
      sb += gy[r * o + c];
    gb[c] = sb;
  }
}

static void expect_close(const char *what, const layer_case *lc,
                         const float *got, const double *want, size_t n) {
  double err = harness_max_rel_err(got, want, n);
  if (err > TOL)
    fail_msg("%s, x [%u,%u,%u,%u] o %u: max relative error %g", what, lc->n,
             lc->c, lc->h, lc->w, lc->o, err);
}

static void against_reference(void **state) {
  harness *h = *state;
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    const layer_case *lc = &cases[t];
    dam_shape xs = dam_shape4(lc->n, lc->c, lc->h, lc->w);
    uint32_t n = lc->n, o = lc->o;
    uint32_t in = (uint32_t)(dam_shape_numel(&xs) / n);
    float *x = harness_random(h, (size_t)n * in, -1, 1);
    float *w = harness_random(h, (size_t)o * in, -1, 1);
    float *b = harness_random(h, o, -1, 1);
    float *gy = harness_random(h, (size_t)n * o, -1, 1);
    float *gx0 = harness_random(h, (size_t)n * in, -1, 1);
    float *gw0 = harness_random(h, (size_t)o * in, -1, 1);
    float *gb0 = harness_random(h, o, -1, 1);
    dam_tensor *tx = harness_tensor(h, xs, x);
    dam_tensor *tw = harness_tensor(h, dam_shape4(o, in, 0, 0), w);
    dam_tensor *tb = harness_tensor(h, dam_shape4(o, 0, 0, 0), b);
    dam_tensor *ty = harness_tensor(h, dam_shape4(n, o, 0, 0), gy);
    dam_tensor *tgy = harness_tensor(h, dam_shape4(n, o, 0, 0), gy);
    dam_tensor *tgx = harness_tensor(h, xs, gx0);
    dam_tensor *tgw = harness_tensor(h, dam_shape4(o, in, 0, 0), gw0);
    dam_tensor *tgb = harness_tensor(h, dam_shape4(o, 0, 0, 0), gb0);
    assert_int_equal(dam_k_linear(h->ex, tx, tw, lc->bias ? tb : NULL, ty), 0);
    assert_int_equal(dam_k_linear_grad_input(h->ex, tgy, tw, tgx), 0);
    assert_int_equal(
        dam_k_linear_grad_weight(h->ex, tx, tgy, tgw, lc->bias ? tgb : NULL),
        0);
    double *y = malloc((size_t)n * o * sizeof *y);
    double *gx = malloc((size_t)n * in * sizeof *gx);
    double *gw = malloc((size_t)o * in * sizeof *gw);
    double *gb = malloc(o * sizeof *gb);
    ref_forward(x, w, lc->bias ? b : NULL, n, in, o, y);
    ref_backward(gy, x, w, n, in, o, gx, gw, gb);
    for (size_t i = 0; i < (size_t)n * in; i++)
      gx[i] += gx0[i];
    for (size_t i = 0; i < (size_t)o * in; i++)
      gw[i] += gw0[i];
    for (uint32_t i = 0; i < o; i++)
      gb[i] = lc->bias ? gb[i] + gb0[i] : gb0[i];
    float *got = harness_read(h, ty);
    expect_close("forward", lc, got, y, (size_t)n * o);
    free(got);
    got = harness_read(h, tgx);
    expect_close("grad_input", lc, got, gx, (size_t)n * in);
    free(got);
    got = harness_read(h, tgw);
    expect_close("grad_weight", lc, got, gw, (size_t)o * in);
    free(got);
    got = harness_read(h, tgb);
    expect_close("grad_bias", lc, got, gb, o);
    free(got);
    free(y), free(gx), free(gw), free(gb);
    free(x), free(w), free(b), free(gy), free(gx0), free(gw0), free(gb0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

/* L(x, w, b) = <gy, y> in double, for finite differences. */
static double ref_loss(const float *gy, const float *x, const float *w,
                       const float *b, uint32_t n, uint32_t in, uint32_t o) {
  double y[4 * 3], l = 0;
  ref_forward(x, w, b, n, in, o, y);
  for (uint32_t i = 0; i < n * o; i++)
    l += gy[i] * y[i];
  return l;
}

/* Central difference of L in v[i] (one of x, w, b), dividing by the step
 * actually taken after rounding to float. */
static double central(float *v, size_t i, const float *gy, const float *x,
                      const float *w, const float *b, uint32_t n, uint32_t in,
                      uint32_t o) {
  const float eps = 1.0f / 1024;
  float keep = v[i], hi = keep + eps, lo = keep - eps;
  v[i] = hi;
  double up = ref_loss(gy, x, w, b, n, in, o);
  v[i] = lo;
  double down = ref_loss(gy, x, w, b, n, in, o);
  v[i] = keep;
  return (up - down) / ((double)hi - (double)lo);
}

static void reference_backward_matches_finite_differences(void **state) {
  harness *h = *state;
  enum { N = 4, I = 5, O = 3 };
  float *x = harness_random(h, N * I, -1, 1);
  float *w = harness_random(h, O * I, -1, 1);
  float *b = harness_random(h, O, -1, 1);
  float *gy = harness_random(h, N * O, -1, 1);
  double gx[N * I], gw[O * I], gb[O];
  ref_backward(gy, x, w, N, I, O, gx, gw, gb);
  for (size_t i = 0; i < N * I; i++)
    assert_true(fabs(central(x, i, gy, x, w, b, N, I, O) - gx[i]) < 1e-9);
  for (size_t i = 0; i < O * I; i++)
    assert_true(fabs(central(w, i, gy, x, w, b, N, I, O) - gw[i]) < 1e-9);
  for (size_t i = 0; i < O; i++)
    assert_true(fabs(central(b, i, gy, x, w, b, N, I, O) - gb[i]) < 1e-9);
  free(x), free(w), free(b), free(gy);
}

static void bad_shapes_refused(void **state) {
  harness *h = *state;
  dam_exec *ex = h->ex;
  dam_tensor *x = harness_tensor(h, dam_shape4(7, 37, 0, 0), NULL);
  dam_tensor *x4 = harness_tensor(h, dam_shape4(7, 3, 3, 4), NULL);
  dam_tensor *x1 = harness_tensor(h, dam_shape4(37, 0, 0, 0), NULL);
  dam_tensor *w = harness_tensor(h, dam_shape4(10, 37, 0, 0), NULL);
  dam_tensor *w1 = harness_tensor(h, dam_shape4(370, 0, 0, 0), NULL);
  dam_tensor *w4 = harness_tensor(h, dam_shape4(10, 37, 1, 1), NULL);
  dam_tensor *b = harness_tensor(h, dam_shape4(10, 0, 0, 0), NULL);
  dam_tensor *b9 = harness_tensor(h, dam_shape4(9, 0, 0, 0), NULL);
  dam_tensor *y = harness_tensor(h, dam_shape4(7, 10, 0, 0), NULL);
  dam_tensor *yt = harness_tensor(h, dam_shape4(10, 7, 0, 0), NULL);
  dam_tensor *y1 = harness_tensor(h, dam_shape4(70, 0, 0, 0), NULL);
  uint64_t dispatches = ex->stats.dispatches;
  harness_expect_refused(dam_k_linear(ex, x, w1, b, y), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, x, w4, b, y), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, x4, w, b, y), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, x1, w, b, y), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, x, w, b9, y), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, x, w, b, yt), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, x, w, b, y1), DAM_ESHAPE, "linear");
  harness_expect_refused(dam_k_linear(ex, NULL, w, b, y), DAM_EINVAL, "linear");
  harness_expect_refused(dam_k_linear(ex, x, w, b, NULL), DAM_EINVAL, "linear");
  harness_expect_refused(dam_k_linear_grad_input(ex, yt, w, x), DAM_ESHAPE,
                         "linear_grad_input");
  harness_expect_refused(dam_k_linear_grad_input(ex, y, w, x4), DAM_ESHAPE,
                         "linear_grad_input");
  harness_expect_refused(dam_k_linear_grad_input(ex, y, NULL, x), DAM_EINVAL,
                         "linear_grad_input");
  harness_expect_refused(dam_k_linear_grad_weight(ex, x, y, w, b9), DAM_ESHAPE,
                         "linear_grad_weight");
  harness_expect_refused(dam_k_linear_grad_weight(ex, x4, y, w, b), DAM_ESHAPE,
                         "linear_grad_weight");
  harness_expect_refused(dam_k_linear_grad_weight(ex, x, y1, w, b), DAM_ESHAPE,
                         "linear_grad_weight");
  harness_expect_refused(dam_k_linear_grad_weight(ex, x, y, NULL, NULL),
                         DAM_EINVAL, "linear_grad_weight");
  assert_int_equal(ex->stats.dispatches, dispatches);
  /* the [N, C, H, W] input read as [N, C*H*W] */
  dam_tensor *w36 = harness_tensor(h, dam_shape4(10, 36, 0, 0), NULL);
  assert_int_equal(dam_k_linear(ex, x4, w36, b, y), 0);
  assert_int_equal(dam_exec_end_step(ex), 0);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Device time of forward + both gradients, printed for the record. */
static void timing(void **state) {
  harness *h = *state;
  static const uint32_t shapes[][3] = {{64, 256, 10}, {64, 1024, 512}};
  for (size_t s = 0; s < 2; s++) {
    uint32_t n = shapes[s][0], in = shapes[s][1], o = shapes[s][2];
    dam_tensor *x = harness_tensor(h, dam_shape4(n, in, 0, 0), NULL);
    dam_tensor *w = harness_tensor(h, dam_shape4(o, in, 0, 0), NULL);
    dam_tensor *b = harness_tensor(h, dam_shape4(o, 0, 0, 0), NULL);
    dam_tensor *y = harness_tensor(h, dam_shape4(n, o, 0, 0), NULL);
    dam_tensor *gx = harness_tensor(h, dam_shape4(n, in, 0, 0), NULL);
    dam_tensor *gw = harness_tensor(h, dam_shape4(o, in, 0, 0), NULL);
    dam_tensor *gb = harness_tensor(h, dam_shape4(o, 0, 0, 0), NULL);
    dam_tensor *all[] = {x, w, b, y, gx, gw, gb};
    for (size_t i = 0; i < 7; i++)
      assert_int_equal(dam_k_fill(h->ex, all[i], 0.5f), 0);
    assert_int_equal(dam_exec_wait(h->ex), 0);
    double ms[3];
    const int reps = s ? 3 : 20;
    for (int k = 0; k < 3; k++) {
      double t0 = now_ms();
      for (int r = 0; r < reps; r++) {
        int err = k == 0   ? dam_k_linear(h->ex, x, w, b, y)
                  : k == 1 ? dam_k_linear_grad_input(h->ex, y, w, gx)
                           : dam_k_linear_grad_weight(h->ex, x, y, gw, gb);
        assert_int_equal(err, 0);
      }
      assert_int_equal(dam_exec_wait(h->ex), 0);
      ms[k] = (now_ms() - t0) / reps;
    }
    double gflop = 2.0 * n * in * o / 1e9;
    print_message("linear N=%u I=%u O=%u: forward %.3f ms (%.2f GFLOP/s), "
                  "grad_input %.3f ms (%.2f), grad_weight %.3f ms (%.2f)\n",
                  n, in, o, ms[0], gflop / ms[0] * 1e3, ms[1],
                  gflop / ms[1] * 1e3, ms[2], gflop / ms[2] * 1e3);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(against_reference),
      cmocka_unit_test(reference_backward_matches_finite_differences),
      cmocka_unit_test(bad_shapes_refused),
      cmocka_unit_test(timing),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
