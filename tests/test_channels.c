/* Channel-range copy (concat, slice and their accumulating backwards)
 * against a plain C reference, whose backward is checked once against
 * central finite differences; and the refusal of bad ranges and shapes. */
#include "harness.h"
#include "channels.h"
#include "error.h"
#include "kernel_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct copy_case {
  uint32_t n, h, w, src_c, src_c0, dst_c, dst_c0, count;
  bool accumulate;
} copy_case;

/* dst[:, dst_c0 + k] (+)= src[:, src_c0 + k] in double. */
static void ref_copy(const copy_case *k, const double *src, double *dst) {
  size_t hw = (size_t)k->h * k->w;
  for (uint32_t n = 0; n < k->n; n++)
    for (uint32_t c = 0; c < k->count; c++)
      for (size_t e = 0; e < hw; e++) {
        double v = src[((size_t)n * k->src_c + k->src_c0 + c) * hw + e];
        double *d = &dst[((size_t)n * k->dst_c + k->dst_c0 + c) * hw + e];
        *d = k->accumulate ? *d + v : v;
      }
}

static dam_shape shape(uint32_t n, uint32_t c, uint32_t h, uint32_t w) {
  return h == 1 && w == 1 ? (dam_shape){2, {n, c}} : dam_shape4(n, c, h, w);
}

static void run_case(harness *h, const copy_case *k) {
  size_t hw = (size_t)k->h * k->w;
  size_t ns = k->n * k->src_c * hw, nd = k->n * k->dst_c * hw;
  float *src = harness_random(h, ns, -2, 2);
  float *dst0 = harness_random(h, nd, -2, 2);
  dam_tensor *ts = harness_tensor(h, shape(k->n, k->src_c, k->h, k->w), src);
  dam_tensor *td = harness_tensor(h, shape(k->n, k->dst_c, k->h, k->w), dst0);
  assert_int_equal(dam_k_channel_copy(h->ex, ts, k->src_c0, td, k->dst_c0,
                                      k->count, k->accumulate), 0);
  double *ds = malloc(ns * sizeof *ds), *dd = malloc(nd * sizeof *dd);
  assert_true(ds && dd);
  for (size_t i = 0; i < ns; i++)
    ds[i] = src[i];
  for (size_t i = 0; i < nd; i++)
    dd[i] = dst0[i];
  ref_copy(k, ds, dd);
  float *got = harness_read(h, td);
  double err = harness_max_rel_err(got, dd, nd);
  if (err > 1e-6)
    fail_msg("n%u %ux%u: src C %u [%u..+%u) -> dst C %u at %u, acc %d: "
             "error %g", k->n, k->h, k->w, k->src_c, k->src_c0, k->count,
             k->dst_c, k->dst_c0, k->accumulate, err);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(src), free(dst0), free(ds), free(dd), free(got);
}

/* Slices out of and into the middle, whole tensors, odd planes and planes
 * of a multiple of 4 (moved as vec4s), both modes, batch 1 and 7, 2-D
 * tensors. */
