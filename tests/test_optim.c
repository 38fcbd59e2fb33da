/* Optimizer kernels against double-precision C references: SGD (DHA form,
 * with and without Nesterov) and Adam over several steps, dot products and
 * norms over sets of up to 100 tensors, clipping; a whole DHA weight step
 * over 100 tensors that needs no host wait; refused arguments. */
#include "harness.h"
#include "kernel_util.h"
#include "error.h"
#include "kernels.h"
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOL 1e-4

static const uint32_t sizes[] = {1, 37, 4099, 300001};
#define N_SIZES (sizeof sizes / sizeof *sizes)

/* Largest |a - b| over max(|b|, floor), floor a fraction of the largest
 * |b| so that elements near zero are judged at the tensor's scale. */
static double scaled_err(const float *a, const double *b, size_t n) {
  double big = 0, worst = 0;
  for (size_t i = 0; i < n; i++)
    big = fabs(b[i]) > big ? fabs(b[i]) : big;
  double floor = big > 0 ? 1e-3 * big : 1e-30;
  for (size_t i = 0; i < n; i++) {
    double e =
        fabs((double)a[i] - b[i]) / (fabs(b[i]) > floor ? fabs(b[i]) : floor);
    if (!(e <= worst))
      worst = isnan(e) ? INFINITY : e;
  }
  return worst;
}

static double *to_double(const float *v, size_t n) {
  double *d = malloc(n * sizeof *d);
  assert_non_null(d);
  for (size_t i = 0; i < n; i++)
    d[i] = v[i];
  return d;
}

/* Error of the updated w against the reference, over the size of the
 * reference's update (w itself is stored in float, so its rounding stays
 * far below the update). */
static double step_err(const float *got, const float *w0, const double *want,
                       size_t n) {
  double step = 0, worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(want[i] - w0[i]), e = fabs((double)got[i] - want[i]);
    step = d > step ? d : step;
    if (!(e <= worst))
      worst = isnan(e) ? INFINITY : e;
  }
  return worst / (step > 0 ? step : 1e-30);
}

static void sgd_against_reference(void **state) {
  harness *h = *state;
  const float lr = 0.1f, wd = 0.05f, mu = 0.9f;
  for (int nesterov = 0; nesterov < 2; nesterov++)
    for (size_t s = 0; s < N_SIZES; s++) {
      uint32_t n = sizes[s];
      dam_shape sh = dam_shape4(n, 0, 0, 0);
      float *w0 = harness_random(h, n, -1, 1);
      float *b0 = harness_random(h, n, -1, 1);
      double *w = to_double(w0, n), *buf = to_double(b0, n);
      dam_tensor *tw = harness_tensor(h, sh, w0);
      dam_tensor *tb = harness_tensor(h, sh, b0);
      for (int step = 0; step < 3; step++) {
        float *g = harness_random(h, n, -1, 1);
        dam_tensor *tg = harness_tensor(h, sh, g);
        assert_int_equal(dam_k_sgd(h->ex, tw, tg, tb, lr, wd, mu, nesterov), 0);
        for (uint32_t i = 0; i < n; i++) {
          double d = g[i] + (double)wd * w[i];
          buf[i] = mu * buf[i] + d;
          w[i] -= lr * (nesterov ? d + mu * buf[i] : buf[i]);
        }
        free(g);
      }
      float *gw = harness_read(h, tw), *gb = harness_read(h, tb);
      double ew = step_err(gw, w0, w, n), eb = scaled_err(gb, buf, n);
      if (ew > TOL || eb > TOL)
        fail_msg("n=%u nesterov=%d: step error %g, buffer error %g", n,
                 nesterov, ew, eb);
      free(gw), free(gb), free(w0), free(b0), free(w), free(buf);
      assert_int_equal(dam_exec_end_step(h->ex), 0);
    }
}

