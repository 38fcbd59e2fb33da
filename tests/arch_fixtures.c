/* Helpers shared by the architecture tests (arch_fixtures.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch_fixtures.h"
#include "error.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const DARTS_OPS[8] = {
    "none",         "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"};
const char *const KIND[2] = {"normal", "reduce"};

uint32_t off(uint32_t i) { return i * (i + 3) / 2; }

dam_arch_settings ista_settings(void) {
  return (dam_arch_settings){
      .method = DAM_ARCH_ISTA, .nodes = 4, .multiplier = 4, .n_ops = 7,
      .op_names = DARTS_OPS + 1, .none_op = -1, .proj_dims = 8,
      .sparseness = 2, .dist_limit = 1e-3, .lasso_lambda = 1e-5,
      .lr = 3e-4, .beta1 = 0.5, .beta2 = 0.999, .wd = 1e-3, .seed = 11};
}

dam_arch_settings darts_settings(void) {
  return (dam_arch_settings){
      .method = DAM_ARCH_DARTS, .nodes = 4, .multiplier = 4, .n_ops = 8,
      .op_names = DARTS_OPS, .none_op = 0, .lr = 3e-4, .beta1 = 0.5,
      .beta2 = 0.999, .wd = 1e-3, .seed = 5};
}

dam_arch *create(const dam_arch_settings *s) {
  dam_arch *a = NULL;
  int rc = dam_arch_create(s, &a);
  if (rc)
    fail_msg("create: %s", dam_last_error());
  return a;
}

dam_safetensors *saved(const dam_arch *a) {
  dam_safetensors *st = dam_st_new();
  assert_non_null(st);
  assert_int_equal(dam_arch_save(a, st), 0);
  return st;
}

void load(dam_arch *a, const dam_safetensors *st) {
  int rc = dam_arch_load(a, st);
  if (rc)
    fail_msg("load: %s", dam_last_error());
}

dam_st_tensor *tensor(dam_safetensors *st, const char *fmt, ...) {
  char name[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  for (uint32_t j = 0; j < st->n; j++)
    if (!strcmp(st->t[j].name, name))
      return &st->t[j];
  fail_msg("no tensor %s", name);
  return NULL;
}

void assert_same_state(dam_safetensors *a, dam_safetensors *b) {
  assert_int_equal(a->n, b->n);
  for (uint32_t j = 0; j < a->n; j++) {
    dam_st_tensor *t = tensor(b, "%s", a->t[j].name);
    assert_int_equal(t->nbytes, a->t[j].nbytes);
    assert_memory_equal(t->data, a->t[j].data, t->nbytes);
  }
}


double normal(uint64_t *rng) {
  double u1 = 1.0 - dam_uniform01(rng), u2 = dam_uniform01(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void set_code(dam_arch *a, int cell, uint32_t i, uint32_t P,
                     uint32_t n_ops, const double *zstar) {
  dam_safetensors *st = saved(a);
  const double *A = F64(st, "arch.%s.A.%u", KIND[cell], i);
  double *b = F64(st, "arch.%s.b", KIND[cell]) + i * P;
  uint32_t cols = (i + 2) * n_ops;
  for (uint32_t p = 0; p < P; p++) {
    b[p] = 0;
    for (uint32_t j = 0; j < cols; j++)
      b[p] += A[p * cols + j] * zstar[j];
  }
  load(a, st);
  dam_st_free(st);
}
