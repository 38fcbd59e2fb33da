/* Max, average and global average pooling, forward and backward, against
 * plain C references in double (whose backwards are checked once against
 * central finite differences), on odd shapes; and the refusal of bad
 * arguments. */
#include "harness.h"
#include "error.h"
#include "autograd.h"
#include "nn.h"
#include "pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

typedef struct geom {
  uint32_t n, c, h, w, kernel, stride, pad;
} geom;

/* 3 x 3 windows with padding 1 and stride 1 or 2 take the unrolled
 * shaders (one tile, several, planes smaller than a window); at stride 1
 * with a multiple of 4 elements, the vec4 ones (rows of 4k, 4k + 1, 2, 3
 * floats, planes of an odd count, rows and planes shorter than a vec4);
 * the others the general ones. */
static const geom geoms[] = {
    {1, 1, 7, 7, 3, 1, 1},   {7, 3, 9, 9, 3, 2, 1},
    {1, 16, 13, 13, 3, 1, 1}, {7, 3, 13, 13, 3, 2, 1},
    {7, 1, 9, 7, 2, 2, 0},   {1, 3, 7, 9, 5, 3, 2},
    {7, 16, 7, 7, 3, 2, 1},  {1, 3, 13, 9, 1, 2, 0},
    {7, 3, 6, 11, 4, 1, 3},  {1, 3, 20, 17, 3, 1, 1},
    {7, 3, 9, 9, 3, 1, 0},   {2, 3, 1, 2, 3, 1, 1},
    {1, 2, 2, 1, 3, 2, 1},   {2, 2, 16, 16, 3, 1, 1},
    {1, 2, 28, 28, 3, 2, 1},  {1, 4, 7, 7, 3, 1, 1},
    {7, 4, 14, 14, 3, 1, 1},  {1, 2, 28, 28, 3, 1, 1},
    {7, 4, 5, 3, 3, 1, 1},    {1, 4, 1, 1, 3, 1, 1},
    {2, 2, 3, 2, 3, 1, 1},    {1, 1, 4, 8, 3, 1, 1},
    {7, 4, 9, 5, 3, 1, 1},    {1, 4, 2, 1, 3, 1, 1},
};
#define N_GEOMS (sizeof geoms / sizeof *geoms)

/* Output extent along one axis. */
static uint32_t out_dim(uint32_t in, const dam_pool_args *a) {
  return (in + 2 * a->pad - a->kernel) / a->stride + 1;
}

/* y = pool(x) in double; when `at` is non-NULL it receives, per output,
 * the index within its plane of the first maximum (max only). */
static void ref_pool(const geom *g, const dam_pool_args *a, const double *x,
                     double *y, uint32_t *at) {
  uint32_t oh = out_dim(g->h, a), ow = out_dim(g->w, a);
  for (uint32_t p = 0; p < g->n * g->c; p++)
    for (uint32_t oy = 0; oy < oh; oy++)
      for (uint32_t ox = 0; ox < ow; ox++) {
        double best = -INFINITY, sum = 0;
        uint32_t count = 0, arg = UINT32_MAX;
        for (uint32_t ky = 0; ky < a->kernel; ky++)
          for (uint32_t kx = 0; kx < a->kernel; kx++) {
            int iy = (int)(oy * a->stride + ky) - (int)a->pad;
            int ix = (int)(ox * a->stride + kx) - (int)a->pad;
            if (iy < 0 || ix < 0 || iy >= (int)g->h || ix >= (int)g->w)
              continue;
            uint32_t i = (uint32_t)iy * g->w + (uint32_t)ix;
            double v = x[p * g->h * g->w + i];
            sum += v;
            count++;
            if (arg == UINT32_MAX || v > best) {
              best = v;
              arg = i;
            }
          }
        uint32_t o = (p * oh + oy) * ow + ox;
        y[o] = a->kind == DAM_POOL_MAX ? best : sum / count;
        if (at)
          at[o] = arg;
      }
}

