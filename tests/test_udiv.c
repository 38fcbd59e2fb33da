/* dam_udiv (sdk/diffautoml/dam_shader.glsl) on the device against C's
 * division: dividends up to 2^31 - 1, divisors up to 2^31 - 1, exact
 * multiples and their neighbours, powers of two. */
#include "harness.h"
#include "kernel_util.h"

#include <stdlib.h>
#include <string.h>

#include "udiv.spv.h"

DAM_SHADER(udiv, 3, 0x4, 4);

#define PAIRS (1u << 18)

static uint32_t draw_u31(harness *h) {
  uint32_t hi = (uint32_t)harness_uniform(h, 0, 32768);
  uint32_t lo = (uint32_t)harness_uniform(h, 0, 65536);
  return (hi << 16 | lo) & 0x7fffffffu;
}

/* Pair i: a divisor of every size class and a dividend near one of its
 * multiples, or anywhere. */
static void draw_pair(harness *h, uint32_t i, uint32_t *a, uint32_t *d) {
  uint32_t bits = 1 + i % 31;
  *d = draw_u31(h) >> (31 - bits);
  if (*d == 0)
    *d = 1;
  if (i % 7 == 0)
    *d = 1u << (bits - 1);
  *a = draw_u31(h);
  if (i % 3 == 0) {
    uint32_t m = *a / *d * *d;
    *a = i % 2 ? m : m ? m - 1 : 0;
  }
}

static void udiv_matches_c(void **state) {
  harness *h = *state;
  uint32_t *a = malloc(PAIRS * sizeof *a), *d = malloc(PAIRS * sizeof *d);
  for (uint32_t i = 0; i < PAIRS; i++)
    draw_pair(h, i, &a[i], &d[i]);
  a[0] = 0x7fffffffu, d[0] = 1;
  a[1] = 0x7fffffffu, d[1] = 0x7fffffffu;
  a[2] = 0x7ffffffeu, d[2] = 0x7fffffffu;
  dam_shape s = dam_shape4(PAIRS, 0, 0, 0);
  dam_tensor *t[3];
  uint32_t *src[2] = {a, d};
  for (int k = 0; k < 3; k++) {
    t[k] = dam_tensor_new(h->ex, &s, false);
    assert_non_null(t[k]);
    if (k < 2) /* uint bits through the float upload */
      assert_int_equal(dam_tensor_upload(h->ex, t[k], (float *)src[k]), 0);
  }
  uint32_t n = PAIRS;
  assert_int_equal(dam__k_run(h->ex, &shader_udiv,
                              (const dam_tensor *const *)t, &n, n), 0);
  uint32_t *q = (uint32_t *)harness_read(h, t[2]);
  for (uint32_t i = 0; i < PAIRS; i++)
    if (q[i] != a[i] / d[i])
      fail_msg("dam_udiv(%u, %u) = %u, expected %u", a[i], d[i], q[i],
               a[i] / d[i]);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(a), free(d), free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(udiv_matches_c)};
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
