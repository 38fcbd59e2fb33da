/* Batch-norm outputs not yet made (dam_tensor.bn_of) in node sums, in
 * pairs and in a quad: the sum reads each norm's input through its
 * coefficients (scale_by_bn.comp, scale_by_bn_quad)
 * and never makes the output, nor do the dot products behind the sum's
 * scales' gradients (scale_grads_bn.comp); against the host reference, and
 * its gradients against the same graph with the outputs made first (the
 * backward then reads them).  A scope keeps the input of an output not yet
 * made; reading the output makes it. */
#include "autograd.h"
#include "harness.h"
#include "nn.h"

#include <math.h>
#include <stdlib.h>

static const dam_bn_args bn = {1e-5f, 0.1f};

/* Odd planes (a vec4 straddles two channels) and planes of 4k floats. */
/* the last: more vec4s than 512 spans of 32 (nn_scale.c widens them) */
static const dam_shape shapes[] = {
    {4, {4, 3, 3, 3}}, {4, {2, 3, 4, 4}}, {4, {6, 4, 56, 56}}};

/* y = x normalized per channel with the batch statistics, in double. */
static void bn_ref(const float *x, const dam_shape *s, double *y) {
  uint32_t n = s->dim[0], c = s->dim[1], hw = s->dim[2] * s->dim[3];
  for (uint32_t ch = 0; ch < c; ch++) {
    double sum = 0, sq = 0, m = (double)n * hw;
    for (uint32_t i = 0; i < n; i++)
      for (uint32_t e = 0; e < hw; e++)
        sum += x[(i * c + ch) * hw + e];
    double mean = sum / m;
    for (uint32_t i = 0; i < n; i++)
      for (uint32_t e = 0; e < hw; e++) {
        double d = x[(i * c + ch) * hw + e] - mean;
        sq += d * d;
      }
    double invstd = 1 / sqrt(sq / m + bn.eps);
    for (uint32_t i = 0; i < n; i++)
      for (uint32_t e = 0; e < hw; e++)
        y[(i * c + ch) * hw + e] = (x[(i * c + ch) * hw + e] - mean) * invstd;
  }
}

enum { X0, X1, Z, S0, S1, S2, INPUTS };

/* acc = s0 bn(t0) + s1 z + s2 z + s0 bn(x1) + s1 bn(x1) + s2 bn(t0), in
 * pairs (norm, plain), (plain, norm), (norm, norm), or with `quad` the
 * first four terms in one dam_scale_quad, where t0 = x0 through a 1x1
 * conv of identity weights (whose node does not read its output) inside a
 * scope that keeps only bn(t0); L = <acc, r>.  With `made` both norms'
 * outputs are made before the sums.  Reads the sum into *sum and the
 * inputs' gradients into g. */
