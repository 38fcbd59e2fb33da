/* An op plugin loaded with dlopen runs through the host API on the device:
 * skip_connect's forward, its backward on the tape, and its shape rules. */
#include "harness.h"
#include "autograd.h"
#include "error.h"
#include "kernels.h"
#include "nn.h"
#include "op.h"
#include "plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 2
#define C 3
#define HW 5
#define NUMEL (N * C * HW * HW)

static const dam_op_desc *load(dam_registry **reg) {
  *reg = dam_registry_new();
  assert_non_null(*reg);
  assert_int_equal(dam_registry_load_file(*reg, SKIP_CONNECT_PATH), 0);
  const dam_desc_header *d =
      dam_registry_find(*reg, DAM_KIND_OP, "skip_connect", NULL);
  assert_non_null(d);
  return (const dam_op_desc *)d;
}

static void forward_and_backward(void **state) {
  harness *h = *state;
  dam_registry *reg;
  const dam_op_desc *desc = load(&reg);
  dam_op_site site = {sizeof site, 1, C, C};
  dam_op *op;
  assert_int_equal(dam_op_create(h->ex, desc, NULL, &site, &op), 0);
  assert_int_equal(op->weights.n, 0);

  float *x = harness_random(h, NUMEL, -1, 1);
  float *c = harness_random(h, NUMEL, -1, 1);
  dam_shape s = dam_shape4(N, C, HW, HW);
  dam_tensor *tx = harness_tensor(h, s, x), *tc = harness_tensor(h, s, c);
  tx->requires_grad = true;
  /* y = skip(x) (x itself at stride 1) used twice, so its gradient
   * accumulates: d/dx = 2c */
  dam_tensor *y = dam_op_forward(h->ex, op, tx, true);
  assert_non_null(y);
  assert_true(dam_shape_equal(&y->shape, &s));
  dam_tensor *loss = dam_add(h->ex, dam_dot(h->ex, y, tc),
                             dam_dot(h->ex, dam_op_forward(h->ex, op, tx, true), tc));
  assert_int_equal(dam_backward(h->ex, loss), 0);
  float *vy = harness_read(h, y), *gx = harness_read(h, tx->grad);
  for (int i = 0; i < NUMEL; i++) {
    assert_true(vy[i] == x[i]);
    assert_true(gx[i] == 2.0f * c[i]);
  }
  free(vy);
  free(gx);
  free(x);
  free(c);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_op_destroy(op);
  dam_registry_free(reg);
}

/* Pass i of shared_phases: ops[0] and ops[1] on x (sharing when share
 * is set), loss sum_k dot(ops[k](x), c[k]); its output and gradients,
 * read into got[0..5): y0, y1, gx, and the two ops' first weight
 * gradients.  The dispatches ops[1]'s forward recorded. */
static uint64_t phases_pass(harness *h, dam_op *const ops[2], const float *x,
                            float *const c[2], bool share, float *got[5]) {
  dam_shape s = dam_shape4(N, C, HW, HW), half = dam_shape4(N, 2 * C, 3, 3);
  dam_tensor *tx = harness_tensor(h, s, x), *y[2], *tc[2];
  tx->requires_grad = true;
  dam_share sh;
  if (share)
    dam_share_begin(h->ex, &sh);
  y[0] = dam_op_forward(h->ex, ops[0], tx, true);
  uint64_t before = h->ex->stats.dispatches;
  y[1] = dam_op_forward(h->ex, ops[1], tx, true);
  uint64_t dispatches = h->ex->stats.dispatches - before;
  dam_share_end(h->ex);
  dam_tensor *loss = NULL;
  for (int k = 0; k < 2; k++) {
    assert_non_null(y[k]);
    assert_true(dam_shape_equal(&y[k]->shape, &half));
    tc[k] = harness_tensor(h, half, c[k]);
    dam_tensor *d = dam_dot(h->ex, y[k], tc[k]);
    loss = loss ? dam_add(h->ex, loss, d) : d;
  }
  assert_int_equal(dam_backward(h->ex, loss), 0);
  got[0] = harness_read(h, y[0]);
  got[1] = harness_read(h, y[1]);
  got[2] = harness_read(h, tx->grad);
  for (int k = 0; k < 2; k++) {
    dam_tensor *w = ops[k]->weights.t[0];
    got[3 + k] = harness_read(h, w->grad);
    assert_int_equal(dam_k_fill(h->ex, w->grad, 0.0f), 0);
  }
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return dispatches;
}

/* Two factorized reduces of one input while sharing split it once, and
 * the backward scatters their summed gradient once: the outputs and
 * gradients of a pass without sharing, one dispatch fewer. */
static void shared_phases(void **state) {
  harness *h = *state;
  dam_registry *reg;
  const dam_op_desc *desc = load(&reg);
  dam_op_site site = {sizeof site, 2, C, 2 * C};
  dam_op *ops[2];
  for (int k = 0; k < 2; k++)
    assert_int_equal(dam_op_create(h->ex, desc, NULL, &site, &ops[k]), 0);
  float *x = harness_random(h, NUMEL, -1, 1);
  float *c[2] = {harness_random(h, N * 2 * C * 9, -1, 1),
                 harness_random(h, N * 2 * C * 9, -1, 1)};
  float *alone[5], *shared[5];
  const size_t n[5] = {N * 2 * C * 9, N * 2 * C * 9, NUMEL, C * C, C * C};
  uint64_t d_alone = phases_pass(h, ops, x, c, false, alone);
  uint64_t d_shared = phases_pass(h, ops, x, c, true, shared);
  assert_int_equal(d_shared, d_alone - 1);
  for (int i = 0; i < 5; i++) {
    for (size_t k = 0; k < n[i]; k++)
      if (fabsf(shared[i][k] - alone[i][k]) >
          1e-6f * (1.0f + fabsf(alone[i][k])))
        fail_msg("tensor %d [%zu]: shared %g, alone %g", i, k,
                 (double)shared[i][k], (double)alone[i][k]);
    free(alone[i]);
    free(shared[i]);
  }
  free(x), free(c[0]), free(c[1]);
  dam_op_destroy(ops[0]);
  dam_op_destroy(ops[1]);
  dam_registry_free(reg);
}

static void unplaceable_site_refused(void **state) {
  harness *h = *state;
  dam_registry *reg;
  const dam_op_desc *desc = load(&reg);
  dam_op_site site = {sizeof site, 1, C, 2 * C};
  dam_op *op;
  assert_int_equal(dam_op_create(h->ex, desc, NULL, &site, &op), 0);
  dam_shape in = dam_shape4(N, C, HW, HW), out;
  assert_int_equal(dam_op_infer(op, &in, &out), DAM_ESHAPE);
  assert_non_null(strstr(dam_last_error(), "skip_connect"));
  dam_tensor *tx = harness_tensor(h, in, NULL);
  assert_null(dam_op_forward(h->ex, op, tx, true));
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_op_destroy(op);
  dam_registry_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(forward_and_backward),
      cmocka_unit_test(shared_phases),
      cmocka_unit_test(unplaceable_site_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
