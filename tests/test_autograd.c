/* The tape: a small composite graph's gradients against the analytic ones
 * and against central finite differences of the device forward; the
 * needs-grad mask; accumulation across backward calls; a repeated relu
 * shares its node; released output gradients and outputs change no bit of
 * the result and lower the peak; a closed forward scope releases exactly
 * the intermediates no backward reads, with the same effect. */
#include "harness.h"
#include "autograd.h"
#include "error.h"
#include "kernels.h"
#include "nn.h"

#include <math.h>
#include <stdlib.h>

#define N 37

/* L = sum(relu(x*w + 0.5*x)) + dot(x, c) + sum(relu(w)) */
static dam_tensor *graph(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                         dam_tensor *c) {
  dam_tensor *u = dam_add(ex, dam_mul(ex, x, w), dam_scale(ex, x, 0.5f));
  dam_tensor *l = dam_add(ex, dam_sum(ex, dam_relu(ex, u)), dam_dot(ex, x, c));
  return dam_add(ex, l, dam_sum(ex, dam_relu(ex, w)));
}

static float forward_value(harness *h, const float *x, const float *w,
                           const float *c) {
  dam_shape s = dam_shape4(N, 0, 0, 0);
  dam_tensor *l = graph(h->ex, harness_tensor(h, s, x), harness_tensor(h, s, w),
                        harness_tensor(h, s, c));
  assert_non_null(l);
  float v;
  assert_int_equal(dam_tensor_download(h->ex, l, &v), 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return v;
}

/* Inputs kept away from relu's kink so finite differences are smooth. */
static void draw(harness *h, float *x, float *w, float *c) {
  for (int i = 0; i < N; i++) {
    do {
      x[i] = harness_uniform(h, -2, 2);
      w[i] = harness_uniform(h, -2, 2);
    } while (fabsf(x[i] * (w[i] + 0.5f)) < 0.2f || fabsf(w[i]) < 0.1f);
    c[i] = harness_uniform(h, -1, 1);
  }
}

static void composite_graph_gradients(void **state) {
  harness *h = *state;
  float v[3][N];
  float *x = v[0], *w = v[1], *c = v[2];
  draw(h, x, w, c);
  dam_shape s = dam_shape4(N, 0, 0, 0);
  dam_tensor *t[3];
  for (int k = 0; k < 3; k++) {
    t[k] = harness_tensor(h, s, v[k]);
    t[k]->requires_grad = true;
  }
  dam_tensor *loss = graph(h->ex, t[0], t[1], t[2]);
  assert_non_null(loss);
  assert_true(loss->requires_grad);
  assert_int_equal(dam_backward(h->ex, loss), 0);
  float *g[3];
  for (int k = 0; k < 3; k++)
    g[k] = harness_read(h, t[k]->grad);
  assert_int_equal(dam_exec_end_step(h->ex), 0);

  double exact[3][N];
  for (int i = 0; i < N; i++) {
    double on = x[i] * (w[i] + 0.5) > 0;
    exact[0][i] = on * (w[i] + 0.5) + c[i];
    exact[1][i] = on * x[i] + (w[i] > 0);
    exact[2][i] = x[i];
  }
  for (int k = 0; k < 3; k++) {
    double e = harness_max_rel_err(g[k], exact[k], N);
    if (e > 1e-5)
      fail_msg("input %d: gradient off the analytic one by %g", k, e);
  }

  const float eps = 1e-2f;
  for (int k = 0; k < 3; k++) {
    double fd[N];
    for (int i = 0; i < N; i++) {
      float keep = v[k][i];
      v[k][i] = keep + eps;
      double up = forward_value(h, x, w, c);
      v[k][i] = keep - eps;
      double down = forward_value(h, x, w, c);
      v[k][i] = keep;
      fd[i] = (up - down) / (2.0 * eps);
    }
    double e = harness_max_rel_err(g[k], fd, N);
    if (e > 5e-3)
      fail_msg("input %d: gradient off finite differences by %g", k, e);
    free(g[k]);
  }
}

static void needs_grad_mask(void **state) {
  harness *h = *state;
  dam_shape s = dam_shape4(N, 0, 0, 0);
  float x[N], w[N], c[N];
  draw(h, x, w, c);
  dam_tensor *tx = harness_tensor(h, s, x), *tw = harness_tensor(h, s, w);
  tx->requires_grad = true;
  dam_tensor *loss = dam_dot(h->ex, dam_relu(h->ex, tx), tw);
  assert_int_equal(dam_backward(h->ex, loss), 0);
  assert_non_null(tx->grad);
  assert_null(tw->grad); /* not requested: never computed */
  assert_int_equal(h->ex->tape->n, 0);
  /* Nothing recorded when no input needs a gradient. */
  dam_tensor *plain = dam_relu(h->ex, tw);
  assert_non_null(plain);
  assert_false(plain->requires_grad);
  assert_int_equal(h->ex->tape->n, 0);
  assert_int_equal(dam_backward(h->ex, plain), DAM_EINVAL);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void persistent_gradients_accumulate(void **state) {
  harness *h = *state;
  dam_shape s = dam_shape4(N, 0, 0, 0);
  dam_tensor *p = dam_param_new(h->ex, &s);
  assert_non_null(p);
  float c[N], ones[N];
  for (int i = 0; i < N; i++) {
    c[i] = (float)i - 10.0f;
    ones[i] = 1.0f;
  }
  assert_int_equal(dam_tensor_upload(h->ex, p, ones), 0);
  for (int step = 0; step < 3; step++) {
    dam_tensor *loss = dam_dot(h->ex, p, harness_tensor(h, s, c));
    assert_int_equal(dam_backward(h->ex, loss), 0);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
  float *g = harness_read(h, p->grad);
  for (int i = 0; i < N; i++)
    assert_true(g[i] == 3.0f * c[i]);
  free(g);
  dam_tensor_free(h->ex, p);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* A second relu of one tensor is the first one's node, and its gradient
 * gathers both uses; once an accumulating node updates the tensor in
 * place, a relu of it is computed afresh. */
static void repeated_relu_shared(void **state) {
  harness *h = *state;
  dam_shape s = dam_shape4(N, 0, 0, 0), one = dam_shape4(1, 0, 0, 0);
  float x[N], c[N], d[N], two = 2.0f;
  draw(h, x, c, d);
  dam_tensor *tx = harness_tensor(h, s, x);
  tx->requires_grad = true;
  dam_tensor *r = dam_relu(h->ex, tx);
  assert_ptr_equal(dam_relu(h->ex, tx), r);
  dam_tensor *loss = dam_add(h->ex, dam_dot(h->ex, r, harness_tensor(h, s, c)),
                             dam_dot(h->ex, dam_relu(h->ex, tx),
                                     harness_tensor(h, s, d)));
  assert_int_equal(dam_backward(h->ex, loss), 0);
  float *g = harness_read(h, tx->grad);
  for (int i = 0; i < N; i++)
    assert_true(g[i] == (x[i] > 0 ? c[i] + d[i] : 0.0f));
  free(g);

  dam_tensor *k = harness_tensor(h, one, &two);
  dam_tensor *sum = dam_scale_add(h->ex, NULL, tx, k);
  dam_tensor *before = dam_relu(h->ex, sum);
  assert_ptr_equal(dam_scale_acc(h->ex, sum, tx, k), sum);
  dam_tensor *after = dam_relu(h->ex, sum);
  assert_non_null(after);
  assert_ptr_not_equal(after, before);
  float *y = harness_read(h, after);
  for (int i = 0; i < N; i++)
    assert_true(y[i] == (x[i] > 0 ? 4.0f * x[i] : 0.0f));
  free(y);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

#define NET_LEAVES 8

/* A small CNN's loss; leaves: x, conv weights, BN gamma/beta, linear. */
static dam_tensor *net(dam_exec *ex, dam_tensor *const *t,
                       dam_tensor *labels, dam_tensor **mid) {
  static const dam_conv2d_geom g = {{1, 1}, {1, 1}, {1, 1}, 1};
  static const dam_pool_args max = {DAM_POOL_MAX, 3, 2, 1};
  static const dam_bn_args bn = {1e-5f, 0.1f};
  dam_tensor *a = dam_relu(ex, dam_conv2d(ex, t[0], t[1], &g));
  dam_tensor *b = dam_batchnorm(ex, dam_conv2d(ex, a, t[2], &g), t[3], t[4],
                                NULL, NULL, &bn, true);
  dam_tensor *p = dam_pool2d(ex, dam_add(ex, a, b), &max);
  *mid = p;
  dam_tensor *y = dam_linear(ex, dam_global_avg_pool(ex, p), t[5], t[6]);
  dam_tensor *l = dam_softmax_xent(ex, dam_scale(ex, y, 2.0f), labels);
  return dam_dot(ex, l, t[7]);
}

typedef enum release_mode { KEEP_ALL, RELEASE_GRADS, RELEASE_OUTPUTS } release_mode;

/* The leaves' gradients after one backward; *peak: the arena's. */
static void net_grads(harness *h, release_mode mode, const float *const *v,
                      const dam_shape *s, float **g, VkDeviceSize *peak) {
  dam_tensor *t[NET_LEAVES], *mid;
  for (int k = 0; k < NET_LEAVES; k++) {
    t[k] = harness_tensor(h, s[k], v[k]);
    t[k]->requires_grad = k != NET_LEAVES - 1;
  }
  float lab[4] = {0, 3, 1, 2};
  dam_tensor *labels = harness_tensor(h, dam_shape4(4, 0, 0, 0), lab);
  h->ex->arena.bytes_peak = h->ex->arena.bytes_used;
  dam_tensor *loss = net(h->ex, t, labels, &mid);
  assert_non_null(loss);
  float *mid_value = harness_read(h, mid);
  h->ex->no_release = mode == KEEP_ALL;
  assert_int_equal(mode == RELEASE_OUTPUTS
                       ? dam_backward_release(h->ex, loss, &mid, 1)
                       : dam_backward(h->ex, loss),
                   0);
  h->ex->no_release = false;
  if (mode != KEEP_ALL) {
    assert_null(mid->grad);
    assert_null(loss->grad);
  }
  if (mode == RELEASE_OUTPUTS) { /* mid kept, loss released */
    float *again = harness_read(h, mid);
    assert_memory_equal(again, mid_value, mid->numel * sizeof(float));
    free(again);
    assert_null(loss->mem.block);
  }
  free(mid_value);
  for (int k = 0; k < NET_LEAVES - 1; k++)
    g[k] = harness_read(h, t[k]->grad);
  *peak = h->ex->arena.bytes_peak;
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void released_grads_bit_identical(void **state) {
  harness *h = *state;
  const dam_shape s[NET_LEAVES] = {
      dam_shape4(4, 3, 12, 12), dam_shape4(8, 3, 3, 3),
      dam_shape4(8, 8, 3, 3),   dam_shape4(8, 0, 0, 0),
      dam_shape4(8, 0, 0, 0),   dam_shape4(4, 8, 0, 0),
      dam_shape4(4, 0, 0, 0),   dam_shape4(4, 0, 0, 0)};
  float *v[NET_LEAVES], *g[3][NET_LEAVES];
  for (int k = 0; k < NET_LEAVES; k++)
    v[k] = harness_random(h, dam_shape_numel(&s[k]), -1, 1);
  VkDeviceSize peak[3];
  for (int m = KEEP_ALL; m <= RELEASE_OUTPUTS; m++)
    net_grads(h, (release_mode)m, (const float *const *)v, s, g[m],
              &peak[m]);
  for (int k = 0; k < NET_LEAVES - 1; k++)
    for (int m = KEEP_ALL; m <= RELEASE_OUTPUTS; m++) {
      assert_memory_equal(g[KEEP_ALL][k], g[m][k],
                          dam_shape_numel(&s[k]) * sizeof(float));
      if (m > KEEP_ALL)
        free(g[m][k]);
    }
  for (int k = 0; k < NET_LEAVES; k++) {
    free(v[k]);
    if (k < NET_LEAVES - 1)
      free(g[KEEP_ALL][k]);
  }
  if (peak[RELEASE_GRADS] >= peak[KEEP_ALL] ||
      peak[RELEASE_OUTPUTS] > peak[RELEASE_GRADS])
    fail_msg("arena peaks %llu, %llu, %llu bytes keeping all, releasing "
             "gradients, releasing outputs too",
             (unsigned long long)peak[KEEP_ALL],
             (unsigned long long)peak[RELEASE_GRADS],
             (unsigned long long)peak[RELEASE_OUTPUTS]);
}

/* A second pass over tensors of the first, as the search step's
 * second-order term does: kept tensors still work as inputs, released
 * ones are refused, and released gradients come back as new zeros. */
static void second_pass_after_release(void **state) {
  harness *h = *state;
  dam_shape s = dam_shape4(N, 0, 0, 0);
  float x[N], w[N], c[N];
  draw(h, x, w, c);
  dam_tensor *tx = harness_tensor(h, s, x), *tw = harness_tensor(h, s, w);
  tx->requires_grad = true;
  dam_tensor *u = dam_mul(h->ex, tx, tw), *r = dam_relu(h->ex, u);
  dam_tensor *loss = dam_sum(h->ex, r);
  assert_int_equal(dam_backward_release(h->ex, loss, &r, 1), 0);
  assert_null(u->mem.block);
  assert_null(dam_relu(h->ex, u));
  dam_tensor *again = dam_dot(h->ex, r, tw); /* r: a leaf now */
  assert_non_null(again);
  assert_int_equal(dam_backward_release(h->ex, again, NULL, 0), 0);
  float *gr = harness_read(h, r->grad);
  for (int i = 0; i < N; i++)
    assert_true(gr[i] == w[i]);
  free(gr);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* relu -> 1x1 conv -> batch norm (affine or not) -> a dot that reads the
 * norm's output, in a scope that releases shared outputs too, as a
 * supernet cell: x's and w's gradients, whether the conv output was
 * released, the arena's peak. */
static void block_grads(harness *h, bool no_release, bool affine,
                        const float *const *v, float **g, bool *released,
                        VkDeviceSize *peak) {
  static const dam_conv2d_geom pw = {{1, 1}, {0, 0}, {1, 1}, 1};
  static const dam_bn_args bn = {1e-5f, 0.1f};
  const dam_shape s[] = {dam_shape4(2, 3, 6, 6), dam_shape4(4, 3, 1, 1),
                         dam_shape4(2, 4, 6, 6), dam_shape4(4, 0, 0, 0)};
  dam_tensor *x = harness_tensor(h, s[0], v[0]);
  dam_tensor *w = harness_tensor(h, s[1], v[1]);
  dam_tensor *c = harness_tensor(h, s[2], v[2]);
  dam_tensor *gamma = affine ? harness_tensor(h, s[3], v[3]) : NULL;
  x->requires_grad = w->requires_grad = true;
  h->ex->no_release = no_release;
  h->ex->arena.bytes_peak = h->ex->arena.bytes_used;
  dam_scope scope = dam_scope_open(h->ex);
  dam_tensor *r = dam_relu(h->ex, x);
  dam_tensor *conv = dam_conv2d(h->ex, r, w, &pw);
  dam_tensor *y = dam_batchnorm(h->ex, conv, gamma, gamma, NULL, NULL, &bn,
                                true);
  assert_non_null(y);
  assert_null(y->mem.block); /* made when first read: by the dot */
  dam_tensor *loss = dam_dot(h->ex, y, c);
  dam_scope_close(h->ex, &scope, &loss, 1, true);
  *released = !conv->mem.block;
  /* Never made: the conv reads x through the relu, both ways. */
  assert_null(r->mem.block);
  assert_non_null(y->mem.block);
  assert_int_equal(dam_backward(h->ex, loss), 0);
  h->ex->no_release = false;
  g[0] = harness_read(h, x->grad);
  g[1] = harness_read(h, w->grad);
  *peak = h->ex->arena.bytes_peak;
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void scope_releases_unread_intermediates(void **state) {
  harness *h = *state;
  const uint64_t n[] = {216, 12, 288, 4};
  float *v[4];
  for (int k = 0; k < 4; k++)
    v[k] = harness_random(h, n[k], -1, 1);
  for (int affine = 0; affine < 2; affine++) {
    float *g[2][2];
    bool released[2];
    VkDeviceSize peak[2];
    for (int m = 0; m < 2; m++)
      block_grads(h, m == 0, affine, (const float *const *)v, g[m],
                  &released[m], &peak[m]);
    assert_false(released[0]);
    /* Without gamma and beta the backward reads the output, not x. */
    assert_true(released[1] == !affine);
    for (int k = 0; k < 2; k++) {
      for (uint64_t i = 0; i < n[k]; i++)
        if (fabsf(g[0][k][i] - g[1][k][i]) > 1e-5f * (1 + fabsf(g[0][k][i])))
          fail_msg("affine %d: gradient %d[%llu] %g kept, %g released",
                   affine, k, (unsigned long long)i, g[0][k][i], g[1][k][i]);
      free(g[0][k]);
      free(g[1][k]);
    }
    if (!affine && peak[1] >= peak[0])
      fail_msg("arena peak %llu bytes with the scope, %llu without",
               (unsigned long long)peak[1], (unsigned long long)peak[0]);
  }
  for (int k = 0; k < 4; k++)
    free(v[k]);

  /* A relu's output, which later forwards may share, goes only with a
   * scope that releases shared outputs, and is made again when read. */
  float x[N], unused[N], c[N];
  draw(h, x, unused, c);
  dam_tensor *tx = harness_tensor(h, dam_shape4(1, N, 1, 1), x);
  tx->requires_grad = true;
  dam_scope scope = dam_scope_open(h->ex);
  dam_tensor *r = dam_relu(h->ex, tx);
  assert_null(r->mem.block); /* lazy: made when first read */
  dam_tensor *m = dam_global_avg_pool(h->ex, r);
  assert_non_null(r->mem.block);
  dam_scope_close(h->ex, &scope, &m, 1, false);
  assert_non_null(r->mem.block);
  dam_scope_close(h->ex, &scope, &m, 1, true);
  assert_null(r->mem.block);
  assert_ptr_equal(dam_relu(h->ex, tx), r);
  float *y = harness_read(h, r);
  for (int i = 0; i < N; i++)
    assert_true(y[i] == (x[i] > 0 ? x[i] : 0.0f));
  free(y);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(composite_graph_gradients),
      cmocka_unit_test(needs_grad_mask),
      cmocka_unit_test(persistent_gradients_accumulate),
      cmocka_unit_test(repeated_relu_shared),
      cmocka_unit_test(released_grads_bit_identical),
      cmocka_unit_test(second_pass_after_release),
      cmocka_unit_test(scope_releases_unread_intermediates),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
