/* Small dispatches of resizable shaders on CPU devices run in workgroups
 * of one subgroup (core/exec.c), large ones and other devices' at the
 * shader's own size; a shader whose size is fixed refuses another. */
#include "harness.h"
#include "kernel_util.h"
#include "kernels.h"
#include "pipeline.h"

#include <stdlib.h>
#include <unistd.h>

#include "local_size.spv.h"
#include "udiv.spv.h"

DAM_SHADER(local_size, 1, 0x1, 4);
DAM_SHADER(udiv, 3, 0x4, 4);

/* Run local_size.comp over n invocations; every output must be `want`. */
static void expect_local_size(harness *h, uint32_t n, uint32_t want) {
  dam_shape s = dam_shape4(n, 0, 0, 0);
  dam_tensor *t = harness_tensor(h, s, NULL);
  assert_int_equal(dam_k_fill(h->ex, t, -1.0f), 0);
  assert_int_equal(dam__k_run(h->ex, &shader_local_size,
                              (const dam_tensor *const *)&t, &n, n), 0);
  float *o = harness_read(h, t);
  for (uint32_t i = 0; i < n; i++)
    if (o[i] != (float)want)
      fail_msg("invocation %u of %u ran at local size %g, expected %u", i,
               n, o[i], want);
  free(o);
}

static void small_dispatches_take_subgroups(void **state) {
  harness *h = *state;
  const dam_device *dev = h->dev;
  bool cpu = dev->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU &&
             !dev->discrete_paths;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  assert_int_equal(dev->cpu_workers, cpu ? (uint32_t)cores : 0);
  uint32_t sub = dev->info.subgroup_size;
  uint32_t small = cpu && sub && sub < 64 ? sub : 64;
  uint32_t edge = 4u * 64u * (cpu ? dev->cpu_workers : 1);
  expect_local_size(h, 1, small);
  expect_local_size(h, 37, small);
  expect_local_size(h, edge - 1, small);
  expect_local_size(h, edge, 64);
  expect_local_size(h, 3 * edge + 5, 64);
}

static void fixed_shaders_refuse_other_sizes(void **state) {
  harness *h = *state;
  const dam_pipeline *p = NULL;
  assert_int_equal(dam_pipeline_get(h->dev, &shader_udiv, 0, 0, &p), 0);
  assert_false(p->resizable);
  assert_int_equal(p->local_size, 64);
  assert_int_equal(dam_pipeline_get(h->dev, &shader_udiv, 8, 0, &p), DAM_EINVAL);
  assert_int_equal(dam_pipeline_get(h->dev, &shader_local_size, 8, 0, &p), 0);
  assert_true(p->resizable);
  assert_int_equal(p->local_size, 8);
}

/* A shape key makes a pipeline of its own, found again by the same key. */
static void pipelines_keyed_by_shape(void **state) {
  harness *h = *state;
  const dam_pipeline *none = NULL, *five = NULL, *again = NULL;
  assert_int_equal(dam_pipeline_get(h->dev, &shader_udiv, 0, 0, &none), 0);
  assert_int_equal(dam_pipeline_get(h->dev, &shader_udiv, 0, 5, &five), 0);
  assert_int_equal(dam_pipeline_get(h->dev, &shader_udiv, 0, 5, &again), 0);
  assert_ptr_not_equal(none, five);
  assert_ptr_equal(five, again);
  assert_int_equal(none->shape, 0);
  assert_int_equal(five->shape, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(small_dispatches_take_subgroups,
                                      harness_setup, harness_teardown),
      cmocka_unit_test_setup_teardown(fixed_shaders_refuse_other_sizes,
                                      harness_setup, harness_teardown),
      cmocka_unit_test_setup_teardown(pipelines_keyed_by_shape,
                                      harness_setup, harness_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