/* gx += d pool / dx applied to gy. */
static void ref_pool_backward(const geom *g, const dam_pool_args *a,
                              const double *x, const double *gy, double *gx) {
  uint32_t oh = out_dim(g->h, a), ow = out_dim(g->w, a);
  uint32_t ny = g->n * g->c * oh * ow;
  double *y = malloc(ny * sizeof *y);
  uint32_t *at = malloc(ny * sizeof *at);
  assert_non_null(y);
  assert_non_null(at);
  ref_pool(g, a, x, y, at);
  for (uint32_t p = 0; p < g->n * g->c; p++)
    for (uint32_t oy = 0; oy < oh; oy++)
      for (uint32_t ox = 0; ox < ow; ox++) {
        uint32_t o = (p * oh + oy) * ow + ox;
        double *plane = gx + p * g->h * g->w;
        if (a->kind == DAM_POOL_MAX) {
          plane[at[o]] += gy[o];
          continue;
        }
        int y0 = (int)(oy * a->stride) - (int)a->pad;
        int x0 = (int)(ox * a->stride) - (int)a->pad;
        int y1 = y0 + (int)a->kernel, x1 = x0 + (int)a->kernel;
        y0 = y0 < 0 ? 0 : y0;
        x0 = x0 < 0 ? 0 : x0;
        y1 = y1 > (int)g->h ? (int)g->h : y1;
        x1 = x1 > (int)g->w ? (int)g->w : x1;
        double share = gy[o] / ((y1 - y0) * (x1 - x0));
        for (int iy = y0; iy < y1; iy++)
          for (int ix = x0; ix < x1; ix++)
            plane[iy * (int)g->w + ix] += share;
      }
  free(y);
  free(at);
}

static double *widen(const float *v, size_t n) {
  double *d = malloc(n * sizeof *d);
  assert_non_null(d);
  for (size_t i = 0; i < n; i++)
    d[i] = v[i];
  return d;
}

static void expect_close(harness *h, const dam_tensor *t, const double *want,
                         const char *what, const geom *g,
                         const dam_pool_args *a) {
  float *got = harness_read(h, t);
  double err = harness_max_rel_err(got, want, t->numel);
  free(got);
  if (err > TOL)
    fail_msg("%s kind %u [%u,%u,%u,%u] k%u s%u p%u: max relative error %g",
             what, a->kind, g->n, g->c, g->h, g->w, a->kernel, a->stride,
             a->pad, err);
}

/* How pool_case's input comes: made, or as a batch norm's output not yet
 * made (dam_tensor.bn_of) without gamma (bn_stats set), or with. */
enum { MADE, BN_INCREASING, BN_AFFINE };

/* A step tensor of shape s whose contents are x normalized per channel
 * with random coefficients, as bn_apply.comp normalizes (a recipe, not
 * made); its values are written to v (which may be x). */
static dam_tensor *pending_bn(harness *h, dam_shape s, const float *x,
                              bool increasing, float *v) {
  uint32_t c = s.dim[1], plane = s.dim[2] * s.dim[3];
  float *coef = harness_random(h, 4 * (size_t)c, -0.5f, 0.5f);
  for (uint32_t k = 0; k < c; k++)
    coef[4 * k + 2] += 1.25f; /* scales in [0.75, 1.75] */
  dam_tensor *y = dam_tensor_new(h->ex, &s, false);
  assert_non_null(y);
  dam_tensor_release(h->ex, y);
  y->bn_of = harness_tensor(h, s, x);
  for (size_t i = 0; i < dam_shape_numel(&s); i++) {
    const float *k = coef + 4 * ((i / plane) % c);
    v[i] = ((x[i] - k[0]) - k[1]) * k[2] + k[3];
  }
  y->bn_coef = harness_tensor(h, dam_shape4(4 * c, 0, 0, 0), coef);
  if (increasing)
    y->bn_stats[0] = y->bn_stats[1] = harness_tensor(h, dam_shape4(c, 0, 0, 0),
                                                     coef);
  free(coef);
  return y;
}

