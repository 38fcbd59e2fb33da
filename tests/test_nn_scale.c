/* Scalings of whole tensors (core/nn_scale.c): dam_scale_by against s * x
 * and dam_scale_rows against mask[n] * x, their gradients of L = <y, r>
 * against central differences of the host reference in double, on shapes
 * whose element count is and is not a multiple of 4 (the vec4 path);
 * dam_scale_add against a + s * x and dam_scale_acc summing in place;
 * gradients adding up when a tensor is
 * used twice; bad inputs. */
#include "autograd.h"
#include "error.h"
#include "harness.h"
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FD_EPS 1e-3

static const dam_shape scale_shapes[] = {
    {4, {1, 1, 1, 1}}, /* one element: no vec4 at all */
    {4, {1, 3, 1, 1}}, /* 3 */
    {4, {1, 2, 2, 2}}, /* 8: vec4 only */
    {4, {2, 3, 5, 7}}, /* 210: vec4 and 2 left over */
    {4, {3, 1, 3, 3}}, /* 27: 3 left over */
    {1, {5, 0, 0, 0}}, /* 1-D */
    {4, {3, 5, 31, 29}}, /* 13485: more vec4s than partial dot products */
};
#define N_SHAPES (sizeof scale_shapes / sizeof scale_shapes[0])

/* L = s * sum x[i] r[i], and per image mask[n] when mask != NULL. */
static double loss_ref(const double *x, double s, const float *r,
                       const float *mask, size_t n, size_t per_row) {
  double l = 0;
  for (size_t i = 0; i < n; i++)
    l += (mask ? mask[i / per_row] : s) * x[i] * r[i];
  return l;
}

/* Central differences of loss_ref in every x[i] (into fx) and in s (into
 * *fs, when non-NULL). */
static void loss_fd(const float *xf, float sf, const float *r,
                    const float *mask, size_t n, size_t per_row, double *fx,
                    double *fs) {
  double *x = malloc(n * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++)
    x[i] = xf[i];
  for (size_t i = 0; i < n; i++) {
    double keep = x[i];
    x[i] = keep + FD_EPS;
    double up = loss_ref(x, sf, r, mask, n, per_row);
    x[i] = keep - FD_EPS;
    double down = loss_ref(x, sf, r, mask, n, per_row);
    x[i] = keep;
    fx[i] = (up - down) / (2 * FD_EPS);
  }
  if (fs)
    *fs = (loss_ref(x, sf + FD_EPS, r, mask, n, per_row) -
           loss_ref(x, sf - FD_EPS, r, mask, n, per_row)) /
          (2 * FD_EPS);
  free(x);
}

static void scale_by_matches_reference(void **state) {
  harness *h = *state;
  dam_shape one = dam_shape4(1, 0, 0, 0);
  for (size_t k = 0; k < N_SHAPES; k++) {
    dam_shape shape = scale_shapes[k];
    size_t n = dam_shape_numel(&shape);
    float *x = harness_random(h, n, -2, 2), *r = harness_random(h, n, -1, 1);
    float s = harness_uniform(h, 0.25f, 1.5f);
    dam_tensor *tx = harness_tensor(h, shape, x),
               *ts = harness_tensor(h, one, &s);
    tx->requires_grad = ts->requires_grad = true;
    dam_tensor *y = dam_scale_by(h->ex, tx, ts);
    assert_non_null(y);
    assert_true(y->requires_grad);
    assert_true(dam_shape_equal(&y->shape, &shape));
    dam_tensor *loss = dam_dot(h->ex, y, harness_tensor(h, shape, r));
    assert_int_equal(dam_backward(h->ex, loss), 0);
    float *yv = harness_read(h, y), *gx = harness_read(h, tx->grad);
    float *gs = harness_read(h, ts->grad);
    assert_int_equal(dam_exec_end_step(h->ex), 0);

    for (size_t i = 0; i < n; i++)
      if (yv[i] != s * x[i])
        fail_msg("shape %zu: y[%zu] = %g, expected %g", k, i, yv[i], s * x[i]);
    double *fx = malloc(n * sizeof *fx), fs;
    assert_non_null(fx);
    loss_fd(x, s, r, NULL, n, 1, fx, &fs);
    double e_x = harness_max_rel_err(gx, fx, n);
    double es = harness_max_rel_err(gs, &fs, 1);
    if (e_x > 1e-5 || es > 1e-5)
      fail_msg("shape %zu (%zu elements): gradient off finite differences "
               "by %g (x), %g (s)",
               k, n, e_x, es);
    free(fx);
    free(yv);
    free(gx);
    free(gs);
    free(x);
    free(r);
  }
}

