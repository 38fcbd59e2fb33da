/* An op plugin with its own SPIR-V shaders (tests/plugins/square.c) runs
 * them through host->dispatch: forward against the CPU, backward against
 * the analytic gradient and finite differences, malformed shaders refused,
 * and its dispatches in the GPU profile. */
#include "harness.h"
#include "autograd.h"
#include "error.h"
#include "host_api.h"
#include "op.h"
#include "plugin.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2
#define C 3
#define H 5
#define W 7
#define NUMEL (N * C * H * W)

/* Loaded for the whole group and unloaded only after the device is
 * closed: the device's pipelines point at the plugin's dam_shaders. */
static dam_registry *reg;

static int setup(void **state) {
  reg = dam_registry_new();
  if (!reg || dam_registry_load_file(reg, SQUARE_PATH)) {
    fprintf(stderr, "setup: %s\n", dam_last_error());
    dam_registry_free(reg);
    return -1;
  }
  return harness_setup(state);
}

static int teardown(void **state) {
  int err = harness_teardown(state);
  dam_registry_free(reg);
  return err;
}

static dam_op *square_op(dam_exec *ex) {
  const dam_desc_header *d =
      dam_registry_find(reg, DAM_KIND_OP, "square", NULL);
  assert_non_null(d);
  dam_op_site site = {sizeof site, 1, C, C};
  dam_op *op;
  const dam_op_desc *desc = (const dam_op_desc *)d;
  assert_int_equal(dam_op_create(ex, desc, NULL, &site, &op), 0);
  return op;
}

