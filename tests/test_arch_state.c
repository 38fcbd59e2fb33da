/*
 * The architecture's optimizer and state (core/arch.c), no device: Adam
 * against a hand-computed step; freezing; the parameter budget; bad
 * settings; checkpoint round trips and refusals; determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch_fixtures.h"
#include "error.h"
#include "rng.h"
#include "tmpdir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A copy of st without tensor `skip` (or NULL). */
static dam_safetensors *copy_except(dam_safetensors *st, const char *skip) {
  dam_safetensors *c = dam_st_new();
  for (uint32_t j = 0; j < st->n; j++)
    if (!skip || strcmp(st->t[j].name, skip))
      assert_int_equal(dam_st_add(c, st->t[j].name, st->t[j].dtype,
                                  st->t[j].ndim, st->t[j].shape,
                                  st->t[j].data),
                       0);
  return c;
}

/* ---- Adam, freezing, budget ---------------------------------------------- */

static void adam_step(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  s.lr = 0.01;
  dam_arch *a = create(&s);
  dam_safetensors *st = saved(a);
  double x[64], m[64] = {0}, v[64] = {0};
  memcpy(x, F64(st, "arch.normal.b"), 32 * sizeof *x);
  memcpy(x + 32, F64(st, "arch.reduce.b"), 32 * sizeof *x);
  dam_st_free(st);
  for (uint32_t t = 1; t <= 3; t++) {
    dam_arch_term terms[8];
    float w[8], gw[8];
    for (int c = 0; c < 2; c++) {
      dam_arch_terms(a, c, terms, w);
      for (uint32_t k = 0; k < 8; k++)
        gw[k] = (float)(c + 1) * (k % 2 ? -1.0f : 0.5f) * (float)t;
      dam_arch_add_grad(a, c, gw, 1.0);
    }
    st = saved(a);
    double g[64];
    memcpy(g, F64(st, "arch.normal.grad"), 32 * sizeof *g);
    memcpy(g + 32, F64(st, "arch.reduce.grad"), 32 * sizeof *g);
    dam_st_free(st);
    assert_int_equal(dam_arch_step(a), 0);
    st = saved(a);
    assert_int_equal(*(uint64_t *)tensor(st, "arch.step")->data, t);
    for (uint32_t j = 0; j < 64; j++) {
      const char *k = KIND[j / 32];
      double gp = g[j] + s.wd * x[j];
      m[j] = s.beta1 * m[j] + (1 - s.beta1) * gp;
      v[j] = s.beta2 * v[j] + (1 - s.beta2) * gp * gp;
      x[j] -= s.lr * (m[j] / (1 - pow(s.beta1, t))) /
              (sqrt(v[j] / (1 - pow(s.beta2, t))) + 1e-8);
      assert_true(fabs(F64(st, "arch.%s.b", k)[j % 32] - x[j]) < 1e-15);
      assert_true(fabs(F64(st, "arch.%s.m", k)[j % 32] - m[j]) < 1e-15);
      assert_true(fabs(F64(st, "arch.%s.v", k)[j % 32] - v[j]) < 1e-15);
      assert_true(F64(st, "arch.%s.grad", k)[j % 32] == 0); /* cleared */
    }
    dam_st_free(st);
  }
  /* a non-finite gradient is refused and nothing changes */
  st = saved(a);
  float bad[8] = {1, NAN, 0, 0, 0, 0, 0, 0};
  dam_arch_add_grad(a, DAM_CELL_REDUCE, bad, 1.0);
  assert_int_equal(dam_arch_step(a), DAM_EINVAL);
  assert_non_null(strstr(dam_last_error(), "reduce"));
  dam_safetensors *now = saved(a);
  assert_memory_equal(F64(now, "arch.reduce.b"), F64(st, "arch.reduce.b"),
                      32 * sizeof(double));
  assert_memory_equal(F64(now, "arch.normal.m"), F64(st, "arch.normal.m"),
                      32 * sizeof(double));
  assert_int_equal(*(uint64_t *)tensor(now, "arch.step")->data, 3);
  dam_st_free(now);
  dam_st_free(st);
  dam_arch_free(a);
}