/* Forward and backward of one geometry and kind; `levels` > 0 quantizes
 * the input to that many values so that windows hold ties; `input` as
 * above.  A norm without gamma stays unmade where the windows are 3 x 3,
 * and for the vec4 shaders the planes 16 floats or more (core/pool.c). */
static void pool_case(harness *h, const geom *g, uint32_t kind, int levels,
                      int input) {
  dam_pool_args a = {kind, g->kernel, g->stride, g->pad};
  dam_shape xs = dam_shape4(g->n, g->c, g->h, g->w), ys;
  assert_int_equal(dam_pool2d_shape(&xs, &a, &ys), 0);
  assert_int_equal(ys.dim[2], out_dim(g->h, &a));
  assert_int_equal(ys.dim[3], out_dim(g->w, &a));
  size_t nx = dam_shape_numel(&xs), ny = dam_shape_numel(&ys);
  float *x = harness_random(h, nx, -2, 2);
  if (levels)
    for (size_t i = 0; i < nx; i++)
      x[i] = floorf((x[i] + 2) * levels / 4);
  float *gy = harness_random(h, ny, -1, 1);
  float *gx0 = harness_random(h, nx, -1, 1);
  dam_tensor *tx = input == MADE
                       ? harness_tensor(h, xs, x)
                       : pending_bn(h, xs, x, input == BN_INCREASING, x);
  dam_tensor *ty = harness_tensor(h, ys, NULL);
  dam_tensor *tgy = harness_tensor(h, ys, gy);
  dam_tensor *tgx = harness_tensor(h, xs, gx0);
  assert_int_equal(dam_k_pool2d(h->ex, tx, &a, ty), 0);
  assert_int_equal(dam_k_pool2d_backward(h->ex, tx, tgy, &a, tgx), 0);
  bool flat = g->stride == 1 && nx % 4 == 0;
  bool unmade = input == BN_INCREASING && g->kernel == 3 && g->pad == 1 &&
                g->stride <= 2 && (!flat || g->h * g->w >= 16);
  if (input != MADE && unmade == (tx->mem.block != NULL))
    fail_msg("[%u,%u,%u,%u] s%u: the batch norm's output was %s", g->n, g->c,
             g->h, g->w, g->stride, unmade ? "made" : "not made");

  double *dx = widen(x, nx), *dgy = widen(gy, ny), *dgx = widen(gx0, nx);
  double *dy = malloc(ny * sizeof *dy);
  assert_non_null(dy);
  ref_pool(g, &a, dx, dy, NULL);
  ref_pool_backward(g, &a, dx, dgy, dgx);
  expect_close(h, ty, dy, "pool2d", g, &a);
  expect_close(h, tgx, dgx, "pool2d_backward", g, &a);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x), free(gy), free(gx0), free(dx), free(dgy), free(dgx), free(dy);
}

/* While pools are shared, a second pool of one input with the same
 * arguments is the first's output, without a dispatch, and the backward
 * pools the summed gradient of both readers once (against the reference
 * of gy1 + gy2); other arguments, another input, a released output and
 * the end of sharing each get a pool of their own. */
