/* The supernet's gradients (core/supernet.c over the in-tree op plugins,
 * the tiny net of supernet_fixtures.h): each term weight's against central
 * differences, the same with the trained tensors frozen (the search's
 * architecture-only passes) and with the forward's release of unread
 * intermediates. */
#include "supernet_fixtures.h"

#include "autograd.h"
#include "error.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* L = <logits, r> in training mode: batch statistics, no drop-path, so
 * deterministic and smooth almost everywhere.  (Evaluation mode records no
 * gradient: dam_batchnorm with training false puts no node on the tape.) */
static double train_loss(harness *h, dam_supernet *net, const float *x,
                         const term_set *s, const float *r) {
  float *y = logits_of(h, net, x, s, true);
  double l = 0;
  for (int i = 0; i < IMAGES * CLASSES; i++)
    l += (double)y[i] * r[i];
  free(y);
  return l;
}

static void term_weight_gradients(void **state) {
  harness *h = *state;
  dam_supernet *net = net_new(h, false, NULL);
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  float *r = harness_random(h, IMAGES * CLASSES, -1, 1);
  term_set s;
  some_terms(&s);

  dam_tensor *wt[2][MAX_TERMS];
  dam_supernet_pass train = {.training = true};
  dam_tensor *y = forward(h, net, x, &s, train, true, wt, NULL);
  assert_logits_shape(y);
  dam_tensor *tr = harness_tensor(h, y->shape, r);
  assert_int_equal(dam_backward(h->ex, dam_dot(h->ex, y, tr)), 0);
  float g[2][MAX_TERMS];
  for (int kind = 0; kind < 2; kind++)
    for (uint32_t k = 0; k < s.n[kind]; k++) {
      assert_non_null(wt[kind][k]->grad);
      assert_int_equal(
          dam_tensor_download(h->ex, wt[kind][k]->grad, &g[kind][k]), 0);
    }
  assert_int_equal(dam_exec_end_step(h->ex), 0);

  /* ReLUs and max pooling make this tiny net's loss kinked at the scale of
   * 1e-2 (a central difference there can be 20% off), so a gradient
   * passes when one of several step sizes agrees with it; a wrong one
   * agrees with none. */
  static const float eps[] = {1e-2f, 3e-3f, 1e-3f, 3e-4f};
  for (int kind = 0; kind < 2; kind++)
    for (uint32_t k = 0; k < s.n[kind]; k++) {
      double fd[4];
      bool agrees = false;
      for (int e = 0; e < 4 && !agrees; e++) {
        term_set p = s;
        p.w[kind][k] = s.w[kind][k] + eps[e];
        double up = train_loss(h, net, x, &p, r);
        p.w[kind][k] = s.w[kind][k] - eps[e];
        double down = train_loss(h, net, x, &p, r);
        fd[e] = (up - down) / (2.0 * eps[e]);
        agrees = fabs(g[kind][k] - fd[e]) <= 2e-2 * fabs(fd[e]) + 2e-4;
      }
      if (!agrees)
        fail_msg("kind %d term %u (node %u, from %u, %s): gradient %g, "
                 "finite differences %g %g %g %g",
                 kind, k, s.t[kind][k].node, s.t[kind][k].from,
                 op_names[s.t[kind][k].op], g[kind][k], fd[0], fd[1], fd[2],
                 fd[3]);
    }
  dam_supernet_free(net);
  free(x);
  free(r);
}

/* The term weights' gradients of every term (DARTS mode) with the trained
 * tensors taking gradients or not (`frozen`), and the dispatches recorded
 * for it; a frozen pass must leave the trained tensors' gradients as they
 * were (seeded with 7). */
static uint64_t term_grads(harness *h, dam_supernet *net, const float *x,
                           const float *r, const term_set *s, bool frozen,
                           float g[2][MAX_TERMS]) {
  uint32_t n;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  for (uint32_t i = 0; i < n; i++)
    if (t[i].t->requires_grad) {
      assert_int_equal(dam_k_fill(h->ex, dam_tensor_grad(h->ex, t[i].t),
                                  7.0f), 0);
      t[i].t->requires_grad = !frozen;
    }
  uint64_t before = h->ex->stats.dispatches;
  dam_tensor *wt[2][MAX_TERMS];
  dam_supernet_pass train = {.training = true};
  dam_tensor *y = forward(h, net, x, s, train, true, wt, NULL);
  assert_logits_shape(y);
  dam_tensor *tr = harness_tensor(h, y->shape, r);
  assert_int_equal(dam_backward(h->ex, dam_dot(h->ex, y, tr)), 0);
  uint64_t dispatches = h->ex->stats.dispatches - before;
  for (int kind = 0; kind < 2; kind++)
    for (uint32_t k = 0; k < s->n[kind]; k++)
      assert_int_equal(
          dam_tensor_download(h->ex, wt[kind][k]->grad, &g[kind][k]), 0);
  for (uint32_t i = 0; i < n; i++) {
    if (!t[i].t->grad)
      continue;
    float *v = harness_read(h, t[i].t->grad);
    bool seeded = true;
    for (uint64_t e = 0; e < t[i].t->numel; e++)
      seeded = seeded && v[e] == 7.0f;
    if (frozen && !seeded)
      fail_msg("%s: a frozen pass wrote its gradient", t[i].name);
    if (!frozen && seeded)
      fail_msg("%s: no gradient", t[i].name);
    free(v);
    t[i].t->requires_grad = true;
  }
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return dispatches;
}

