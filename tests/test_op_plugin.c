/* An op plugin loaded with dlopen runs through the host API on the device:
 * skip_connect's forward, its backward on the tape, and its shape rules. */
#include "harness.h"
#include "autograd.h"
#include "error.h"
#include "op.h"
#include "plugin.h"

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
      cmocka_unit_test(unplaceable_site_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