static void shared_pools(void **state) {
  harness *h = *state;
  const geom g = {2, 3, 6, 6, 3, 1, 1};
  dam_pool_args a = {DAM_POOL_MAX, 3, 1, 1}, avg = {DAM_POOL_AVG, 3, 1, 1};
  dam_shape xs = dam_shape4(g.n, g.c, g.h, g.w);
  size_t n = dam_shape_numel(&xs);
  float *x = harness_random(h, n, -2, 2), *r[2];
  dam_tensor *tx = harness_tensor(h, xs, x), *tr[2];
  dam_tensor *other = harness_tensor(h, xs, x);
  tx->requires_grad = true;
  for (int i = 0; i < 2; i++) {
    r[i] = harness_random(h, n, -1, 1);
    tr[i] = harness_tensor(h, xs, r[i]);
  }
  dam_share share;
  dam_share_begin(h->ex, &share);
  dam_tensor *y = dam_pool2d(h->ex, tx, &a);
  uint64_t dispatches = h->ex->stats.dispatches;
  assert_ptr_equal(dam_pool2d(h->ex, tx, &a), y);
  assert_int_equal(h->ex->stats.dispatches, dispatches);
  assert_ptr_not_equal(dam_pool2d(h->ex, tx, &avg), y);
  assert_ptr_not_equal(dam_pool2d(h->ex, other, &a), y);
  dam_tensor *loss = dam_add(h->ex, dam_dot(h->ex, y, tr[0]),
                             dam_dot(h->ex, dam_pool2d(h->ex, tx, &a), tr[1]));
  assert_int_equal(dam_backward(h->ex, loss), 0);
  double *dx = widen(x, n), *gy = malloc(n * sizeof *gy);
  double *gx = calloc(n, sizeof *gx);
  assert_true(gy && gx);
  for (size_t i = 0; i < n; i++)
    gy[i] = (double)r[0][i] + r[1][i];
  ref_pool_backward(&g, &a, dx, gy, gx);
  expect_close(h, tx->grad, gx, "shared pool2d_backward", &g, &a);
  dam_tensor_release(h->ex, y);
  dam_tensor *again = dam_pool2d(h->ex, tx, &a);
  assert_true(again && again != y);
  dam_share_end(h->ex);
  assert_ptr_not_equal(dam_pool2d(h->ex, tx, &a), again);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x), free(r[0]), free(r[1]), free(dx), free(gy), free(gx);
}

static void max_pool(void **state) {
  for (size_t i = 0; i < N_GEOMS; i++)
    pool_case(*state, &geoms[i], DAM_POOL_MAX, 0, MADE);
}

static void avg_pool(void **state) {
  for (size_t i = 0; i < N_GEOMS; i++)
    pool_case(*state, &geoms[i], DAM_POOL_AVG, 0, MADE);
}

/* Inputs with few distinct values: the gradient must go to the first
 * maximum of each window, in row-major window order. */
static void max_pool_ties(void **state) {
  for (size_t i = 0; i < N_GEOMS; i++)
    pool_case(*state, &geoms[i], DAM_POOL_MAX, 3, MADE);
}

/* Pools of a batch norm's output not yet made, against the references on
 * the normalized values: read through the norm's input (the _bn forwards;
 * max's backward on ties too), or made first where the norm has gamma or
 * the shaders cannot. */
static void through_unmade_batchnorm(void **state) {
  for (size_t i = 0; i < N_GEOMS; i++)
    for (int input = BN_INCREASING; input <= BN_AFFINE; input++) {
      pool_case(*state, &geoms[i], DAM_POOL_MAX, 0, input);
      pool_case(*state, &geoms[i], DAM_POOL_AVG, 0, input);
      pool_case(*state, &geoms[i], DAM_POOL_MAX, 3, input);
    }
}

/* All -inf: PyTorch's winner is the window's first in-bounds element; at
 * stride 2 (the tiled backward) and 1 (the flat one). */