/* Random gradients of the current terms into both cells, one step. */
static void train_step(dam_arch *a, uint64_t *rng, bool only_reduce) {
  dam_arch_term t[44 * 8];
  float w[44 * 8], gw[44 * 8];
  for (int c = only_reduce ? 1 : 0; c < 2; c++) {
    uint32_t n = dam_arch_terms(a, c, t, w);
    for (uint32_t k = 0; k < n; k++)
      gw[k] = (float)(normal(rng) + 0.3 * w[k]);
    dam_arch_add_grad(a, c, gw, 1.0);
  }
  assert_int_equal(dam_arch_step(a), 0);
}

static void freezing(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  s.lr = 0.01;
  s.wd = 0;
  /* the codes did not move: every node freezes at the first epoch end */
  s.dist_limit = 1.0;
  dam_arch *a = create(&s);
  uint32_t newly = 0;
  assert_false(dam_arch_done(a));
  dam_arch_epoch_end(a, &newly);
  assert_int_equal(newly, 8);
  assert_true(dam_arch_done(a));
  for (uint32_t i = 0; i < 4; i++)
    assert_true(dam_arch_frozen(a, DAM_CELL_REDUCE, i));
  /* frozen: the weights and codes stay through steps and epochs */
  dam_arch_term t0[8], t1[8];
  float w0[8], w1[8];
  dam_arch_terms(a, DAM_CELL_NORMAL, t0, w0);
  dam_safetensors *before = saved(a);
  uint64_t rng = 1;
  for (int k = 0; k < 3; k++)
    train_step(a, &rng, false);
  dam_arch_epoch_end(a, &newly);
  assert_int_equal(newly, 0);
  dam_safetensors *now = saved(a);
  assert_same_state(before, now);
  dam_arch_terms(a, DAM_CELL_NORMAL, t1, w1);
  assert_memory_equal(t0, t1, sizeof t0);
  assert_memory_equal(w0, w1, sizeof w0);
  dam_st_free(now);
  dam_st_free(before);
  dam_arch_free(a);

  /* a tiny limit and moving codes: nothing freezes */
  s.dist_limit = 1e-12;
  a = create(&s);
  for (int k = 0; k < 10; k++)
    train_step(a, &rng, false);
  dam_arch_epoch_end(a, &newly);
  assert_int_equal(newly, 0);
  assert_false(dam_arch_done(a));

  /* only the reduction cell's codes move (wd 0): the normal cell freezes,
   * and then keeps its codes while the reduction cell goes on */
  s.dist_limit = 1e-8;
  dam_arch_free(a);
  a = create(&s);
  for (int k = 0; k < 10; k++)
    train_step(a, &rng, true);
  dam_arch_epoch_end(a, &newly);
  assert_int_equal(newly, 4);
  for (uint32_t i = 0; i < 4; i++) {
    assert_true(dam_arch_frozen(a, DAM_CELL_NORMAL, i));
    assert_false(dam_arch_frozen(a, DAM_CELL_REDUCE, i));
  }
  /* give the frozen cell Adam moments: they must not move it either */
  dam_safetensors *st = saved(a);
  for (uint32_t j = 0; j < 32; j++) {
    F64(st, "arch.normal.m")[j] = 0.1;
    F64(st, "arch.normal.v")[j] = 0.01;
  }
  load(a, st);
  dam_st_free(st);
  before = saved(a);
  dam_arch_term t[8];
  float w[8], gw[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  dam_arch_terms(a, DAM_CELL_NORMAL, t, w);
  dam_arch_add_grad(a, DAM_CELL_NORMAL, gw, 1.0);
  now = saved(a);
  for (uint32_t j = 0; j < 32; j++)
    assert_true(F64(now, "arch.normal.grad")[j] == 0);
  dam_st_free(now);
  for (int k = 0; k < 5; k++)
    train_step(a, &rng, false);
  now = saved(a);
  for (const char *const *x = (const char *const[]){"b", "m", "v", NULL}; *x;
       x++)
    assert_memory_equal(F64(now, "arch.normal.%s", *x),
                        F64(before, "arch.normal.%s", *x), 32 * sizeof(double));
  assert_memory_not_equal(F64(now, "arch.reduce.b"),
                          F64(before, "arch.reduce.b"), 32 * sizeof(double));
  dam_arch_freeze_all(a);
  assert_true(dam_arch_done(a));
  dam_st_free(now);
  dam_st_free(before);
  dam_arch_free(a);
}

typedef struct budget_ctx {
  bool active;
  uint32_t calls;
  double last;
} budget_ctx;

/* Millions of parameters: one per conv op in the genotype. */
static double count_convs(const dam_genotype *g, void *ctx) {
  budget_ctx *b = ctx;
  double n = 0;
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < g->nodes; i++)
      for (uint32_t k = 0; k < g->cell[c].n_in[i]; k++)
        n += strstr(g->cell[c].in[i][k].op, "conv") != NULL;
  b->calls++;
  b->last = n;
  return b->active ? n : 0;
}