static void adam_against_reference(void **state) {
  harness *h = *state;
  static const dam_adam_args args[] = {
      {0.01f, 0.5f, 0.999f, 1e-8f, 1e-3f, 0}, /* DHA's architecture step */
      {0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 0},
  };
  for (size_t a = 0; a < 2; a++)
    for (size_t s = 0; s < N_SIZES; s++) {
      uint32_t n = sizes[s];
      dam_shape sh = dam_shape4(n, 0, 0, 0);
      float *w0 = harness_random(h, n, -1, 1);
      double *w = to_double(w0, n), *m = calloc(n, sizeof *m);
      double *v = calloc(n, sizeof *v);
      dam_tensor *tw = harness_tensor(h, sh, w0);
      dam_tensor *tm = harness_tensor(h, sh, NULL);
      dam_tensor *tv = harness_tensor(h, sh, NULL);
      dam_adam_args aa = args[a];
      double b1 = aa.beta1, b2 = aa.beta2;
      assert_int_equal(dam_k_fill(h->ex, tm, 0.0f), 0);
      assert_int_equal(dam_k_fill(h->ex, tv, 0.0f), 0);
      for (aa.step = 1; aa.step <= 4; aa.step++) {
        float *g = harness_random(h, n, -1, 1);
        dam_tensor *tg = harness_tensor(h, sh, g);
        assert_int_equal(dam_k_adam(h->ex, tw, tg, tm, tv, &aa), 0);
        for (uint32_t i = 0; i < n; i++) {
          double gi = g[i] + (double)aa.wd * w[i];
          m[i] = b1 * m[i] + (1 - b1) * gi;
          v[i] = b2 * v[i] + (1 - b2) * gi * gi;
          double mh = m[i] / (1 - pow(b1, aa.step));
          double vh = v[i] / (1 - pow(b2, aa.step));
          w[i] -= aa.lr * mh / (sqrt(vh) + aa.eps);
        }
        free(g);
      }
      float *gw = harness_read(h, tw), *gm = harness_read(h, tm);
      float *gv = harness_read(h, tv);
      double ew = step_err(gw, w0, w, n), em = scaled_err(gm, m, n);
      double ev = scaled_err(gv, v, n);
      if (ew > TOL || em > TOL || ev > TOL)
        fail_msg("n=%u betas (%g, %g): error of the step %g, m %g, v %g", n, b1,
                 b2, ew, em, ev);
      free(gw), free(gm), free(gv), free(w0), free(w), free(m), free(v);
      assert_int_equal(dam_exec_end_step(h->ex), 0);
    }
}

/* A set of n tensors of assorted sizes (some large) with random data kept
 * on the host in h_data[i]. */
typedef struct tensor_set {
  uint32_t n;
  dam_tensor **t;
  float **data;
} tensor_set;

static uint32_t set_size(uint32_t n, uint32_t i) {
  if (n == 1)
    return i ? 1 : 300001;
  return i % 25 == 7 ? 70001 + i : 1 + (i * 7919u) % 5000u;
}

/* With `every` > 0, tensors i % every == 0 are persistent, so the set
 * spans two pools' buffers. */
static tensor_set make_set_in(harness *h, uint32_t n, float lo, float hi,
                              uint32_t every) {
  tensor_set s = {n, calloc(n + 1, sizeof *s.t), calloc(n + 1, sizeof *s.data)};
  for (uint32_t i = 0; i < n; i++) {
    dam_shape shape = dam_shape4(set_size(n, i), 0, 0, 0);
    s.data[i] = harness_random(h, shape.dim[0], lo, hi);
    if (every && i % every == 0) {
      s.t[i] = dam_tensor_new(h->ex, &shape, true);
      assert_non_null(s.t[i]);
      assert_int_equal(dam_tensor_upload(h->ex, s.t[i], s.data[i]), 0);
    } else {
      s.t[i] = harness_tensor(h, shape, s.data[i]);
    }
  }
  return s;
}

static tensor_set make_set(harness *h, uint32_t n, float lo, float hi) {
  return make_set_in(h, n, lo, hi, 0);
}

static void free_set(tensor_set *s) {
  for (uint32_t i = 0; i < s->n; i++)
    free(s->data[i]);
  free(s->t), free(s->data);
}