/* The search's architecture-only passes (validation without HPO, the
 * second-order passes) freeze the weights: the term gradients must not
 * change, and the pass must record fewer dispatches. */
static void frozen_weights_same_term_gradients(void **state) {
  harness *h = *state;
  dam_supernet *net = net_new(h, false, NULL);
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  float *r = harness_random(h, IMAGES * CLASSES, -1, 1);
  term_set s;
  all_terms(h, &s);
  float trained[2][MAX_TERMS], frozen[2][MAX_TERMS];
  uint64_t all = term_grads(h, net, x, r, &s, false, trained);
  uint64_t fewer = term_grads(h, net, x, r, &s, true, frozen);
  for (int kind = 0; kind < 2; kind++)
    for (uint32_t k = 0; k < s.n[kind]; k++)
      if (fabsf(trained[kind][k] - frozen[kind][k]) >
          1e-5f * fabsf(trained[kind][k]) + 1e-7f)
        fail_msg("kind %d term %u (node %u, from %u, %s): %g trained, "
                 "%g frozen",
                 kind, k, s.t[kind][k].node, s.t[kind][k].from,
                 op_names[s.t[kind][k].op], trained[kind][k],
                 frozen[kind][k]);
  if (fewer >= all)
    fail_msg("%llu dispatches frozen, %llu trained",
             (unsigned long long)fewer, (unsigned long long)all);
  dam_supernet_free(net);
  free(x);
  free(r);
}

/* Every trained tensor's gradient (malloc'd, in table order) and the arena
 * peak of one training forward and backward, aux head included, with the
 * forward's release of unread intermediates on or off (no_release). */
static float **all_grads(harness *h, dam_supernet *net, const float *x,
                         const float *r, const term_set *s, bool no_release,
                         VkDeviceSize *peak) {
  dam_supernet_pass train = {.training = true};
  dam_tensor *aux;
  h->ex->no_release = no_release;
  h->ex->arena.bytes_peak = h->ex->arena.bytes_used;
  dam_tensor *y = forward(h, net, x, s, train, true, NULL, &aux);
  assert_logits_shape(y);
  assert_non_null(aux);
  dam_tensor *tr = harness_tensor(h, y->shape, r);
  dam_tensor *loss = dam_add(h->ex, dam_dot(h->ex, y, tr),
                             dam_dot(h->ex, aux, tr));
  assert_int_equal(dam_backward(h->ex, loss), 0);
  h->ex->no_release = false;
  uint32_t n;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  float **g = calloc(n, sizeof *g);
  assert_non_null(g);
  for (uint32_t i = 0; i < n; i++)
    if (t[i].t->grad) {
      g[i] = harness_read(h, t[i].t->grad);
      assert_int_equal(dam_k_fill(h->ex, t[i].t->grad, 0.0f), 0);
    }
  *peak = h->ex->arena.bytes_peak;
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return g;
}

static void released_forward_same_gradients(void **state) {
  harness *h = *state;
  dam_supernet *net = net_new(h, true, NULL);
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  float *r = harness_random(h, IMAGES * CLASSES, -1, 1);
  term_set s;
  all_terms(h, &s);
  VkDeviceSize peak[2];
  float **kept = all_grads(h, net, x, r, &s, true, &peak[0]);
  float **released = all_grads(h, net, x, r, &s, false, &peak[1]);
  uint32_t n, compared = 0;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  for (uint32_t i = 0; i < n; i++) {
    assert_true(!kept[i] == !released[i]);
    if (kept[i] && memcmp(kept[i], released[i], t[i].t->numel * 4))
      fail_msg("%s: gradients differ with the forward's release",
               t[i].name);
    compared += kept[i] != NULL;
    if (t[i].t->requires_grad && !kept[i])
      fail_msg("%s: no gradient", t[i].name);
    free(kept[i]);
    free(released[i]);
  }
  assert_true(compared > 0);
  if (peak[1] >= peak[0])
    fail_msg("arena peak %llu bytes releasing, %llu keeping",
             (unsigned long long)peak[1], (unsigned long long)peak[0]);
  free(kept);
  free(released);
  free(x);
  free(r);
  dam_supernet_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(term_weight_gradients, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(frozen_weights_same_term_gradients,
                                      harness_setup, harness_teardown),
      cmocka_unit_test_setup_teardown(released_forward_same_gradients,
                                      harness_setup, harness_teardown),
  };
  int failed = load_ops() ? 1 : cmocka_run_group_tests(tests, NULL, NULL);
  /* After every device and op instance is gone. */
  free_ops();
  return failed;
}