static void budget(void **state) {
  (void)state;
  /* ops max_pool, avg_pool, skip, sep_conv_3x3 */
  budget_ctx ctx = {0};
  dam_arch_settings s = ista_settings();
  s.nodes = s.multiplier = 2;
  s.n_ops = 4;
  s.op_names = DARTS_OPS + 1;
  s.proj_dims = 64;
  s.lasso_lambda = 0;
  s.dist_limit = 1e-6;
  s.param_budget = 1.5;
  s.params_of = count_convs;
  s.params_ctx = &ctx;
  dam_arch *a = create(&s);
  /* no conv anywhere (the callback lets everything through) */
  const double pools0[8] = {1, 0, 0, 0, 0, 0.8, 0, 0};
  const double pools1[12] = {0, 0.9, 0, 0, 0, 0, 1.2, 0, 0, 0, 0, 0};
  for (int c = 0; c < 2; c++) {
    set_code(a, c, 0, 64, 4, pools0);
    set_code(a, c, 1, 64, 4, pools1);
  }
  uint32_t newly = 9;
  dam_arch_epoch_end(a, &newly);
  assert_int_equal(newly, 0);
  assert_int_equal(ctx.calls, 4);
  assert_true(ctx.last == 0);
  /* node 0 asks for two convs (rejected), node 1 for one (accepted); the
   * reduction cell did not move and freezes */
  ctx.active = true;
  const double convs0[8] = {0, 0, 0, 1, 0, 0, 0, 0.7};
  const double conv1[12] = {0, 0.9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.1};
  set_code(a, DAM_CELL_NORMAL, 0, 64, 4, convs0);
  set_code(a, DAM_CELL_NORMAL, 1, 64, 4, conv1);
  dam_safetensors *before = saved(a);
  dam_arch_epoch_end(a, &newly);
  dam_safetensors *now = saved(a);
  assert_int_equal(ctx.calls, 8);
  assert_int_equal(newly, 2);
  assert_false(dam_arch_frozen(a, DAM_CELL_NORMAL, 0));
  assert_false(dam_arch_frozen(a, DAM_CELL_NORMAL, 1));
  assert_true(dam_arch_frozen(a, DAM_CELL_REDUCE, 0));
  assert_true(dam_arch_frozen(a, DAM_CELL_REDUCE, 1));
  assert_memory_equal(F64(now, "arch.normal.z"), F64(before, "arch.normal.z"),
                      8 * sizeof(double));
  assert_memory_equal(U32(now, "arch.normal.support"),
                      U32(before, "arch.normal.support"), 2 * sizeof(uint32_t));
  dam_genotype g;
  dam_arch_genotype(a, &g);
  assert_true(count_convs(&g, &ctx) == 1);
  assert_string_equal(g.cell[0].in[1][1].op, "sep_conv_3x3");
  assert_int_equal(g.cell[0].in[1][1].from, 2);
  dam_st_free(now);
  dam_st_free(before);
  dam_arch_free(a);
}