static void copies(void **state) {
  static const copy_case cases[] = {
      {1, 7, 7, 16, 5, 3, 0, 3, false},  {7, 9, 9, 3, 0, 16, 13, 3, true},
      {7, 13, 13, 16, 0, 16, 0, 16, false}, {1, 13, 13, 1, 0, 3, 2, 1, true},
      {7, 7, 7, 3, 1, 3, 1, 2, true},    {7, 28, 28, 16, 8, 19, 3, 8, false},
      {7, 1, 1, 16, 3, 5, 1, 4, true},   {1, 3, 5, 3, 2, 1, 0, 1, false},
      {7, 4, 6, 16, 5, 3, 2, 1, true},   {1, 2, 2, 3, 1, 5, 4, 1, false},
      /* Planes off vec4s but src a multiple of 4 floats: shifted vec4
       * runs (planes of 49, 25, 9, 1), aligned and at odd offsets, runs of
       * several spans, runs of exactly 4 floats and, too short or with src
       * not a multiple of 4 floats, the scalar path. */
      {1, 7, 7, 64, 0, 128, 64, 64, false}, {7, 7, 7, 4, 1, 9, 3, 3, true},
      {7, 5, 5, 4, 3, 3, 0, 1, false},   {4, 3, 3, 3, 1, 5, 2, 2, true},
      {4, 1, 1, 5, 1, 7, 2, 4, false},   {4, 1, 1, 5, 0, 4, 1, 3, true},
      {7, 7, 7, 64, 3, 70, 5, 61, true}, {1, 7, 7, 1, 0, 3, 1, 1, false},
      {7, 5, 5, 64, 1, 64, 0, 63, false}, {1, 7, 7, 4, 0, 7, 6, 1, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    run_case(*state, &cases[i]);
}

typedef struct concat_case {
  uint32_t n, h, w, k, c[6];
  uint32_t grads;     /* bit i: input i wants a gradient */
  uint64_t dispatches; /* of the concat and of its backward, each */
} concat_case;

/* dam_k_channel_concat of k inputs and dam_k_channel_split_acc back,
 * exactly, and in the expected number of dispatches: the concat with
 * `copies` in none (copy commands, on CPU devices), the split as many
 * either way, its gradients holding values; with `fresh` as well, they
 * are new (dam_tensor_grad) and take copies too. */
static void run_concat(harness *h, const concat_case *k, bool copies,
                       bool fresh) {
  size_t hw = (size_t)k->h * k->w, total = 0;
  for (uint32_t i = 0; i < k->k; i++)
    total += k->c[i];
  dam_tensor *in[6], *grad[6] = {0};
  float *data[6], *g0[6];
  dam_tensor *y = harness_tensor(h, shape(k->n, total, k->h, k->w), NULL);
  float *gy = harness_random(h, k->n * total * hw, -1, 1);
  dam_tensor *tgy = harness_tensor(h, shape(k->n, total, k->h, k->w), gy);
  for (uint32_t i = 0; i < k->k; i++) {
    data[i] = harness_random(h, k->n * k->c[i] * hw, -1, 1);
    g0[i] = harness_random(h, k->n * k->c[i] * hw, -1, 1);
    in[i] = harness_tensor(h, shape(k->n, k->c[i], k->h, k->w), data[i]);
    if (fresh && (k->grads & (1u << i))) {
      grad[i] = dam_tensor_grad(h->ex, in[i]);
      assert_true(grad[i] && grad[i]->zeros_pending);
      memset(g0[i], 0, k->n * k->c[i] * hw * sizeof *g0[i]);
    } else if (k->grads & (1u << i)) {
      grad[i] = harness_tensor(h, shape(k->n, k->c[i], k->h, k->w), g0[i]);
    }
  }
  dam__channels_allow_copies(copies);
  bool copied = copies && dam__k_cpu_device(h->ex); /* GPUs: the shaders */
  uint64_t d0 = h->ex->stats.dispatches;
  assert_int_equal(dam_k_channel_concat(h->ex, (const dam_tensor *const *)in,
                                        k->k, y), 0);
  uint64_t d1 = h->ex->stats.dispatches;
  assert_int_equal(d1 - d0, copied ? 0 : k->dispatches);
  assert_int_equal(dam_k_channel_split_acc(h->ex, tgy, grad, k->c, k->k), 0);
  assert_int_equal(h->ex->stats.dispatches - d1,
                   fresh && copied ? 0 : k->dispatches);
  dam__channels_allow_copies(true);
  float *got = harness_read(h, y);
  for (uint32_t i = 0, c0 = 0; i < k->k; c0 += k->c[i++]) {
    float *g = grad[i] ? harness_read(h, grad[i]) : NULL;
    for (uint32_t b = 0; b < k->n; b++)
      for (size_t e = 0; e < k->c[i] * hw; e++) {
        size_t at = (b * total + c0) * hw + e, own = b * k->c[i] * hw + e;
        assert_true(got[at] == data[i][own]);
        assert_true(!g || g[own] == g0[i][own] + gy[at]);
      }
    free(g), free(data[i]), free(g0[i]);
  }
  free(got), free(gy);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* Blocks of whole vec4s per image (up to four per dispatch: six inputs
 * take two), odd blocks (a channel copy each), 2-D tensors, and inputs
 * without gradients; each through the shaders, as copy commands, and as
 * copies into new gradients. */
static void concat_and_backward(void **state) {
  static const concat_case cases[] = {
      {7, 9, 7, 3, {3, 1, 16}, 0x7, 3},
      {3, 7, 7, 6, {4, 8, 4, 4, 12, 4}, 0x3F, 2},
      {3, 7, 7, 6, {4, 8, 4, 4, 12, 4}, 0x25, 2},
      {5, 2, 2, 3, {2, 1, 6}, 0x7, 1},
      {9, 1, 1, 4, {4, 8, 12, 4}, 0xA, 1},
      {2, 1, 1, 2, {3, 5}, 0x3, 2},
      {2, 5, 5, 1, {4}, 0x1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    run_concat(*state, &cases[i], false, false);
    run_concat(*state, &cases[i], true, false);
    run_concat(*state, &cases[i], true, true);
  }
}

/* Disjoint ranges of one tensor. */
static void within_one_tensor(void **state) {
  harness *h = *state;
  float *v = harness_random(h, 2 * 6 * 9, -1, 1);
  dam_tensor *t = harness_tensor(h, dam_shape4(2, 6, 3, 3), v);
  assert_int_equal(dam_k_channel_copy(h->ex, t, 4, t, 1, 2, true), 0);
  float *got = harness_read(h, t);
  for (size_t i = 0; i < 2 * 6 * 9; i++) {
    size_t c = i / 9 % 6;
    float want = c == 1 || c == 2 ? v[i] + v[i + 27] : v[i];
    assert_true(got[i] == want);
  }
  free(v), free(got);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* The slice y = x[:, c0 .. c0 + count) has the backward
 * gx[:, c0 .. c0 + count) += gy (the reference with accumulate, the other
 * way); check it against central differences of L = sum(w * y). */
static void reference_backward_matches_finite_differences(void **state) {
  harness *h = *state;
  const copy_case fwd = {2, 3, 2, 5, 1, 3, 0, 3, false};
  const copy_case bwd = {2, 3, 2, 3, 0, 5, 1, 3, true};
  double x[60], w[36], y[36], gx[60] = {0};
  for (size_t i = 0; i < 60; i++)
    x[i] = harness_uniform(h, -1, 1);
  for (size_t i = 0; i < 36; i++)
    w[i] = harness_uniform(h, -1, 1);
  ref_copy(&bwd, w, gx);
  for (size_t i = 0; i < 60; i++) {
    double loss[2], keep = x[i];
    for (int side = 0; side < 2; side++) {
      x[i] = keep + (side ? 1e-6 : -1e-6);
      ref_copy(&fwd, x, y);
      loss[side] = 0;
      for (size_t j = 0; j < 36; j++)
        loss[side] += w[j] * y[j];
    }
    x[i] = keep;
    double fd = (loss[1] - loss[0]) / 2e-6;
    if (fabs(fd - gx[i]) > 1e-8)
      fail_msg("element %zu: finite difference %g, reference %g", i, fd,
               gx[i]);
  }
}

static void bad_arguments_refused(void **state) {
  harness *h = *state;
  dam_tensor *a = harness_tensor(h, dam_shape4(2, 6, 3, 3), NULL);
  dam_tensor *b = harness_tensor(h, dam_shape4(2, 4, 3, 3), NULL);
  dam_tensor *wide = harness_tensor(h, dam_shape4(2, 4, 3, 4), NULL);
  dam_tensor *batch = harness_tensor(h, dam_shape4(3, 4, 3, 3), NULL);
  dam_tensor *three = harness_tensor(h, dam_shape4(2, 4, 9, 0), NULL);
  uint64_t dispatches = h->ex->stats.dispatches;
  assert_int_equal(dam_k_channel_copy(h->ex, a, 3, b, 0, 4, false),
                   DAM_ESHAPE);
  assert_non_null(strstr(dam_last_error(), "outside src"));
  assert_int_equal(dam_k_channel_copy(h->ex, a, 0, b, 1, 4, false),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_channel_copy(h->ex, a, UINT32_MAX, b, 0, 2, true),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_channel_copy(h->ex, a, 0, wide, 0, 2, false),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_channel_copy(h->ex, batch, 0, b, 0, 2, false),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_channel_copy(h->ex, three, 0, b, 0, 2, false),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_channel_copy(h->ex, NULL, 0, b, 0, 2, false),
                   DAM_EINVAL);
  assert_int_equal(dam_k_channel_copy(h->ex, a, 0, NULL, 0, 2, false),
                   DAM_EINVAL);
  assert_int_equal(dam_k_channel_copy(h->ex, a, 1, a, 2, 2, false),
                   DAM_EINVAL);
  assert_non_null(strstr(dam_last_error(), "overlap"));
  assert_int_equal(dam_k_channel_copy(h->ex, a, 0, b, 4, 0, false), 0);
  const dam_tensor *pair[] = {b, b}, *with_null[] = {b, NULL};
  assert_int_equal(dam_k_channel_concat(h->ex, pair, 2, a), DAM_ESHAPE);
  assert_int_equal(dam_k_channel_concat(h->ex, with_null, 2, a),
                   DAM_EINVAL);
  assert_int_equal(dam_k_channel_concat(h->ex, pair, 1, batch), DAM_ESHAPE);
  dam_tensor *grads[] = {b, NULL};
  const uint32_t fits[] = {4, 2}, too_many[] = {4, 4}, wrong[] = {2, 4};
  assert_int_equal(dam_k_channel_split_acc(h->ex, a, grads, too_many, 2),
                   DAM_ESHAPE);
  assert_int_equal(dam_k_channel_split_acc(h->ex, a, grads, wrong, 2),
                   DAM_ESHAPE);
  assert_int_equal(h->ex->stats.dispatches, dispatches);
  assert_int_equal(dam_k_channel_split_acc(h->ex, a, grads, fits, 2), 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reference_backward_matches_finite_differences),
      cmocka_unit_test(copies),
      cmocka_unit_test(concat_and_backward),
      cmocka_unit_test(within_one_tensor),
      cmocka_unit_test(bad_arguments_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
