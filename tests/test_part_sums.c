/* Deferred sums of partial results (core/part_sums.c): queued sums added
 * in order of part, more than one dispatch's worth, flushed by a submit
 * and by a full queue, sums split into several destinations (across a
 * flush), and the refusal of partial sums of the wrong size. */
#include "harness.h"
#include "error.h"
#include "part_sums.h"

#include <stdlib.h>

#define SUMS 10

/* Sizes and part counts of the queued sums: odd sizes, one part, many. */
static const uint32_t sizes[SUMS] = {1, 7, 64, 65, 300, 3, 1000, 5, 4096, 9};
static const uint32_t parts[SUMS] = {1, 3, 64, 2, 5, 1, 17, 4, 2, 33};

static void queued_sums_match_reference(void **state) {
  harness *h = *state;
  dam_tensor *dst[SUMS];
  float *d0[SUMS], *p0[SUMS];
  uint64_t d = h->ex->stats.dispatches;
  for (uint32_t i = 0; i < SUMS; i++) {
    d0[i] = harness_random(h, sizes[i], -1, 1);
    p0[i] = harness_random(h, (size_t)sizes[i] * parts[i], -1, 1);
    dst[i] = harness_tensor(h, dam_shape4(sizes[i], 0, 0, 0), d0[i]);
    dam_tensor *pt = harness_tensor(
        h, dam_shape4(parts[i], sizes[i], 0, 0), p0[i]);
    assert_int_equal(dam_part_sums_add(h->ex, pt, parts[i], dst[i]), 0);
  }
  /* the eighth sum found the queue full */
  assert_int_equal(h->ex->stats.dispatches - d, 1);
  assert_int_equal(h->ex->n_pending_sums, SUMS - DAM_PENDING_SUMS);
  for (uint32_t i = 0; i < SUMS; i++) {
    float *got = harness_read(h, dst[i]); /* submits: flushes the rest */
    for (uint32_t e = 0; e < sizes[i]; e++) {
      float s = 0;
      for (uint32_t q = 0; q < parts[i]; q++)
        s += p0[i][(size_t)q * sizes[i] + e];
      assert_true(got[e] == d0[i][e] + s);
    }
    free(got), free(d0[i]), free(p0[i]);
  }
  assert_int_equal(h->ex->stats.dispatches - d, 2);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* Five single sums, then one split into three destinations: the queue
 * fills after the split's second, so its sums land in two dispatches. */
static void split_sums_match_reference(void **state) {
  harness *h = *state;
  static const uint32_t block[3] = {5, 12, 3}, n_parts = 6, slice = 20;
  dam_tensor *fill[5], *dst[3];
  for (int i = 0; i < 5; i++) {
    fill[i] = harness_tensor(h, dam_shape4(2, 0, 0, 0), NULL);
    dam_tensor *pt = harness_tensor(h, dam_shape4(1, 2, 0, 0), NULL);
    assert_int_equal(dam_part_sums_add(h->ex, pt, 1, fill[i]), 0);
  }
  float *d0[3], *p0 = harness_random(h, (size_t)n_parts * slice, -1, 1);
  for (int i = 0; i < 3; i++) {
    d0[i] = harness_random(h, block[i], -1, 1);
    dst[i] = harness_tensor(h, dam_shape4(block[i], 0, 0, 0), d0[i]);
  }
  dam_tensor *pt = harness_tensor(h, dam_shape4(n_parts, slice, 0, 0), p0);
  uint64_t d = h->ex->stats.dispatches;
  assert_int_equal(dam_part_sums_add_split(h->ex, pt, n_parts, dst, 3), 0);
  assert_int_equal(h->ex->stats.dispatches - d, 1);
  assert_int_equal(h->ex->n_pending_sums, 1);
  for (uint32_t i = 0, first = 0; i < 3; first += block[i++]) {
    float *got = harness_read(h, dst[i]);
    for (uint32_t e = 0; e < block[i]; e++) {
      float s = 0;
      for (uint32_t q = 0; q < n_parts; q++)
        s += p0[q * slice + first + e];
      assert_true(got[e] == d0[i][e] + s);
    }
    free(got), free(d0[i]);
  }
  free(p0);
  dam_tensor *short_parts = harness_tensor(h, dam_shape4(2, 19, 0, 0), NULL);
  assert_int_equal(dam_part_sums_add_split(h->ex, short_parts, 2, dst, 3),
                   DAM_EINVAL);
  assert_int_equal(h->ex->n_pending_sums, 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void wrong_sizes_refused(void **state) {
  harness *h = *state;
  dam_tensor *dst = harness_tensor(h, dam_shape4(8, 0, 0, 0), NULL);
  dam_tensor *pt = harness_tensor(h, dam_shape4(3, 7, 0, 0), NULL);
  assert_int_equal(dam_part_sums_add(h->ex, pt, 3, dst), DAM_EINVAL);
  assert_int_equal(dam_part_sums_add(h->ex, NULL, 1, dst), DAM_EINVAL);
  assert_int_equal(h->ex->n_pending_sums, 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(queued_sums_match_reference),
      cmocka_unit_test(split_sums_match_reference),
      cmocka_unit_test(wrong_sizes_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