/* ---- settings, checkpoints, determinism --------------------------------- */

static void bad_settings(void **state) {
  (void)state;
  const char *const unnamed[2] = {"max_pool_3x3", NULL};
  const char *const only_none[1] = {"none"};
  for (int k = 0; k < 19; k++) {
    dam_arch_settings s = k < 14 ? ista_settings() : darts_settings();
    switch (k) {
    case 0: s.method = 2; break;
    case 1: s.nodes = 0; break;
    case 2: s.nodes = 9; break;
    case 3: s.n_ops = 0; break;
    case 4: s.op_names = NULL; break;
    case 5: s.proj_dims = 0; break;
    case 6: s.sparseness = 0; break;
    case 7: s.sparseness = 3; break;
    case 8: s.lr = 0; break;
    case 9: s.beta1 = 1.0; break;
    case 10: s.beta2 = -0.1; break;
    case 11: s.param_budget = 3.0; break; /* no params_of */
    case 12: s.n_ops = 2, s.op_names = unnamed; break;
    case 13: s.lasso_lambda = NAN; break;
    case 14: s.n_ops = 1, s.op_names = only_none; break;
    case 15: s.none_op = 8; break;
    case 16: s.none_op = -2; break;
    case 17: s.multiplier = 5; break;
    case 18: s.lr = INFINITY; break;
    }
    dam_arch *a = (dam_arch *)&s;
    dam_clear_error();
    assert_int_equal(dam_arch_create(&s, &a), DAM_EINVAL);
    assert_null(a);
    assert_true(strlen(dam_last_error()) > 10);
  }
  /* DARTS needs neither proj_dims nor sparseness */
  dam_arch_settings s = darts_settings();
  dam_arch *a = create(&s);
  assert_false(dam_arch_done(a));
  dam_arch_free(a);
}

static void run(dam_arch *a, uint64_t *rng, int steps) {
  for (int k = 0; k < steps; k++) {
    train_step(a, rng, false);
    if (k % 4 == 3)
      dam_arch_epoch_end(a, NULL);
  }
}

