/* The block allocator: persistent pools, arenas (freeing within a step,
 * reset), limits, tensor transfer and release. */
#include "harness.h"
#include "error.h"
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#define N_ALLOCS 300

static bool disjoint(const dam_alloc *a, const dam_alloc *b) {
  return a->buffer != b->buffer || a->offset + a->size <= b->offset ||
         b->offset + b->size <= a->offset;
}

static void persistent_many_sizes(void **state) {
  harness *h = *state;
  dam_pool pool;
  dam_pool_init(&pool, h->dev, DAM_POOL_PERSISTENT, h->dev->tensor_mem_type);
  static dam_alloc a[N_ALLOCS];
  for (int i = 0; i < N_ALLOCS; i++) {
    VkDeviceSize size = 1 + (VkDeviceSize)harness_uniform(h, 0, 1 << 20);
    if (i % 50 == 0)
      size = 70ull << 20; /* larger than a block: a block of its own */
    assert_int_equal(dam_pool_alloc(&pool, size, &a[i]), 0);
    assert_true(a[i].size >= size);
    assert_int_equal(a[i].offset % pool.alignment, 0);
    assert_true(!a[i].map == !pool.host_mapped); /* lavapipe: mapped */
    if (a[i].map)
      memset(a[i].map, i & 0xff, size < 64 ? size : 64);
  }
  for (int i = 0; i < N_ALLOCS; i++)
    for (int j = i + 1; j < N_ALLOCS; j++)
      assert_true(disjoint(&a[i], &a[j]));
  VkDeviceSize reserved = pool.bytes_reserved;
  /* Free every other one, then refill: the holes are reused. */
  for (int i = 0; i < N_ALLOCS; i += 2)
    dam_pool_free(&pool, &a[i]);
  for (int i = 0; i < N_ALLOCS; i += 2)
    assert_int_equal(dam_pool_alloc(&pool, a[i].size, &a[i]), 0);
  assert_int_equal(pool.bytes_reserved, reserved);
  for (int i = 0; i < N_ALLOCS; i++)
    dam_pool_free(&pool, &a[i]);
  assert_int_equal(pool.bytes_used, 0);
  /* Everything coalesced: a whole block fits again without growing. */
  dam_alloc whole;
  assert_int_equal(dam_pool_alloc(&pool, DAM_BLOCK_SIZE, &whole), 0);
  assert_int_equal(pool.bytes_reserved, reserved);
  dam_pool_release(&pool);
}

static void arena_reuse_after_reset(void **state) {
  harness *h = *state;
  dam_pool arena;
  dam_pool_init(&arena, h->dev, DAM_POOL_ARENA, h->dev->tensor_mem_type);
  dam_alloc first[40], again[40];
  for (int i = 0; i < 40; i++)
    assert_int_equal(dam_pool_alloc(&arena, (VkDeviceSize)(i + 1) << 19,
                                    &first[i]), 0);
  VkDeviceSize reserved = arena.bytes_reserved;
  assert_true(reserved >= 410ull << 20);
  dam_pool_reset(&arena);
  assert_int_equal(arena.bytes_used, 0);
  for (int i = 0; i < 40; i++) {
    assert_int_equal(dam_pool_alloc(&arena, (VkDeviceSize)(i + 1) << 19,
                                    &again[i]), 0);
    for (int j = 0; j < i; j++)
      assert_true(disjoint(&again[i], &again[j]));
  }
  assert_int_equal(arena.bytes_reserved, reserved); /* no new blocks */
  assert_true(arena.bytes_peak >= 410ull << 20);
  dam_pool_release(&arena);
}

#define MIB ((VkDeviceSize)1 << 20)

/* Freed arena ranges are reused first-fit and coalesce with their
 * neighbours; bytes_used follows, bytes_peak keeps the high-water mark. */
static void arena_free_reuses_and_coalesces(void **state) {
  harness *h = *state;
  dam_pool arena;
  dam_pool_init(&arena, h->dev, DAM_POOL_ARENA, h->dev->tensor_mem_type);
  dam_alloc a[4], b;
  for (int i = 0; i < 4; i++)
    assert_int_equal(dam_pool_alloc(&arena, MIB, &a[i]), 0);
  assert_int_equal(arena.bytes_used, 4 * MIB);
  dam_pool_free(&arena, &a[1]);
  assert_int_equal(arena.bytes_used, 3 * MIB);
  assert_int_equal(arena.bytes_peak, 4 * MIB);
  assert_int_equal(dam_pool_alloc(&arena, MIB / 2, &b), 0);
  assert_true(b.buffer == a[1].buffer && b.offset == a[1].offset);
  dam_pool_free(&arena, &b);
  /* a[1] and a[2] coalesce: 2 MiB fit where they were */
  dam_pool_free(&arena, &a[2]);
  assert_int_equal(dam_pool_alloc(&arena, 2 * MIB, &b), 0);
  assert_true(b.buffer == a[1].buffer && b.offset == a[1].offset);
  /* a[0], b and a[3] coalesce with the block's free tail: it is one
   * range again, a whole block fits without a new one */
  dam_pool_free(&arena, &a[3]);
  dam_pool_free(&arena, &a[0]);
  dam_pool_free(&arena, &b);
  assert_int_equal(arena.bytes_used, 0);
  assert_int_equal(arena.bytes_peak, 4 * MIB);
  VkDeviceSize reserved = arena.bytes_reserved;
  assert_int_equal(dam_pool_alloc(&arena, DAM_BLOCK_SIZE, &b), 0);
  assert_int_equal(b.offset, 0);
  assert_int_equal(arena.bytes_reserved, reserved);
  assert_int_equal(arena.bytes_peak, DAM_BLOCK_SIZE);
  /* reset takes back everything, freed or not */
  dam_pool_free(&arena, &b);
  assert_int_equal(dam_pool_alloc(&arena, MIB, &a[0]), 0);
  assert_int_equal(dam_pool_alloc(&arena, MIB, &a[1]), 0);
  dam_pool_free(&arena, &a[0]);
  dam_pool_reset(&arena);
  assert_int_equal(arena.bytes_used, 0);
  assert_int_equal(dam_pool_alloc(&arena, DAM_BLOCK_SIZE, &b), 0);
  assert_int_equal(arena.bytes_reserved, reserved);
  dam_pool_release(&arena);
}