/* dam_scale_add: y = a + s * x, and with L = <y, r> the gradients
 * ga = r, gx = s r and gs = <x, r>, on every shape. */
static void scale_add_matches_reference(void **state) {
  harness *h = *state;
  dam_shape one = dam_shape4(1, 0, 0, 0);
  for (size_t k = 0; k < N_SHAPES; k++) {
    dam_shape shape = scale_shapes[k];
    size_t n = dam_shape_numel(&shape);
    float *x = harness_random(h, n, -2, 2), *a = harness_random(h, n, -2, 2);
    float *r = harness_random(h, n, -1, 1);
    float s = harness_uniform(h, 0.25f, 1.5f);
    dam_tensor *tx = harness_tensor(h, shape, x), *ta = harness_tensor(h, shape, a);
    dam_tensor *ts = harness_tensor(h, one, &s);
    tx->requires_grad = ta->requires_grad = ts->requires_grad = true;
    dam_tensor *y = dam_scale_add(h->ex, ta, tx, ts);
    assert_non_null(y);
    dam_tensor *loss = dam_dot(h->ex, y, harness_tensor(h, shape, r));
    assert_int_equal(dam_backward(h->ex, loss), 0);
    float *yv = harness_read(h, y), *gx = harness_read(h, tx->grad);
    float *ga = harness_read(h, ta->grad), *gs = harness_read(h, ts->grad);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    double xr = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
      double want = (double)s * x[i] + a[i];
      if (fabs(yv[i] - want) > 1e-6 * (fabs(want) + 1))
        fail_msg("shape %zu: y[%zu] = %g, expected %g", k, i, yv[i], want);
      if (ga[i] != r[i] || fabs(gx[i] - (double)s * r[i]) > 1e-6)
        fail_msg("shape %zu: gradient %zu: a %g (want %g), x %g (want %g)",
                 k, i, ga[i], r[i], gx[i], (double)s * r[i]);
      xr += (double)x[i] * r[i];
      scale += fabs((double)x[i] * r[i]);
    }
    if (fabs(gs[0] - xr) > 1e-5 * (scale + 1))
      fail_msg("shape %zu: gs %g, expected %g", k, gs[0], xr);
    free(yv), free(gx), free(ga), free(gs), free(x), free(a), free(r);
  }
}

/* A node's sum built in place: y = s0 x0 (scale_add), then y += s_k x_k
 * (scale_acc, returning y itself), or two terms at a time (scale_pair:
 * y = s0 x0 + s1 x1, y += s2 x2 + s3 x3, then y += s4 x4, with x3 wanting
 * no gradient), or four (scale_quad: y = s0 x0 + ... + s3 x3, then y +=
 * s4 x4, x3 as there); with L = <y, r> each gx_k is s_k r and each gs_k is
 * <x_k, r>, also when backward releases what it can
 * (dam_backward_release). */