/* <a, b> over the sets in double, and the sum of |a_j b_j| (its scale). */
static double ref_dot(const tensor_set *a, const tensor_set *b, double *scale) {
  double d = 0, sc = 0;
  for (uint32_t i = 0; i < a->n; i++)
    for (uint32_t j = 0; j < a->t[i]->numel; j++) {
      double p = (double)a->data[i][j] * b->data[i][j];
      d += p;
      sc += fabs(p);
    }
  *scale = sc;
  return d;
}

/* Sets of 0, 1, 3 and 100 pairs, and of 100 whose tensors lie in two
 * pools (a persistent tensor every third in a, every fifth in b: four
 * groups of shared buffers). */
static void dot_sets_and_norm(void **state) {
  harness *h = *state;
  static const uint32_t counts[] = {0, 1, 3, 100, 100};
  for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
    uint32_t n = counts[c], mixed = c == 4, groups = mixed ? 4 : 1;
    tensor_set a = make_set_in(h, n, -1, 1, mixed ? 3 : 0);
    tensor_set b = make_set_in(h, n, -1, 1, mixed ? 5 : 0);
    float seven = 7.0f;
    dam_tensor *dot = harness_tensor(h, dam_shape4(1, 0, 0, 0), &seven);
    dam_tensor *norm = harness_tensor(h, dam_shape4(1, 0, 0, 0), &seven);
    dam_exec_stats before = h->ex->stats;
    assert_int_equal(dam_k_dot_sets(h->ex, (const dam_tensor *const *)a.t,
                                    (const dam_tensor *const *)b.t, n, dot),
                     0);
    uint64_t barriers = h->ex->stats.barriers - before.barriers;
    uint64_t dispatches = h->ex->stats.dispatches - before.dispatches;
    assert_int_equal(
        dam_k_grad_norm(h->ex, (const dam_tensor *const *)a.t, n, norm), 0);
    assert_int_equal(h->ex->stats.waits, before.waits);
    float got_dot, got_norm;
    assert_int_equal(dam_tensor_download(h->ex, dot, &got_dot), 0);
    assert_int_equal(dam_tensor_download(h->ex, norm, &got_norm), 0);
    double scale, sq_scale;
    double want_dot = ref_dot(&a, &b, &scale);
    double want_norm = sqrt(ref_dot(&a, &a, &sq_scale));
    if (fabs(got_dot - want_dot) > TOL * scale + 1e-6 ||
        fabs(got_norm - want_norm) > TOL * want_norm + 1e-6)
      fail_msg("%u tensors: dot %.9g vs %.9g, norm %.9g vs %.9g", n, got_dot,
               want_dot, got_norm, want_norm);
    /* one partial pass per group of tensors sharing their buffers, free
     * of barriers among themselves (past the uploads' one), then at most
     * two more passes (three for a GPU's finer parts) */
    uint32_t more = dam__k_cpu_device(h->ex) ? 2 : 3;
    if (n > 1 && (barriers > 1 + more || dispatches > groups + more))
      fail_msg("%u tensors: %llu dispatches, %llu barriers", n,
               (unsigned long long)dispatches, (unsigned long long)barriers);
    free_set(&a), free_set(&b);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

/* More tensors than one clipping dispatch takes. */
#define CLIPPED 20

static void clip_by_norm(void **state) {
  harness *h = *state;
  static const double ratios[] = {0.25, 4.0}; /* max_norm / norm */
  for (size_t r = 0; r < 2; r++) {
    tensor_set g = make_set(h, CLIPPED, -1, 1);
    dam_tensor *norm = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
    double scale, want_norm = sqrt(ref_dot(&g, &g, &scale));
    float max_norm = (float)(ratios[r] * want_norm);
    assert_int_equal(
        dam_k_grad_norm(h->ex, (const dam_tensor *const *)g.t, CLIPPED, norm),
        0);
    assert_int_equal(dam_k_clip_by_norm(h->ex, g.t, CLIPPED, norm, max_norm),
                     0);
    double f = max_norm / (want_norm + 1e-6);
    f = f < 1 ? f : 1;
    for (uint32_t i = 0; i < CLIPPED; i++) {
      size_t n = g.t[i]->numel;
      double *want = malloc(n * sizeof *want);
      for (size_t j = 0; j < n; j++)
        want[j] = g.data[i][j] * f;
      float *got = harness_read(h, g.t[i]);
      double e = scaled_err(got, want, n);
      if (e > TOL)
        fail_msg("ratio %g, tensor %u: error %g", ratios[r], i, e);
      free(got), free(want);
    }
    free_set(&g);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

/* The fused weight step equals clip + one dam_k_sgd per tensor bit for
 * bit, over sizes from 1 to one long enough to be strided (over 4096 * 128
 * elements), its tensors in two groups of shared buffers; and without a
 * norm it equals plain dam_k_sgd (Nesterov). */
static void sgd_sets_equals_clip_then_sgd(void **state) {
  harness *h = *state;
  enum { N = 11 };
  static const uint32_t lens[N] = {1,   5,    300, 600000, 129, 128,
                                    77,  4000, 1,   64,     5000};
  const dam_sgd_args args[2] = {{0.025f, 3e-4f, 0.9f, false},
                                {0.1f, 1e-3f, 0.5f, true}};
  for (int clip = 1; clip >= 0; clip--) {
    dam_tensor *w[2][N], *b[2][N], *g[2][N];
    float *data[3][N];
    for (uint32_t i = 0; i < N; i++) {
      data[0][i] = harness_random(h, lens[i], -1, 1);
      data[1][i] = harness_random(h, lens[i], -0.5f, 0.5f);
      data[2][i] = harness_random(h, lens[i], -0.1f, 0.1f);
      for (int k = 0; k < 2; k++) {
        dam_shape s = dam_shape4(lens[i], 0, 0, 0);
        if (k == 1 && i % 3 == 0) {
          w[k][i] = dam_tensor_new(h->ex, &s, true);
          assert_non_null(w[k][i]);
          assert_int_equal(dam_tensor_upload(h->ex, w[k][i], data[0][i]), 0);
        } else {
          w[k][i] = harness_tensor(h, s, data[0][i]);
        }
        g[k][i] = harness_tensor(h, s, data[1][i]);
        b[k][i] = harness_tensor(h, s, data[2][i]);
      }
    }
    const dam_sgd_args *a = &args[clip ? 0 : 1];
    dam_tensor *norm = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
    assert_int_equal(dam_k_grad_norm(h->ex, (const dam_tensor *const *)g[0],
                                     N, norm), 0);
    if (clip)
      assert_int_equal(dam_k_clip_by_norm(h->ex, g[0], N, norm, 1.0f), 0);
    for (uint32_t i = 0; i < N; i++)
      assert_int_equal(dam_k_sgd(h->ex, w[0][i], g[0][i], b[0][i], a->lr,
                                 a->wd, a->momentum, a->nesterov), 0);
    assert_int_equal(dam_k_sgd_sets(h->ex, w[1], g[1], b[1], N,
                                    clip ? norm : NULL, 1.0f, a), 0);
    for (uint32_t i = 0; i < N; i++) {
      float *w0 = harness_read(h, w[0][i]), *w1 = harness_read(h, w[1][i]);
      float *b0 = harness_read(h, b[0][i]), *b1 = harness_read(h, b[1][i]);
      float *g1 = harness_read(h, g[1][i]);
      size_t bytes = lens[i] * sizeof(float);
      if (memcmp(w0, w1, bytes) || memcmp(b0, b1, bytes))
        fail_msg("clip %d, tensor %u: fused step differs (by up to %g, %g)",
                 clip, i, max_abs_diff(w1, w0, lens[i]),
                 max_abs_diff(b1, b0, lens[i]));
      if (memcmp(g1, data[1][i], bytes))
        fail_msg("clip %d, tensor %u: the gradient was changed", clip, i);
      free(w0), free(w1), free(b0), free(b1), free(g1);
      for (int k = 0; k < 3; k++)
        free(data[k][i]);
    }
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* DESIGN §6 steps 4-6 on 100 tensors: clip the gradients to 5, the weight
 * step, then the hypergradient dots <g_val, buf> and <g_val, w>, recorded
 * without a single host wait; checked against the reference. */
static void dha_step_without_host_wait(void **state) {
  harness *h = *state;
  enum { N = 100 };
  const float lr = 0.025f, wd = 3e-4f, mu = 0.9f, max_norm = 5.0f;
  tensor_set w = make_set(h, N, -1, 1), g = make_set(h, N, -0.1f, 0.1f);
  tensor_set buf = make_set(h, N, -0.1f, 0.1f);
  tensor_set gv = make_set(h, N, -1, 1);
  dam_tensor *norm = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
  dam_tensor *hg_lr = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
  dam_tensor *hg_wd = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
  assert_int_equal(dam_exec_wait(h->ex), 0);
  dam_exec_stats before = h->ex->stats;
  double t0 = now_ms();
  const dam_tensor *const *cg = (const dam_tensor *const *)g.t;
  const dam_tensor *const *cv = (const dam_tensor *const *)gv.t;
  assert_int_equal(dam_k_grad_norm(h->ex, cg, N, norm), 0);
  assert_int_equal(dam_k_clip_by_norm(h->ex, g.t, N, norm, max_norm), 0);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(
        dam_k_sgd(h->ex, w.t[i], g.t[i], buf.t[i], lr, wd, mu, false), 0);
  assert_int_equal(
      dam_k_dot_sets(h->ex, cv, (const dam_tensor *const *)buf.t, N, hg_lr), 0);
  assert_int_equal(
      dam_k_dot_sets(h->ex, cv, (const dam_tensor *const *)w.t, N, hg_wd), 0);
  double t_record = now_ms() - t0;
  assert_int_equal(h->ex->stats.waits, before.waits);
  float got[2];
  assert_int_equal(dam_tensor_download(h->ex, hg_lr, &got[0]), 0);
  assert_int_equal(dam_tensor_download(h->ex, hg_wd, &got[1]), 0);
  double t_total = now_ms() - t0;
  dam_exec_stats after = h->ex->stats;
  print_message("DHA weight step, %d tensors: %llu dispatches, %llu "
                "barriers, %llu submit(s); recorded in %.2f ms, done in "
                "%.2f ms\n",
                N, (unsigned long long)(after.dispatches - before.dispatches),
                (unsigned long long)(after.barriers - before.barriers),
                (unsigned long long)(after.submits - before.submits), t_record,
                t_total);
  double scale, sq = ref_dot(&g, &g, &scale);
  double f = max_norm / (sqrt(sq) + 1e-6), want[2] = {0, 0}, mag[2] = {0, 0};
  f = f < 1 ? f : 1;
  for (uint32_t i = 0; i < N; i++)
    for (uint32_t j = 0; j < w.t[i]->numel; j++) {
      double wi = w.data[i][j];
      double b = mu * buf.data[i][j] + (g.data[i][j] * f + wd * wi);
      wi -= lr * b;
      want[0] += gv.data[i][j] * b;
      want[1] += gv.data[i][j] * wi;
      mag[0] += fabs(gv.data[i][j] * b);
      mag[1] += fabs(gv.data[i][j] * wi);
    }
  for (int k = 0; k < 2; k++)
    if (fabs(got[k] - want[k]) > TOL * mag[k])
      fail_msg("hypergradient dot %d: %.9g vs %.9g", k, got[k], want[k]);
  free_set(&w), free_set(&g), free_set(&buf), free_set(&gv);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void bad_arguments_refused(void **state) {
  harness *h = *state;
  dam_exec *ex = h->ex;
  dam_tensor *a = harness_tensor(h, dam_shape4(10, 0, 0, 0), NULL);
  dam_tensor *b = harness_tensor(h, dam_shape4(11, 0, 0, 0), NULL);
  dam_tensor *one = harness_tensor(h, dam_shape4(1, 0, 0, 0), NULL);
  dam_adam_args good = {3e-4f, 0.5f, 0.999f, 1e-8f, 1e-3f, 1};
  dam_adam_args step0 = good, beta1 = good;
  step0.step = 0;
  beta1.beta2 = 1.0f;
  const dam_tensor *sa[] = {a, b}, *sb[] = {a, a}, *sn[] = {a, NULL};
  dam_tensor *ga[] = {a, NULL};
  uint64_t dispatches = ex->stats.dispatches;
  harness_expect_refused(dam_k_sgd(ex, a, b, a, 0.1f, 0, 0.9f, false),
                         DAM_ESHAPE, "sgd");
  harness_expect_refused(dam_k_sgd(ex, a, a, NULL, 0.1f, 0, 0.9f, false),
                         DAM_EINVAL, "sgd");
  harness_expect_refused(dam_k_adam(ex, a, a, a, b, &good), DAM_ESHAPE, "adam");
  harness_expect_refused(dam_k_adam(ex, a, a, a, a, NULL), DAM_EINVAL, "adam");
  harness_expect_refused(dam_k_adam(ex, a, a, a, a, &step0), DAM_EINVAL,
                         "adam");
  harness_expect_refused(dam_k_adam(ex, a, a, a, a, &beta1), DAM_EINVAL,
                         "adam");
  harness_expect_refused(dam_k_dot_sets(ex, sa, sb, 2, one), DAM_ESHAPE,
                         "pair 1");
  harness_expect_refused(dam_k_dot_sets(ex, sa, sn, 2, one), DAM_EINVAL,
                         "dot_sets");
  harness_expect_refused(dam_k_dot_sets(ex, sb, sb, 2, a), DAM_ESHAPE,
                         "dot_sets");
  harness_expect_refused(dam_k_dot_sets(ex, NULL, sb, 2, one), DAM_EINVAL,
                         "dot_sets");
  harness_expect_refused(dam_k_grad_norm(ex, sb, 2, NULL), DAM_EINVAL,
                         "grad_norm");
  harness_expect_refused(dam_k_clip_by_norm(ex, ga, 2, one, 5.0f), DAM_EINVAL,
                         "gradient 1");
  dam_sgd_args sgd = {0.1f, 0, 0.9f, false};
  harness_expect_refused(dam_k_sgd_sets(ex, ga, ga, ga, 1, one, 0.0f, &sgd),
                         DAM_EINVAL, "max_norm");
  harness_expect_refused(dam_k_sgd_sets(ex, ga, ga, ga, 1, NULL, 1.0f, NULL),
                         DAM_EINVAL, "NULL");
  harness_expect_refused(dam_k_clip_by_norm(ex, ga, 1, one, 0.0f), DAM_EINVAL,
                         "clip_by_norm");
  harness_expect_refused(dam_k_clip_by_norm(ex, ga, 1, one, NAN), DAM_EINVAL,
                         "clip_by_norm");
  harness_expect_refused(dam_k_clip_by_norm(ex, ga, 1, a, 5.0f), DAM_ESHAPE,
                         "clip_by_norm");
  assert_int_equal(ex->stats.dispatches, dispatches);
  assert_int_equal(dam_exec_end_step(ex), 0);
}

/* The set kernels split tensors finer on GPUs (the device already open:
 * its kernels' paths alone change). */
static bool paths_were_discrete;

static int gpu_paths(void **state) {
  harness *h = *state;
  paths_were_discrete = h->dev->discrete_paths;
  h->dev->discrete_paths = true;
  return 0;
}

static int own_paths(void **state) {
  ((harness *)*state)->dev->discrete_paths = paths_were_discrete;
  return 0;
}

#define ON_GPU_PATHS(f) cmocka_unit_test_setup_teardown(f, gpu_paths, own_paths)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sgd_against_reference),
      cmocka_unit_test(adam_against_reference),
      cmocka_unit_test(dot_sets_and_norm),
      cmocka_unit_test(clip_by_norm),
      cmocka_unit_test(sgd_sets_equals_clip_then_sgd),
      cmocka_unit_test(dha_step_without_host_wait),
      cmocka_unit_test(bad_arguments_refused),
      ON_GPU_PATHS(dot_sets_and_norm),
      ON_GPU_PATHS(clip_by_norm),
      ON_GPU_PATHS(sgd_sets_equals_clip_then_sgd),
      ON_GPU_PATHS(dha_step_without_host_wait),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