static float loss_value(harness *h, dam_op *op, const float *x) {
  dam_tensor *tx = harness_tensor(h, dam_shape4(N, C, H, W), x);
  dam_tensor *l = dam_sum(h->ex, dam_op_forward(h->ex, op, tx, true));
  assert_non_null(l);
  float v;
  assert_int_equal(dam_tensor_download(h->ex, l, &v), 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return v;
}

static void forward_and_backward(void **state) {
  harness *h = *state;
  dam_op *op = square_op(h->ex);
  float *x = harness_random(h, NUMEL, -1, 1);
  dam_shape s = dam_shape4(N, C, H, W);
  dam_tensor *tx = harness_tensor(h, s, x);
  tx->requires_grad = true;
  uint64_t before = h->ex->stats.dispatches;
  dam_tensor *y = dam_op_forward(h->ex, op, tx, true);
  assert_non_null(y);
  assert_true(dam_shape_equal(&y->shape, &s));
  assert_int_equal(h->ex->stats.dispatches, before + 1);
  assert_int_equal(dam_backward(h->ex, dam_sum(h->ex, y)), 0);
  float *vy = harness_read(h, y), *gx = harness_read(h, tx->grad);
  assert_int_equal(dam_exec_end_step(h->ex), 0);

  /* exact: also 0 where the host overrides square.comp's own
   * specialization constant 2 */
  double exact[NUMEL];
  for (int i = 0; i < NUMEL; i++) {
    float sq = x[i] * x[i];
    if (vy[i] != sq)
      fail_msg("y[%d] = %g, expected %g", i, vy[i], sq);
    exact[i] = 2.0 * x[i];
  }
  double e = harness_max_rel_err(gx, exact, NUMEL);
  if (e > 1e-6)
    fail_msg("gradient off 2x by %g", e);

  const float eps = 1e-2f;
  double fd[NUMEL];
  for (int i = 0; i < NUMEL; i++) {
    float keep = x[i];
    x[i] = keep + eps;
    double up = loss_value(h, op, x);
    x[i] = keep - eps;
    double down = loss_value(h, op, x);
    x[i] = keep;
    fd[i] = (up - down) / (2.0 * eps);
  }
  e = harness_max_rel_err(gx, fd, NUMEL);
  if (e > 5e-3)
    fail_msg("gradient off finite differences by %g", e);
  free(vy);
  free(gx);
  free(x);
  dam_op_destroy(op);
}

/* Refused by the host before any Vulkan call: not SPIR-V (bad magic, too
 * short), no bindings, a struct_size older than SDK 1.0's dam_shader, a
 * texel binding that is written or past the bindings. */
static void malformed_shader_refused(void **state) {
  harness *h = *state;
  static const uint32_t garbage[] = {0xdeadbeefu, 0x12345678u, 0x0u};
  static const uint32_t too_short[] = {0x07230203u, 0x00010300u, 0x0u};
  static const uint32_t header[] = {0x07230203u, 0x00010300u, 0x0u, 0x10u,
                                    0x0u};
#define BAD(NAME, WORDS, BINDINGS, SIZE)                                      \
  {.struct_size = SIZE, .name = NAME, .spirv = WORDS,                         \
   .spirv_size = sizeof WORDS, .n_bindings = BINDINGS,                        \
   .write_mask = BINDINGS ? 1u : 0u, .push_size = 4, .local_size_x = 64}
  dam_shader bad[] = {
      BAD("bad_garbage", garbage, 1, sizeof(dam_shader)),
      BAD("bad_short", too_short, 1, sizeof(dam_shader)),
      BAD("bad_bindings", header, 0, sizeof(dam_shader)),
      BAD("bad_struct_size", header, 1, offsetof(dam_shader, texel_mask) - 8),
      BAD("bad_texel_written", header, 1, sizeof(dam_shader)),
      BAD("bad_texel_binding", header, 1, sizeof(dam_shader)),
  };
  bad[4].texel_mask = 1u; /* binding 0 is written */
  bad[5].texel_mask = 2u; /* there is no binding 1 */
#undef BAD
  const dam_host_api *host = dam_host_api_get();
  dam_tensor *t = harness_tensor(h, dam_shape4(NUMEL, 0, 0, 0), NULL);
  uint32_t n = NUMEL;
  uint64_t before = h->ex->stats.dispatches;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(host->dispatch(h->ex, &bad[i], &t, 1, &n, n),
                     DAM_EINVAL);
    if (!strstr(dam_last_error(), bad[i].name))
      fail_msg("%s: message \"%s\" doesn't name the shader", bad[i].name,
               dam_last_error());
    assert_int_equal(h->ex->stats.dispatches, before);
  }
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void profiled_dispatches(void **state) {
  harness *h = *state;
  if (!h->dev->timestamps) {
    fprintf(stderr, "profiled_dispatches: %s has no timestamps, skipped\n",
            h->dev->props.deviceName);
    skip();
  }
  setenv("DIFFAUTOML_PROFILE", "1", 1);
  dam_exec *ex2;
  int err = dam_exec_create(h->dev, &ex2);
  unsetenv("DIFFAUTOML_PROFILE");
  assert_int_equal(err, 0);
  assert_true(ex2->profile);
  dam_op *op = square_op(ex2);
  dam_shape s = dam_shape4(N, C, H, W);
  float *x = harness_random(h, NUMEL, -1, 1);
  dam_tensor *tx = dam_tensor_new(ex2, &s, false);
  assert_non_null(tx);
  assert_int_equal(dam_tensor_upload(ex2, tx, x), 0);
  enum { RUNS = 3 };
  for (int i = 0; i < RUNS; i++)
    assert_non_null(dam_op_forward(ex2, op, tx, true));
  assert_int_equal(dam_exec_wait(ex2), 0);
  assert_int_equal(ex2->stats.dispatches, RUNS);

  assert_true(ex2->n_prof >= 1);
  const dam_profile_entry *p = NULL;
  for (uint32_t i = 0; i < ex2->n_prof; i++)
    if (strcmp(ex2->prof[i].name, "square") == 0)
      p = &ex2->prof[i];
  assert_non_null(p);
  assert_int_equal(p->count, RUNS);
  assert_true(p->total_ms >= 0.0);

  FILE *f = tmpfile();
  assert_non_null(f);
  dam_exec_profile_print(ex2, f, 1);
  rewind(f);
  char line[256];
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    found = strncmp(line, "square ", 7) == 0;
  fclose(f);
  assert_true(found);
  free(x);
  dam_op_destroy(op);
  dam_exec_destroy(ex2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(forward_and_backward),
      cmocka_unit_test(malformed_shader_refused),
      cmocka_unit_test(profiled_dispatches),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