static void scale_acc_sums_in_place(void **state) {
  harness *h = *state;
  enum { K = 5 };
  dam_shape shape = scale_shapes[3], one = dam_shape4(1, 0, 0, 0);
  size_t n = dam_shape_numel(&shape);
  for (int mode = 0; mode < 6; mode++) {
    int release = mode & 1, pairs = mode >> 1 == 1, quad = mode >> 1 == 2;
    float *x[K], s[K], *r = harness_random(h, n, -1, 1);
    dam_tensor *tx[K], *ts[K], *y = NULL;
    for (int k = 0; k < K; k++) {
      x[k] = harness_random(h, n, -2, 2);
      s[k] = harness_uniform(h, 0.25f, 1.5f);
      tx[k] = harness_tensor(h, shape, x[k]);
      ts[k] = harness_tensor(h, one, &s[k]);
      tx[k]->requires_grad = !(pairs || quad) || k != 3;
      ts[k]->requires_grad = true;
      if ((pairs && k % 2 == 0 && k + 1 < K) || (quad && k < 3))
        continue;
      dam_tensor *sum =
          quad && k == 3 ? dam_scale_quad(h->ex, NULL, tx, ts)
          : pairs && k % 2 ? dam_scale_pair(h->ex, y, tx[k - 1], ts[k - 1],
                                            tx[k], ts[k])
          : k              ? dam_scale_acc(h->ex, y, tx[k], ts[k])
                           : dam_scale_add(h->ex, NULL, tx[k], ts[k]);
      assert_non_null(sum);
      assert_true(!y || sum == y);
      y = sum;
    }
    float *yv = harness_read(h, y);
    dam_tensor *loss = dam_dot(h->ex, y, harness_tensor(h, shape, r));
    assert_int_equal(release ? dam_backward_release(h->ex, loss, NULL, 0)
                             : dam_backward(h->ex, loss), 0);
    for (int k = 0; k < K; k++) {
      assert_true(tx[k]->requires_grad == (tx[k]->grad != NULL));
      float *gx = tx[k]->grad ? harness_read(h, tx[k]->grad) : NULL;
      float *gs = harness_read(h, ts[k]->grad);
      double xr = 0, scale = 0;
      for (size_t i = 0; i < n; i++) {
        if (gx && fabs(gx[i] - (double)s[k] * r[i]) > 1e-6)
          fail_msg("release %d, term %d: gx[%zu] = %g, expected %g", release,
                   k, i, gx[i], (double)s[k] * r[i]);
        xr += (double)x[k][i] * r[i];
        scale += fabs((double)x[k][i] * r[i]);
      }
      if (fabs(gs[0] - xr) > 1e-5 * (scale + 1))
        fail_msg("release %d, term %d: gs %g, expected %g", release, k, gs[0],
                 xr);
      free(gx), free(gs);
    }
    for (size_t i = 0; i < n; i++) {
      double want = 0;
      for (int k = 0; k < K; k++)
        want += (double)s[k] * x[k][i];
      if (fabs(yv[i] - want) > 1e-5 * (fabs(want) + 1))
        fail_msg("y[%zu] = %g, expected %g", i, yv[i], want);
    }
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    for (int k = 0; k < K; k++)
      free(x[k]);
    free(yv), free(r);
  }
}

static void scale_rows_matches_reference(void **state) {
  harness *h = *state;
  for (size_t k = 0; k < N_SHAPES; k++) {
    dam_shape shape = scale_shapes[k];
    size_t n = dam_shape_numel(&shape), rows = shape.dim[0];
    size_t per_row = n / rows;
    float *x = harness_random(h, n, -2, 2), *r = harness_random(h, n, -1, 1);
    float *mask = harness_random(h, rows, 0.5f, 2.0f);
    mask[0] = 0.0f; /* a dropped image */
    if (rows > 1)
      mask[rows - 1] = 2.0f; /* a kept one, 1/keep */
    dam_tensor *tx = harness_tensor(h, shape, x);
    tx->requires_grad = true;
    dam_tensor *y = dam_scale_rows(h->ex, tx, mask);
    assert_non_null(y);
    assert_true(y->requires_grad);
    assert_true(dam_shape_equal(&y->shape, &shape));
    dam_tensor *loss = dam_dot(h->ex, y, harness_tensor(h, shape, r));
    assert_int_equal(dam_backward(h->ex, loss), 0);
    float *yv = harness_read(h, y), *gx = harness_read(h, tx->grad);
    assert_int_equal(dam_exec_end_step(h->ex), 0);

    for (size_t i = 0; i < n; i++)
      if (yv[i] != mask[i / per_row] * x[i])
        fail_msg("shape %zu: y[%zu] = %g, expected %g", k, i, yv[i],
                 mask[i / per_row] * x[i]);
    double *fx = malloc(n * sizeof *fx);
    assert_non_null(fx);
    loss_fd(x, 0, r, mask, n, per_row, fx, NULL);
    double e_x = harness_max_rel_err(gx, fx, n);
    if (e_x > 1e-5)
      fail_msg("shape %zu: gradient off finite differences by %g", k, e_x);
    free(fx);
    free(yv);
    free(gx);
    free(mask);
    free(x);
    free(r);
  }
}

