/* Hazard tracking: dependent chains in one submit give exact values every
 * time (a moving answer is a missing barrier); independent work gets no
 * barrier; long recordings split into several submits; a released range
 * handed out again is not written before its earlier readers are done,
 * within a command buffer and across an early submit; copy commands are
 * ordered likewise. */
#include "harness.h"
#include "error.h"
#include "kernels.h"

#include <stdlib.h>

#define ELEMS 4099 /* not a multiple of the workgroup size */
#define CHAIN 200
#define REPEATS 100

static dam_tensor *filled(harness *h, float v) {
  dam_tensor *t = harness_tensor(h, dam_shape4(ELEMS, 0, 0, 0), NULL);
  assert_int_equal(dam_k_fill(h->ex, t, v), 0);
  return t;
}

/* a counts 1..CHAIN through c and d; acc sums the counts. */
static void dependent_chain_is_exact(void **state) {
  harness *h = *state;
  for (int rep = 0; rep < REPEATS; rep++) {
    dam_exec_stats before = h->ex->stats;
    dam_tensor *one = filled(h, 1.0f), *a = filled(h, 0.0f);
    dam_tensor *acc = filled(h, 0.0f);
    dam_tensor *c = filled(h, 0.0f), *d = filled(h, 0.0f);
    for (int k = 0; k < CHAIN; k++) {
      assert_int_equal(dam_k_add(h->ex, a, one, c), 0);       /* c = a+1 */
      assert_int_equal(dam_k_axpby(h->ex, 1, c, 0, a), 0);    /* a = c */
      assert_int_equal(dam_k_mul(h->ex, a, one, c), 0);       /* c = a */
      assert_int_equal(dam_k_relu(h->ex, c, d), 0);           /* d = c */
      assert_int_equal(dam_k_axpby(h->ex, 1, d, 1, acc), 0);  /* acc += d */
    }
    float *va = harness_read(h, a); /* the step's one submit */
    assert_int_equal(h->ex->stats.submits - before.submits, 1);
    float *vacc = harness_read(h, acc);
    for (int i = 0; i < ELEMS; i++) {
      assert_true(va[i] == (float)CHAIN);
      assert_true(vacc[i] == (float)(CHAIN * (CHAIN + 1) / 2));
    }
    free(va);
    free(vacc);
    /* c = a + 1 needs none: the barrier before acc += d ordered it. */
    assert_true(h->ex->stats.barriers - before.barriers >= 4 * CHAIN);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

static void independent_work_has_no_barrier(void **state) {
  harness *h = *state;
  dam_tensor *t[8];
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  t[0] = filled(h, 0.0f); /* may open the step with one barrier */
  uint64_t barriers = h->ex->stats.barriers;
  for (int i = 1; i < 8; i++)
    t[i] = filled(h, (float)i);
  assert_int_equal(h->ex->stats.barriers, barriers);
  /* read-after-write */
  assert_int_equal(dam_k_add(h->ex, t[1], t[2], t[3]), 0);
  assert_int_equal(h->ex->stats.barriers, barriers + 1);
  /* two reads of the same tensor: no hazard */
  assert_int_equal(dam_k_add(h->ex, t[3], t[3], t[4]), 0);
  assert_int_equal(dam_k_relu(h->ex, t[3], t[5]), 0);
  assert_int_equal(h->ex->stats.barriers, barriers + 2);
  /* write-after-read: t[3] was read above */
  assert_int_equal(dam_k_fill(h->ex, t[3], 7.0f), 0);
  assert_int_equal(h->ex->stats.barriers, barriers + 3);
  float *v4 = harness_read(h, t[4]), *v3 = harness_read(h, t[3]);
  assert_true(v4[0] == 6.0f && v4[ELEMS - 1] == 6.0f);
  assert_true(v3[0] == 7.0f && v3[ELEMS - 1] == 7.0f);
  free(v4);
  free(v3);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void long_recording_is_one_submit(void **state) {
  harness *h = *state;
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  uint64_t submits = h->ex->stats.submits;
  dam_tensor *one = filled(h, 1.0f), *a = filled(h, 0.0f);
  int n = DAM_SUBMIT_DISPATCHES + 100;
  for (int k = 0; k < n; k++)
    assert_int_equal(dam_k_axpby(h->ex, 1, one, 1, a), 0);
  float *v = harness_read(h, a);
  assert_true(v[0] == (float)n && v[ELEMS - 1] == (float)n);
  free(v);
  /* split only when the timestamp pool is full (profiling) */
  assert_int_equal(h->ex->stats.submits - submits, h->ex->profile ? 2 : 1);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* Release `old`, take its range again and fill it with 5. */
static dam_tensor *reuse(harness *h, dam_tensor *old) {
  dam_range was = dam_tensor_range(old);
  dam_tensor_release(h->ex, old);
  dam_tensor *fresh = harness_tensor(h, old->shape, NULL);
  dam_range now = dam_tensor_range(fresh);
  assert_true(now.buffer == was.buffer && now.offset == was.offset);
  assert_int_equal(dam_k_fill(h->ex, fresh, 5.0f), 0);
  return fresh;
}

static void expect_all(harness *h, const dam_tensor *t, float v) {
  float *got = harness_read(h, t);
  for (int i = 0; i < ELEMS; i++)
    assert_true(got[i] == v);
  free(got);
}

static void reused_range_waits_for_readers(void **state) {
  harness *h = *state;
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_tensor *old = filled(h, 3.0f), *y = filled(h, 0.0f);
  assert_int_equal(dam_k_axpby(h->ex, 1, old, 0, y), 0); /* reads old */
  uint64_t barriers = h->ex->stats.barriers;
  dam_tensor *fresh = reuse(h, old); /* write-after-read */
  assert_int_equal(h->ex->stats.barriers, barriers + 1);
  expect_all(h, y, 3.0f);
  expect_all(h, fresh, 5.0f);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* The old range's last reader ends a command buffer; the write into the
 * new tensor opens the next one. */
static void reuse_across_early_submit(void **state) {
  harness *h = *state;
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  uint64_t d0 = h->ex->stats.dispatches, submits = h->ex->stats.submits;
  dam_tensor *old = filled(h, 3.0f), *y = filled(h, 0.0f);
  while (h->ex->stats.dispatches - d0 < DAM_SUBMIT_DISPATCHES)
    assert_int_equal(dam_k_axpby(h->ex, 1, old, 0, y), 0);
  assert_int_equal(h->ex->stats.submits, submits);
  dam_tensor *fresh = reuse(h, old);
  /* only a profiling recorder submits early (the barriers_profiled test) */
  assert_int_equal(h->ex->stats.submits, submits + (h->ex->profile ? 1 : 0));
  expect_all(h, y, 3.0f);
  expect_all(h, fresh, 5.0f);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

/* Copy commands of several regions take part in the tracking like
 * dispatches: a fill, a copy out of it, an add reading the copy and a fill
 * over the source, in one submit, give exact values every time; a region
 * outside either range is refused. */
static void copy_regions_are_ordered(void **state) {
  harness *h = *state;
  for (int rep = 0; rep < REPEATS; rep++) {
    dam_tensor *src = filled(h, (float)rep), *dst = filled(h, -1.0f);
    dam_tensor *one = filled(h, 1.0f), *sum = filled(h, 0.0f);
    dam_range s = dam_tensor_range(src), d = dam_tensor_range(dst);
    const VkBufferCopy r[] = {{s.offset, d.offset, 400},
                              {s.offset + 400, d.offset + 400,
                               4 * (ELEMS - 100)}};
    assert_int_equal(dam_exec_copy_regions(h->ex, s, d, r, 2), 0);
    assert_int_equal(dam_k_add(h->ex, dst, one, sum), 0);
    assert_int_equal(dam_k_fill(h->ex, src, -7.0f), 0);
    expect_all(h, sum, rep + 1.0f);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
  dam_tensor *a = filled(h, 0.0f), *b = filled(h, 0.0f);
  dam_range ra = dam_tensor_range(a), rb = dam_tensor_range(b);
  const VkBufferCopy past = {ra.offset, rb.offset + 4, 4 * ELEMS + 1024};
  const VkBufferCopy before = {ra.offset, rb.offset - 4, 4};
  uint64_t barriers = h->ex->stats.barriers;
  assert_int_equal(dam_exec_copy_regions(h->ex, ra, rb, &past, 1),
                   DAM_EINVAL);
  if (rb.offset >= 4)
    assert_int_equal(dam_exec_copy_regions(h->ex, ra, rb, &before, 1),
                     DAM_EINVAL);
  assert_int_equal(h->ex->stats.barriers, barriers);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dependent_chain_is_exact),
      cmocka_unit_test(independent_work_has_no_barrier),
      cmocka_unit_test(long_recording_is_one_submit),
      cmocka_unit_test(reused_range_waits_for_readers),
      cmocka_unit_test(reuse_across_early_submit),
      cmocka_unit_test(copy_regions_are_ordered),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