/* A released step tensor gives its range back at once; the struct stays
 * until the end of the step and any access to it is refused. */
static void released_tensor_is_refused(void **state) {
  harness *h = *state;
  VkDeviceSize used = h->ex->arena.bytes_used;
  float v[5] = {1, 2, 3, 4, 5};
  dam_tensor *t = harness_tensor(h, dam_shape4(5, 0, 0, 0), v);
  dam_tensor *y = harness_tensor(h, dam_shape4(5, 0, 0, 0), NULL);
  VkDeviceSize offset = t->mem.offset;
  VkBuffer buffer = t->mem.buffer;
  assert_int_equal(dam_k_copy(h->ex, t, y), 0);
  dam_tensor_release(h->ex, t);
  dam_tensor_release(h->ex, t); /* twice: ignored */
  assert_int_equal(h->ex->arena.bytes_used - used, y->mem.size);
  assert_int_equal(dam_k_fill(h->ex, t, 1.0f), DAM_EINVAL);
  assert_non_null(strstr(dam_last_error(), "released"));
  float back[5];
  assert_int_equal(dam_tensor_download(h->ex, t, back), DAM_EINVAL);
  /* the range is the next one handed out; y kept the values */
  dam_tensor *u = harness_tensor(h, dam_shape4(5, 0, 0, 0), NULL);
  assert_true(u->mem.buffer == buffer && u->mem.offset == offset);
  assert_int_equal(dam_k_fill(h->ex, u, 9.0f), 0);
  float *vy = harness_read(h, y);
  assert_memory_equal(vy, v, sizeof v);
  free(vy);
  /* persistent tensors are not released this way */
  dam_tensor *p = dam_param_new(h->ex, &y->shape);
  dam_tensor_release(h->ex, p);
  assert_non_null(p->mem.block);
  dam_tensor_free(h->ex, p);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  assert_int_equal(h->ex->arena.bytes_used, 0);
}

static void over_range_refused_cleanly(void **state) {
  harness *h = *state;
  dam_pool pool;
  dam_pool_init(&pool, h->dev, DAM_POOL_PERSISTENT, h->dev->tensor_mem_type);
  VkDeviceSize range = h->dev->props.limits.maxStorageBufferRange;
  dam_alloc a = {0};
  assert_int_equal(dam_pool_alloc(&pool, range + 1, &a), DAM_ERANGE);
  assert_non_null(strstr(dam_last_error(), "maxStorageBufferRange"));
  assert_int_equal(dam_pool_alloc(&pool, 0, &a), DAM_EINVAL);
  assert_int_equal(pool.bytes_reserved, 0);
  assert_int_equal(pool.bytes_used, 0);
  assert_null(a.buffer);
  /* The same through tensors. */
  uint32_t too_many = (uint32_t)(range / sizeof(float)) + 1;
  dam_shape s = dam_shape4(too_many, 0, 0, 0);
  assert_null(dam_tensor_new(h->ex, &s, true));
  dam_pool_release(&pool);
}

static void tensor_round_trip(void **state) {
  harness *h = *state;
  size_t n = 3 * 5 * 7 * 11;
  float *in = harness_random(h, n, -5, 5);
  dam_tensor *t = harness_tensor(h, dam_shape4(3, 5, 7, 11), in);
  assert_int_equal(t->numel, n);
  assert_true(dam_tensor_contiguous(t));
  float *out = harness_read(h, t);
  assert_memory_equal(in, out, n * sizeof(float));
  dam_tensor *p = dam_param_new(h->ex, &t->shape);
  assert_non_null(p);
  assert_true(p->requires_grad);
  float *zero = harness_read(h, p);
  for (size_t i = 0; i < n; i++)
    assert_true(zero[i] == 0.0f);
  dam_tensor_free(h->ex, p);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  assert_null(h->ex->step_tensors);
  assert_int_equal(h->ex->arena.bytes_used, 0);
  free(in);
  free(out);
  free(zero);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(persistent_many_sizes),
      cmocka_unit_test(arena_reuse_after_reset),
      cmocka_unit_test(arena_free_reuses_and_coalesces),
      cmocka_unit_test(released_tensor_is_refused),
      cmocka_unit_test(over_range_refused_cleanly),
      cmocka_unit_test(tensor_round_trip),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