static void sum_and_grads(harness *h, const dam_shape *s, float *const *v,
                          const float *r, bool made, bool quad, float **sum,
                          float **g) {
  dam_shape one = dam_shape4(1, 0, 0, 0);
  dam_tensor *t[INPUTS];
  for (int i = 0; i < INPUTS; i++) {
    t[i] = harness_tensor(h, i < S0 ? *s : one, v[i]);
    t[i]->requires_grad = true;
  }
  uint32_t c = s->dim[1];
  float *eye = calloc((size_t)c * c, sizeof *eye);
  for (uint32_t i = 0; i < c; i++)
    eye[i * c + i] = 1;
  static const dam_conv2d_geom pw = {{1, 1}, {0, 0}, {1, 1}, 1};
  dam_tensor *w = harness_tensor(h, dam_shape4(c, c, 1, 1), eye);
  free(eye);
  dam_scope scope = dam_scope_open(h->ex);
  dam_tensor *t0 = dam_conv2d(h->ex, t[X0], w, &pw);
  dam_tensor *y0 = dam_batchnorm(h->ex, t0, NULL, NULL, NULL, NULL, &bn,
                                 true);
  dam_scope_close(h->ex, &scope, &y0, 1, true);
  assert_non_null(t0->mem.block); /* kept: y0 is made from it */
  dam_tensor *y1 = dam_batchnorm(h->ex, t[X1], NULL, NULL, NULL, NULL, &bn,
                                 true);
  assert_non_null(y1);
  assert_null(y0->mem.block);
  if (made) {
    assert_int_equal(dam_tensor_materialize(h->ex, y0), 0);
    assert_int_equal(dam_tensor_materialize(h->ex, y1), 0);
  }
  dam_tensor *acc;
  if (quad) {
    dam_tensor *terms[4] = {y0, t[Z], t[Z], y1};
    dam_tensor *scales[4] = {t[S0], t[S1], t[S2], t[S0]};
    acc = dam_scale_quad(h->ex, NULL, terms, scales);
  } else {
    acc = dam_scale_pair(h->ex, NULL, y0, t[S0], t[Z], t[S1]);
    acc = acc ? dam_scale_pair(h->ex, acc, t[Z], t[S2], y1, t[S0]) : NULL;
  }
  acc = acc ? dam_scale_pair(h->ex, acc, y1, t[S1], y0, t[S2]) : NULL;
  assert_non_null(acc);
  assert_true(!y0->mem.block == !made && !y1->mem.block == !made);
  *sum = harness_read(h, acc);
  dam_tensor *tr = harness_tensor(h, *s, r);
  assert_int_equal(dam_backward(h->ex, dam_dot(h->ex, acc, tr)), 0);
  /* the scales' gradients read the norms' inputs too */
  assert_true(!y0->mem.block == !made && !y1->mem.block == !made);
  for (int i = 0; i < INPUTS; i++)
    g[i] = harness_read(h, t[i]->grad);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void close_or_fail(const float *got, const float *want, size_t n,
                          const char *what, bool made) {
  for (size_t i = 0; i < n; i++)
    if (fabsf(got[i] - want[i]) > 1e-4f * (1 + fabsf(want[i])))
      fail_msg("%s (outputs %s)[%zu]: %g, expected %g", what,
               made ? "made" : "not made", i, got[i], want[i]);
}

static void pending_norms_summed_without_being_made(void **state) {
  harness *h = *state;
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    const dam_shape *s = &shapes[k];
    size_t n = dam_shape_numel(s);
    float *v[INPUTS], *r = harness_random(h, n, -1, 1);
    for (int i = 0; i < INPUTS; i++)
      v[i] = harness_random(h, i < S0 ? n : 1, -2, 2);
    double *b0 = malloc(n * sizeof *b0), *b1 = malloc(n * sizeof *b1);
    float *want = malloc(n * sizeof *want);
    bn_ref(v[X0], s, b0);
    bn_ref(v[X1], s, b1);
    for (size_t i = 0; i < n; i++)
      want[i] = (float)((v[S0][0] + v[S2][0]) * b0[i] +
                        (v[S1][0] + v[S2][0]) * v[Z][i] +
                        (v[S0][0] + v[S1][0]) * b1[i]);
    /* not made, made; not made, in a quad */
    float *sum[3], *g[3][INPUTS];
    for (int run = 0; run < 3; run++) {
      sum_and_grads(h, s, v, r, run == 1, run == 2, &sum[run], g[run]);
      close_or_fail(sum[run], want, n, run == 2 ? "sum, quad" : "sum",
                    run == 1);
    }
    static const char *names[INPUTS] = {"gx0", "gx1", "gz", "gs0", "gs1",
                                        "gs2"};
    for (int run = 0; run < 3; run += 2)
      for (int i = 0; i < INPUTS; i++)
        close_or_fail(g[run][i], g[1][i], i < S0 ? n : 1, names[i], false);
    for (int run = 0; run < 3; run++) {
      free(sum[run]);
      for (int i = 0; i < INPUTS; i++)
        free(g[run][i]);
    }
    for (int i = 0; i < INPUTS; i++)
      free(v[i]);
    free(r), free(b0), free(b1), free(want);
  }
}

/* Any other reader makes the output: a download, here. */
static void pending_norm_made_when_read(void **state) {
  harness *h = *state;
  const dam_shape *s = &shapes[0];
  size_t n = dam_shape_numel(s);
  float *x = harness_random(h, n, -3, 3);
  double *want = malloc(n * sizeof *want);
  bn_ref(x, s, want);
  dam_tensor *y = dam_batchnorm(h->ex, harness_tensor(h, *s, x), NULL, NULL,
                                NULL, NULL, &bn, true);
  assert_non_null(y);
  assert_null(y->mem.block);
  float *got = harness_read(h, y);
  assert_non_null(y->mem.block);
  for (size_t i = 0; i < n; i++)
    assert_true(fabs(got[i] - want[i]) <= 1e-4 * (1 + fabs(want[i])));
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x), free(want), free(got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pending_norms_summed_without_being_made),
      cmocka_unit_test(pending_norm_made_when_read),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