/* Only what requires a gradient gets one, and a constant input records
 * nothing. */
static void needs_grad_mask(void **state) {
  harness *h = *state;
  dam_shape shape = dam_shape4(2, 3, 1, 1), one = dam_shape4(1, 0, 0, 0);
  float x[6] = {1, -2, 3, -4, 5, -6}, r[6] = {1, 1, 2, 2, -1, 0.5f}, s = 0.5f;
  dam_tensor *tx = harness_tensor(h, shape, x),
             *ts = harness_tensor(h, one, &s);
  dam_tensor *tr = harness_tensor(h, shape, r);
  dam_tensor *plain = dam_scale_by(h->ex, tx, ts);
  assert_non_null(plain);
  assert_false(plain->requires_grad);
  float m[2] = {1, 0};
  plain = dam_scale_rows(h->ex, tx, m);
  assert_non_null(plain);
  assert_false(plain->requires_grad);
  assert_true(h->ex->tape == NULL || h->ex->tape->n == 0);

  ts->requires_grad = true;
  dam_tensor *y = dam_scale_by(h->ex, tx, ts);
  assert_int_equal(dam_backward(h->ex, dam_dot(h->ex, y, tr)), 0);
  assert_null(tx->grad);
  float gs;
  assert_int_equal(dam_tensor_download(h->ex, ts->grad, &gs), 0);
  double dot = 0;
  for (int i = 0; i < 6; i++)
    dot += (double)x[i] * r[i];
  assert_true(fabs(gs - dot) < 1e-5);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* x feeds scale_by and scale_rows, and s scales twice:
 * L = <s x, r1> + <s (m . x), r2>.  Both gradients are sums of two
 * contributions. */
static void used_twice_gradients_add(void **state) {
  harness *h = *state;
  dam_shape shape = dam_shape4(3, 2, 5, 1), one = dam_shape4(1, 0, 0, 0);
  size_t n = 30, per_row = 10;
  float *x = harness_random(h, n, -2, 2);
  float *r1 = harness_random(h, n, -1, 1), *r2 = harness_random(h, n, -1, 1);
  float mask[3] = {1.5f, 0.0f, 0.75f}, s = 0.8f;
  dam_tensor *tx = harness_tensor(h, shape, x),
             *ts = harness_tensor(h, one, &s);
  tx->requires_grad = ts->requires_grad = true;
  dam_tensor *y1 = dam_scale_by(h->ex, tx, ts);
  dam_tensor *y2 = dam_scale_by(h->ex, dam_scale_rows(h->ex, tx, mask), ts);
  dam_tensor *loss =
      dam_add(h->ex, dam_dot(h->ex, y1, harness_tensor(h, shape, r1)),
              dam_dot(h->ex, y2, harness_tensor(h, shape, r2)));
  assert_non_null(loss);
  assert_int_equal(dam_backward(h->ex, loss), 0);
  float *gx = harness_read(h, tx->grad), gs;
  assert_int_equal(dam_tensor_download(h->ex, ts->grad, &gs), 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);

  /* L is the sum of the two single-use losses; so are its differences. */
  double *f1 = malloc(n * sizeof *f1), *f2 = malloc(n * sizeof *f2), s1, s2;
  float *r2m = malloc(n * sizeof *r2m);
  assert_true(f1 && f2 && r2m);
  for (size_t i = 0; i < n; i++)
    r2m[i] = mask[i / per_row] * r2[i]; /* <s (m . x), r2> = <s x, m . r2> */
  loss_fd(x, s, r1, NULL, n, 1, f1, &s1);
  loss_fd(x, s, r2m, NULL, n, 1, f2, &s2);
  for (size_t i = 0; i < n; i++)
    f1[i] += f2[i];
  s1 += s2;
  double e_x = harness_max_rel_err(gx, f1, n),
         es = harness_max_rel_err(&gs, &s1, 1);
  if (e_x > 1e-5 || es > 1e-5)
    fail_msg("gradient off finite differences by %g (x), %g (s)", e_x, es);
  free(f1);
  free(f2);
  free(r2m);
  free(gx);
  free(x);
  free(r1);
  free(r2);
}

/* Persistent gradients add up across backward calls: the backward
 * accumulates (+=) into the existing gradient instead of overwriting. */
static void persistent_gradients_accumulate(void **state) {
  harness *h = *state;
  dam_shape shape = dam_shape4(1, 7, 0, 0), one = dam_shape4(1, 0, 0, 0);
  float x[7] = {1, 2, 3, 4, 5, 6, 7}, r[7] = {1, -1, 0.5f, 2, -2, 0.25f, 1};
  float s = 1.5f, mask[1] = {2.0f};
  dam_tensor *px = dam_param_new(h->ex, &shape),
             *ps = dam_param_new(h->ex, &one);
  assert_true(px && ps);
  assert_int_equal(dam_tensor_upload(h->ex, px, x), 0);
  assert_int_equal(dam_tensor_upload(h->ex, ps, &s), 0);
  for (int step = 0; step < 2; step++) {
    dam_tensor *y = dam_scale_by(h->ex, dam_scale_rows(h->ex, px, mask), ps);
    assert_non_null(y);
    assert_int_equal(
        dam_backward(h->ex, dam_dot(h->ex, y, harness_tensor(h, shape, r))), 0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
  float *gx = harness_read(h, px->grad), gs;
  assert_int_equal(dam_tensor_download(h->ex, ps->grad, &gs), 0);
  double dot = 0;
  for (int i = 0; i < 7; i++) {
    dot += 2.0 * x[i] * r[i];
    if (fabs(gx[i] - 2.0 * s * mask[0] * r[i]) > 1e-5)
      fail_msg("gx[%d] = %g, expected %g", i, gx[i], 2.0 * s * mask[0] * r[i]);
  }
  if (fabs(gs - 2.0 * dot) > 1e-4)
    fail_msg("gs = %g, expected %g", gs, 2.0 * dot);
  free(gx);
  dam_tensor_free(h->ex, px);
  dam_tensor_free(h->ex, ps);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void expect_null(dam_tensor *y, const char *op) {
  assert_null(y);
  if (!strstr(dam_last_error(), op))
    fail_msg("message \"%s\" does not name %s", dam_last_error(), op);
}

static void bad_inputs_refused(void **state) {
  harness *h = *state;
  dam_shape shape = dam_shape4(2, 2, 0, 0), two = dam_shape4(2, 0, 0, 0);
  float x[4] = {1, 2, 3, 4}, m[2] = {1, 1};
  dam_tensor *tx = harness_tensor(h, shape, x), *t2 = harness_tensor(h, two, m);
  expect_null(dam_scale_by(h->ex, NULL, t2), "scale_add");
  expect_null(dam_scale_by(h->ex, tx, NULL), "scale_add");
  expect_null(dam_scale_by(h->ex, tx, t2), "scale_add"); /* s of 2 elements */
  expect_null(dam_scale_acc(h->ex, t2, tx, t2), "scale_acc"); /* shapes */
  expect_null(dam_scale_add(h->ex, t2, tx, t2), "scale_add"); /* shapes */
  expect_null(dam_scale_rows(h->ex, NULL, m), "scale_rows");
  expect_null(dam_scale_rows(h->ex, tx, NULL), "scale_rows");
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(scale_by_matches_reference),
      cmocka_unit_test(scale_add_matches_reference),
      cmocka_unit_test(scale_acc_sums_in_place),
      cmocka_unit_test(scale_rows_matches_reference),
      cmocka_unit_test(needs_grad_mask),
      cmocka_unit_test(used_twice_gradients_add),
      cmocka_unit_test(persistent_gradients_accumulate),
      cmocka_unit_test(bad_inputs_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