static void max_pool_all_negative_infinity(void **state) {
  harness *h = *state;
  for (uint32_t s = 1; s <= 2; s++) {
    const geom g = {1, 2, 5, 6, 3, s, 1};
    dam_pool_args a = {DAM_POOL_MAX, 3, s, 1};
    dam_shape xs = dam_shape4(1, 2, 5, 6), ys;
    assert_int_equal(dam_pool2d_shape(&xs, &a, &ys), 0);
    size_t nx = 60, ny = dam_shape_numel(&ys);
    float x[60], gy[60], gx0[60] = {0};
    double dx[60], dgy[60], dgx[60] = {0}, dy[60];
    for (size_t i = 0; i < nx; i++)
      dx[i] = x[i] = -INFINITY;
    for (size_t i = 0; i < ny; i++)
      dgy[i] = gy[i] = (float)(i + 1);
    dam_tensor *tx = harness_tensor(h, xs, x);
    dam_tensor *ty = harness_tensor(h, ys, NULL);
    dam_tensor *tgy = harness_tensor(h, ys, gy);
    dam_tensor *tgx = harness_tensor(h, xs, gx0);
    assert_int_equal(dam_k_pool2d(h->ex, tx, &a, ty), 0);
    assert_int_equal(dam_k_pool2d_backward(h->ex, tx, tgy, &a, tgx), 0);
    ref_pool(&g, &a, dx, dy, NULL);
    ref_pool_backward(&g, &a, dx, dgy, dgx);
    float *got = harness_read(h, ty);
    for (size_t i = 0; i < ny; i++)
      assert_true(isinf(got[i]) && got[i] < 0);
    free(got);
    expect_close(h, tgx, dgx, "pool2d_backward", &g, &a);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

/* The reference backward against central differences of the reference
 * forward, for L = sum(gy * pool(x)); distinct inputs keep max smooth. */
static void reference_backward_matches_finite_differences(void **state) {
  harness *h = *state;
  const geom g = {2, 2, 7, 6, 3, 2, 1};
  size_t nx = 2 * 2 * 7 * 6;
  for (uint32_t kind = 0; kind < 2; kind++) {
    dam_pool_args a = {kind, 3, 2, 1};
    size_t ny = 2 * 2 * out_dim(7, &a) * out_dim(6, &a);
    double *x = malloc(nx * sizeof *x), *gx = calloc(nx, sizeof *gx);
    double *gy = malloc(ny * sizeof *gy), *y = malloc(ny * sizeof *y);
    assert_true(x && gx && gy && y);
    for (size_t i = 0; i < nx; i++)
      x[i] = harness_uniform(h, -1, 1) + 3.0 * i / nx;
    for (size_t i = 0; i < ny; i++)
      gy[i] = harness_uniform(h, -1, 1);
    ref_pool_backward(&g, &a, x, gy, gx);
    const double eps = 1e-6;
    for (size_t i = 0; i < nx; i++) {
      double loss[2], keep = x[i];
      for (int side = 0; side < 2; side++) {
        x[i] = keep + (side ? eps : -eps);
        ref_pool(&g, &a, x, y, NULL);
        loss[side] = 0;
        for (size_t o = 0; o < ny; o++)
          loss[side] += gy[o] * y[o];
      }
      x[i] = keep;
      double fd = (loss[1] - loss[0]) / (2 * eps);
      if (fabs(fd - gx[i]) > 1e-6)
        fail_msg("kind %u element %zu: finite difference %g, reference %g",
                 kind, i, fd, gx[i]);
    }
    free(x), free(gx), free(gy), free(y);
  }
}

static void global_avg_pool(void **state) {
  harness *h = *state;
  static const uint32_t shapes[][4] = {
      {1, 1, 7, 7},  {7, 3, 9, 9},  {7, 16, 13, 13},
      {1, 16, 1, 1}, {3, 5, 28, 28},
  };
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    const uint32_t *d = shapes[s];
    uint32_t planes = d[0] * d[1], hw = d[2] * d[3];
    size_t nx = (size_t)planes * hw;
    dam_shape ys = s & 1 ? dam_shape4(d[0], d[1], 1, 1)
                         : (dam_shape){2, {d[0], d[1]}};
    float *x = harness_random(h, nx, -2, 2);
    float *gy = harness_random(h, planes, -1, 1);
    float *gx0 = harness_random(h, nx, -1, 1);
    dam_tensor *tx = harness_tensor(h, dam_shape4(d[0], d[1], d[2], d[3]), x);
    dam_tensor *ty = harness_tensor(h, ys, NULL);
    dam_tensor *tgy = harness_tensor(h, ys, gy);
    dam_tensor *tgx =
        harness_tensor(h, dam_shape4(d[0], d[1], d[2], d[3]), gx0);
    assert_int_equal(dam_k_global_avg_pool(h->ex, tx, ty), 0);
    assert_int_equal(dam_k_global_avg_pool_backward(h->ex, tgy, tgx), 0);
    double *y = calloc(planes, sizeof *y), *gx = malloc(nx * sizeof *gx);
    assert_true(y && gx);
    for (size_t i = 0; i < nx; i++) {
      y[i / hw] += x[i] / hw;
      gx[i] = gx0[i] + (double)gy[i / hw] / hw;
    }
    float *got = harness_read(h, ty);
    double err = harness_max_rel_err(got, y, planes);
    free(got);
    if (err > TOL)
      fail_msg("global_avg_pool shape %zu: max relative error %g", s, err);
    got = harness_read(h, tgx);
    err = harness_max_rel_err(got, gx, nx);
    free(got);
    if (err > TOL)
      fail_msg("global_avg_pool_backward shape %zu: error %g", s, err);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
    free(x), free(gy), free(gx0), free(y), free(gx);
  }
}

static void bad_arguments_refused(void **state) {
  harness *h = *state;
  dam_tensor *x = harness_tensor(h, dam_shape4(2, 3, 7, 7), NULL);
  dam_tensor *y = harness_tensor(h, dam_shape4(2, 3, 4, 4), NULL);
  dam_tensor *flat = harness_tensor(h, dam_shape4(2, 3, 0, 0), NULL);
  dam_tensor *big = harness_tensor(h, dam_shape4(2, 3, 7, 8), NULL);
  dam_pool_args ok = {DAM_POOL_MAX, 3, 2, 1};
  const dam_pool_args bad[] = {
      {DAM_POOL_MAX, 0, 1, 0}, {DAM_POOL_AVG, 3, 0, 1},
      {DAM_POOL_MAX, 3, 1, 3}, {DAM_POOL_AVG, 9, 1, 0}, {7, 3, 2, 1},
  };
  dam_shape s;
  uint64_t dispatches = h->ex->stats.dispatches;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(dam_pool2d_shape(&x->shape, &bad[i], &s), DAM_EINVAL);
    assert_int_equal(dam_k_pool2d(h->ex, x, &bad[i], y), DAM_EINVAL);
    assert_true(dam_last_error()[0] != '\0');
  }
  assert_int_equal(dam_pool2d_shape(&flat->shape, &ok, &s), DAM_ESHAPE);
  assert_int_equal(dam_k_pool2d(h->ex, x, &ok, big), DAM_ESHAPE);
  assert_non_null(strstr(dam_last_error(), "expected [2, 3, 4, 4]"));
  assert_int_equal(dam_k_pool2d(h->ex, x, &ok, NULL), DAM_EINVAL);
  assert_int_equal(dam_k_pool2d(h->ex, x, NULL, y), DAM_EINVAL);
  assert_int_equal(dam_k_pool2d_backward(h->ex, x, big, &ok, x), DAM_ESHAPE);
  assert_int_equal(dam_k_pool2d_backward(h->ex, x, y, &ok, big), DAM_ESHAPE);
  assert_int_equal(dam_k_pool2d_backward(h->ex, x, y, &ok, NULL), DAM_EINVAL);
  assert_int_equal(dam_k_global_avg_pool(h->ex, x, y), DAM_ESHAPE);
  assert_int_equal(dam_k_global_avg_pool(h->ex, flat, flat), DAM_ESHAPE);
  assert_int_equal(dam_k_global_avg_pool_backward(h->ex, y, x), DAM_ESHAPE);
  assert_int_equal(dam_k_global_avg_pool_backward(h->ex, NULL, x),
                   DAM_EINVAL);
  assert_int_equal(h->ex->stats.dispatches, dispatches);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reference_backward_matches_finite_differences),
      cmocka_unit_test(max_pool),
      cmocka_unit_test(shared_pools),
      cmocka_unit_test(avg_pool),
      cmocka_unit_test(max_pool_ties),
      cmocka_unit_test(through_unmade_batchnorm),
      cmocka_unit_test(max_pool_all_negative_infinity),
      cmocka_unit_test(global_avg_pool),
      cmocka_unit_test(bad_arguments_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
