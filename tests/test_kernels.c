/* Core kernels against plain C references, over odd and large sizes (the
 * largest needs a 2-D dispatch grid), and the subsampling of planes. */
#include "harness.h"
#include "error.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>

/* Every remainder mod 4 (the vec4 shaders' scalar tail). */
static const uint32_t sizes[] = {1, 6, 63, 64, 65, 4098, 4099, 300001};
#define N_SIZES (sizeof sizes / sizeof *sizes)

typedef struct inputs {
  uint32_t n;
  float *a, *b, *y0; /* y0: the output's prior content, for _acc kernels */
  dam_tensor *ta, *tb, *ty;
} inputs;

static inputs make(harness *h, uint32_t n) {
  inputs in = {.n = n};
  in.a = harness_random(h, n, -2, 2);
  in.b = harness_random(h, n, -2, 2);
  in.y0 = harness_random(h, n, -2, 2);
  in.ta = harness_tensor(h, dam_shape4(n, 0, 0, 0), in.a);
  in.tb = harness_tensor(h, dam_shape4(n, 0, 0, 0), in.b);
  in.ty = harness_tensor(h, dam_shape4(n, 0, 0, 0), in.y0);
  return in;
}

static void check(harness *h, inputs *in, const double *want, double tol) {
  float *got = harness_read(h, in->ty);
  double err = harness_max_rel_err(got, want, in->ty->numel);
  if (err > tol)
    fail_msg("n=%u: max relative error %g > %g", in->n, err, tol);
  free(got);
  free(in->a);
  free(in->b);
  free(in->y0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

enum kind { ADD, MUL, MUL_ACC, AXPBY, AXPBY_ACC, RELU, RELU_BWD, FILL, COPY };

static void elementwise(harness *h, enum kind k) {
  for (size_t s = 0; s < N_SIZES; s++) {
    inputs in = make(h, sizes[s]);
    double *want = malloc(in.n * sizeof *want);
    int err = 0;
    switch (k) {
    case ADD: err = dam_k_add(h->ex, in.ta, in.tb, in.ty); break;
    case MUL: err = dam_k_mul(h->ex, in.ta, in.tb, in.ty); break;
    case MUL_ACC: err = dam_k_mul_acc(h->ex, in.ta, in.tb, in.ty); break;
    case AXPBY: err = dam_k_axpby(h->ex, -1.5f, in.ta, 0.0f, in.ty); break;
    case AXPBY_ACC: err = dam_k_axpby(h->ex, 0.25f, in.ta, 2.0f, in.ty); break;
    case RELU: err = dam_k_relu(h->ex, in.ta, in.ty); break;
    case RELU_BWD: err = dam_k_relu_backward(h->ex, in.ta, in.tb, in.ty); break;
    case FILL: err = dam_k_fill(h->ex, in.ty, 3.5f); break;
    case COPY: err = dam_k_copy(h->ex, in.ta, in.ty); break;
    }
    assert_int_equal(err, 0);
    for (uint32_t i = 0; i < in.n; i++) {
      double a = in.a[i], b = in.b[i], y = in.y0[i];
      switch (k) {
      case ADD: want[i] = a + b; break;
      case MUL: want[i] = a * b; break;
      case MUL_ACC: want[i] = y + a * b; break;
      case AXPBY: want[i] = -1.5 * a; break;
      case AXPBY_ACC: want[i] = 0.25 * a + 2.0 * y; break;
      case RELU: want[i] = a > 0 ? a : 0; break;
      case RELU_BWD: want[i] = y + (a > 0 ? b : 0); break;
      case FILL: want[i] = 3.5; break;
      case COPY: want[i] = a; break;
      }
    }
    check(h, &in, want, 1e-6);
    free(want);
  }
}

static void add(void **state) { elementwise(*state, ADD); }
static void mul(void **state) { elementwise(*state, MUL); }
static void mul_acc(void **state) { elementwise(*state, MUL_ACC); }
static void axpby(void **state) { elementwise(*state, AXPBY); }
static void axpby_acc(void **state) { elementwise(*state, AXPBY_ACC); }
static void relu(void **state) { elementwise(*state, RELU); }
static void relu_backward(void **state) { elementwise(*state, RELU_BWD); }
static void fill(void **state) { elementwise(*state, FILL); }
static void copy(void **state) { elementwise(*state, COPY); }

static void reductions(void **state) {
  harness *h = *state;
  for (size_t s = 0; s < N_SIZES; s++) {
    inputs in = make(h, sizes[s]);
    dam_tensor *sum = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
    dam_tensor *dot = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
    assert_int_equal(dam_k_sum(h->ex, in.ta, sum), 0);
    assert_int_equal(dam_k_dot(h->ex, in.ta, in.tb, dot), 0);
    double want_sum = 0, want_dot = 0, scale = 0;
    for (uint32_t i = 0; i < in.n; i++) {
      want_sum += in.a[i];
      want_dot += (double)in.a[i] * in.b[i];
      scale += fabs((double)in.a[i]) * (fabs((double)in.b[i]) + 1);
    }
    float got_sum, got_dot;
    assert_int_equal(dam_tensor_download(h->ex, sum, &got_sum), 0);
    assert_int_equal(dam_tensor_download(h->ex, dot, &got_dot), 0);
    /* fp32 accumulation: bound the error by the sum of magnitudes */
    if (fabs(got_sum - want_sum) > 1e-6 * scale + 1e-6 ||
        fabs(got_dot - want_dot) > 1e-6 * scale + 1e-6)
      fail_msg("n=%u: sum %g vs %g, dot %g vs %g", in.n, got_sum, want_sum,
               got_dot, want_dot);
    /* the backward kernel: y += alpha * s[0] * b, and without b */
    double *want = malloc(in.n * sizeof *want);
    assert_int_equal(dam_k_broadcast_acc(h->ex, dot, 0.5f, in.tb, in.ty), 0);
    assert_int_equal(dam_k_broadcast_acc(h->ex, sum, 2.0f, NULL, in.ty), 0);
    for (uint32_t i = 0; i < in.n; i++)
      want[i] = in.y0[i] + 0.5 * got_dot * in.b[i] + 2.0 * got_sum;
    check(h, &in, want, 1e-5);
    free(want);
  }
}

/* subsample (of x, or of relu(x)) and its backward (through the relu
 * too: x has zeros) against a loop over
 * (n, block, c, i, j): odd sizes (zeros past the edge at offset 1),
 * stride 3, both phases of a factorized reduce as two blocks (the second
 * past the edge of a 1-pixel image), three blocks at stride 3, a block
 * starting past the edge; bad shapes refused. */
static void subsample(void **state) {
  harness *h = *state;
  static const uint32_t cases[][5] = {
      {7, 6, 2, 0, 1}, {7, 6, 2, 1, 1}, {4, 9, 2, 1, 1}, {8, 7, 3, 2, 1},
      {7, 7, 2, 0, 2}, {6, 5, 2, 0, 2}, {1, 1, 2, 0, 2}, {8, 7, 3, 1, 3},
      {9, 1, 3, 2, 3}};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    uint32_t H = cases[k][0], W = cases[k][1], s = cases[k][2];
    uint32_t o = cases[k][3], b = cases[k][4];
    uint32_t oh = (H + s - 1) / s, ow = (W + s - 1) / s;
    size_t nx = 2 * 3 * H * W, ny = 2 * 3 * b * oh * ow;
    float *x = harness_random(h, nx, -2, 2);
    float *gy = harness_random(h, ny, -1, 1);
    float *gx0 = harness_random(h, nx, -1, 1);
    for (size_t i = 0; i < nx; i += 5)
      x[i] = 0.0f;
    dam_shape ys = dam_shape4(2, 3 * b, oh, ow);
    dam_tensor *tx = harness_tensor(h, dam_shape4(2, 3, H, W), x);
    dam_tensor *ty = harness_tensor(h, ys, NULL);
    dam_tensor *tr = harness_tensor(h, ys, NULL);
    dam_tensor *tgy = harness_tensor(h, ys, gy);
    dam_tensor *tgx = harness_tensor(h, dam_shape4(2, 3, H, W), gx0);
    dam_tensor *tgr = harness_tensor(h, dam_shape4(2, 3, H, W), gx0);
    assert_int_equal(dam_k_subsample(h->ex, tx, s, o, ty), 0);
    assert_int_equal(dam_k_subsample_relu(h->ex, tx, s, o, tr), 0);
    assert_int_equal(dam_k_subsample_backward_acc(h->ex, tgy, s, o, tgx), 0);
    assert_int_equal(
        dam_k_subsample_backward_relu_acc(h->ex, tgy, s, o, tx, tgr), 0);
    double *want = calloc(ny, sizeof *want);
    double *want_r = calloc(ny, sizeof *want_r);
    double *want_gx = malloc(nx * sizeof *want_gx);
    double *want_gr = malloc(nx * sizeof *want_gr);
    assert_true(want && want_r && want_gx && want_gr);
    for (size_t i = 0; i < nx; i++)
      want_gx[i] = want_gr[i] = gx0[i];
    for (size_t n = 0; n < 2; n++)
      for (size_t blk = 0; blk < b; blk++)
        for (size_t c = 0; c < 3; c++)
          for (uint32_t i = 0; i < oh; i++)
            for (uint32_t j = 0; j < ow; j++) {
              uint32_t y = s * i + o + blk, xx = s * j + o + blk;
              if (y >= H || xx >= W)
                continue;
              size_t from = ((n * 3 + c) * H + y) * W + xx;
              size_t to = (((n * b + blk) * 3 + c) * oh + i) * ow + j;
              want[to] = x[from];
              want_r[to] = x[from] > 0 ? x[from] : 0;
              want_gx[from] += gy[to];
              want_gr[from] += x[from] > 0 ? gy[to] : 0;
            }
    float *got = harness_read(h, ty), *got_r = harness_read(h, tr);
    float *got_gx = harness_read(h, tgx), *got_gr = harness_read(h, tgr);
    if (harness_max_rel_err(got, want, ny) > 0 ||
        harness_max_rel_err(got_r, want_r, ny) > 0 ||
        harness_max_rel_err(got_gx, want_gx, nx) > 1e-6 ||
        harness_max_rel_err(got_gr, want_gr, nx) > 1e-6)
      fail_msg("subsample %ux%u stride %u offset %u, %u blocks: wrong "
               "values", H, W, s, o, b);
    free(got), free(got_r), free(got_gx), free(got_gr), free(want),
        free(want_r), free(want_gx), free(want_gr), free(x), free(gy),
        free(gx0);
  }
  /* refused: no input, more blocks than the stride, a partial block, a
   * relu input of another shape */
  dam_tensor *x = harness_tensor(h, dam_shape4(2, 3, 6, 6), NULL);
  dam_tensor *three = harness_tensor(h, dam_shape4(2, 9, 3, 3), NULL);
  dam_tensor *partial = harness_tensor(h, dam_shape4(2, 4, 3, 3), NULL);
  assert_int_equal(dam_k_subsample(h->ex, NULL, 2, 0, three), DAM_EINVAL);
  assert_int_equal(dam_k_subsample(h->ex, x, 2, 0, three), DAM_ESHAPE);
  assert_int_equal(dam_k_subsample_backward_acc(h->ex, partial, 2, 0, x),
                   DAM_ESHAPE);
  dam_tensor *phases = harness_tensor(h, dam_shape4(2, 6, 3, 3), NULL);
  assert_int_equal(
      dam_k_subsample_backward_relu_acc(h->ex, phases, 2, 0, partial, x),
      DAM_ESHAPE); /* the relu's input not of gx's shape */
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* More workgroups than maxComputeWorkGroupCount[0] allows in x. */
static void two_dimensional_grid(void **state) {
  harness *h = *state;
  uint32_t limit = h->dev->props.limits.maxComputeWorkGroupCount[0];
  /* Rows of the grid past the second: a wrong row pitch leaves gaps. */
  uint32_t n = (2 * limit + 17) * 64u + 5;
  dam_tensor *a = harness_tensor(h, dam_shape4(n, 0, 0, 0), NULL);
  dam_tensor *y = harness_tensor(h, dam_shape4(n, 0, 0, 0), NULL);
  assert_int_equal(dam_k_fill(h->ex, a, 2.0f), 0);
  assert_int_equal(dam_k_fill(h->ex, y, -1.0f), 0);
  assert_int_equal(dam_k_add(h->ex, a, a, y), 0);
  float *v = harness_read(h, y);
  for (uint32_t i = 0; i < n; i++)
    if (v[i] != 4.0f)
      fail_msg("element %u of %u is %g", i, n, v[i]);
  free(v);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void shape_mismatch_refused(void **state) {
  harness *h = *state;
  dam_tensor *a = harness_tensor(h, dam_shape4(10, 0, 0, 0), NULL);
  dam_tensor *b = harness_tensor(h, dam_shape4(11, 0, 0, 0), NULL);
  uint64_t dispatches = h->ex->stats.dispatches;
  assert_int_equal(dam_k_add(h->ex, a, b, a), DAM_ESHAPE);
  assert_int_equal(dam_k_sum(h->ex, a, b), DAM_ESHAPE);
  assert_int_equal(dam_k_relu(h->ex, a, NULL), DAM_EINVAL);
  assert_int_equal(h->ex->stats.dispatches, dispatches);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add),       cmocka_unit_test(mul),
      cmocka_unit_test(mul_acc),   cmocka_unit_test(axpby),
      cmocka_unit_test(axpby_acc), cmocka_unit_test(relu),
      cmocka_unit_test(relu_backward), cmocka_unit_test(fill),
      cmocka_unit_test(copy),
      cmocka_unit_test(reductions), cmocka_unit_test(subsample),
      cmocka_unit_test(two_dimensional_grid),
      cmocka_unit_test(shape_mismatch_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