static void check_round_trip(dam_arch_settings s) {
  dam_arch *a = create(&s);
  uint64_t rng_a = 99;
  run(a, &rng_a, 10);
  const char *path = tmpdir_path("arch.safetensors");
  dam_safetensors *st = saved(a), *read = NULL;
  assert_int_equal(dam_st_write(st, path), 0);
  assert_int_equal(dam_st_read(path, &read), 0);
  s.seed += 1000; /* everything comes from the checkpoint */
  dam_arch *b = create(&s);
  load(b, read);
  uint64_t rng_b = rng_a;
  run(a, &rng_a, 13);
  run(b, &rng_b, 13);
  for (int c = 0; c < 2; c++) {
    uint32_t max = dam_arch_max_terms(a);
    dam_arch_term *ta = calloc(max, sizeof *ta), *tb = calloc(max, sizeof *tb);
    float *wa = calloc(max, sizeof *wa), *wb = calloc(max, sizeof *wb);
    uint32_t n = dam_arch_terms(a, c, ta, wa);
    assert_int_equal(dam_arch_terms(b, c, tb, wb), n);
    assert_memory_equal(ta, tb, n * sizeof *ta);
    assert_memory_equal(wa, wb, n * sizeof *wa);
    free(ta), free(tb), free(wa), free(wb);
  }
  dam_safetensors *sa = saved(a), *sb = saved(b);
  assert_same_state(sa, sb);

  /* refusals leave the arch as it was */
  const char *x = s.method == DAM_ARCH_ISTA ? "arch.normal.b"
                                            : "arch.normal.alphas";
  dam_safetensors *bad = copy_except(read, x);
  dam_st_tensor *good = tensor(read, "%s", x);
  uint64_t shape[2] = {good->shape[0], good->shape[1] + 1};
  double *big = calloc(shape[0] * shape[1], sizeof *big);
  assert_int_equal(dam_st_add(bad, x, DAM_ST_F64, 2, shape, big), 0);
  assert_int_equal(dam_arch_load(b, bad), DAM_EDATA);
  assert_non_null(strstr(dam_last_error(), x));
  dam_st_free(bad);
  bad = copy_except(read, x); /* wrong dtype */
  assert_int_equal(dam_st_add(bad, x, DAM_ST_F32, 2, good->shape, big), 0);
  assert_int_equal(dam_arch_load(b, bad), DAM_EDATA);
  dam_st_free(bad);
  bad = copy_except(read, "arch.reduce.m"); /* missing */
  assert_int_equal(dam_arch_load(b, bad), DAM_ENOTFOUND);
  assert_non_null(strstr(dam_last_error(), "arch.reduce.m"));
  dam_st_free(bad);
  bad = copy_except(read, NULL); /* a NaN code */
  F64(bad, "arch.reduce.%s", s.method == DAM_ARCH_ISTA ? "b" : "alphas")[1] =
      NAN;
  assert_int_equal(dam_arch_load(b, bad), DAM_EDATA);
  if (s.method == DAM_ARCH_ISTA) { /* a support that is not z's */
    dam_st_free(bad);
    bad = copy_except(read, NULL);
    uint32_t *sup = U32(bad, "arch.normal.support");
    sup[0] = sup[0] % 7 == 6 ? sup[0] - 1 : sup[0] + 1;
    assert_int_equal(dam_arch_load(b, bad), DAM_EDATA);
    assert_non_null(strstr(dam_last_error(), "support"));
  }
  dam_safetensors *still = saved(b);
  assert_same_state(sb, still);
  /* a checkpoint of the other method */
  dam_arch_settings o = s.method == DAM_ARCH_ISTA ? darts_settings()
                                                  : ista_settings();
  dam_arch *other = create(&o);
  assert_int_equal(dam_arch_load(other, read), DAM_EDATA);
  assert_non_null(strstr(dam_last_error(), "arch.method"));
  dam_arch_free(other);
  free(big);
  dam_st_free(still);
  dam_st_free(bad);
  dam_st_free(sa);
  dam_st_free(sb);
  dam_st_free(read);
  dam_st_free(st);
  dam_arch_free(a);
  dam_arch_free(b);
}

static void round_trip_ista(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  s.lr = 0.01;
  s.dist_limit = 0.05; /* some nodes freeze on the way */
  check_round_trip(s);
}

static void round_trip_darts(void **state) {
  (void)state;
  check_round_trip(darts_settings());
}

static void deterministic(void **state) {
  (void)state;
  for (int m = 0; m < 2; m++) {
    dam_arch_settings s = m ? darts_settings() : ista_settings();
    dam_arch *a = create(&s), *b = create(&s);
    s.seed++;
    dam_arch *c = create(&s);
    uint32_t max = dam_arch_max_terms(a), n;
    dam_arch_term *ta = calloc(max, sizeof *ta), *tb = calloc(max, sizeof *tb);
    float *wa = calloc(max, sizeof *wa), *wb = calloc(max, sizeof *wb);
    n = dam_arch_terms(a, DAM_CELL_REDUCE, ta, wa);
    assert_int_equal(dam_arch_terms(b, DAM_CELL_REDUCE, tb, wb), n);
    assert_memory_equal(ta, tb, n * sizeof *ta);
    assert_memory_equal(wa, wb, n * sizeof *wa);
    dam_arch_terms(c, DAM_CELL_REDUCE, tb, wb);
    assert_memory_not_equal(wa, wb, n * sizeof *wa);
    free(ta), free(tb), free(wa), free(wb);
    dam_arch_free(a);
    dam_arch_free(b);
    dam_arch_free(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(adam_step),        cmocka_unit_test(freezing),
      cmocka_unit_test(budget),           cmocka_unit_test(bad_settings),
      cmocka_unit_test(round_trip_ista),  cmocka_unit_test(round_trip_darts),
      cmocka_unit_test(deterministic),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
