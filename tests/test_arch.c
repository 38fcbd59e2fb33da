/*
 * The architecture relaxations on the host (core/arch.c), no device: the
 * arch's state is read and set through its checkpoint tensors
 * (arch_fixtures.h).  The LASSO solution meets the KKT conditions; the
 * support rule (the last op can win, none never does, the best edges are
 * kept); ISTA's weights against the formula; the code gradients of ISTA
 * and DARTS against central differences of a quadratic loss; DARTS'
 * genotype and its final network.  test_arch_state.c has the rest.
 */
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
#include <stdlib.h>
#include <string.h>

/* ISTA's weights of node i for code b, from the checkpoint st:
 * w = A_S^T b - (A_S^T A_S - I) z_S. */
static uint32_t ref_ista_w(dam_safetensors *st, int cell, uint32_t i,
                           uint32_t P, uint32_t n_ops, const double *b,
                           double *w) {
  const double *A = F64(st, "arch.%s.A.%u", KIND[cell], i);
  const double *z = F64(st, "arch.%s.z", KIND[cell]) + n_ops * off(i);
  const uint32_t *sup = U32(st, "arch.%s.support", KIND[cell]) + 2 * i;
  uint32_t cols = (i + 2) * n_ops, k = sup[1] == UINT32_MAX ? 1 : 2;
  for (uint32_t s = 0; s < k; s++) {
    w[s] = z[sup[s]];
    for (uint32_t p = 0; p < P; p++)
      w[s] += A[p * cols + sup[s]] * b[p];
    for (uint32_t l = 0; l < k; l++)
      for (uint32_t p = 0; p < P; p++)
        w[s] -= A[p * cols + sup[s]] * A[p * cols + sup[l]] * z[sup[l]];
  }
  return k;
}

/* ---- ISTA -------------------------------------------------------------- */

/* KKT of min (1/2P)||b - Az||^2 + lambda ||z||_1 at every node:
 * |A_j^T r| / P <= lambda, = lambda sign(z_j) where z_j != 0. */
static void check_kkt(dam_arch *a, uint32_t P, uint32_t nodes, uint32_t n_ops,
                      double lambda, uint32_t *nonzero, uint32_t *zero) {
  dam_safetensors *st = saved(a);
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < nodes; i++) {
      const double *A = F64(st, "arch.%s.A.%u", KIND[c], i);
      const double *b = F64(st, "arch.%s.b", KIND[c]) + i * P;
      const double *z = F64(st, "arch.%s.z", KIND[c]) + n_ops * off(i);
      uint32_t cols = (i + 2) * n_ops;
      double r[64];
      for (uint32_t p = 0; p < P; p++) {
        r[p] = b[p];
        for (uint32_t j = 0; j < cols; j++)
          r[p] -= A[p * cols + j] * z[j];
      }
      for (uint32_t j = 0; j < cols; j++) {
        double corr = 0, norm = 0;
        for (uint32_t p = 0; p < P; p++) {
          corr += A[p * cols + j] * r[p] / P;
          norm += A[p * cols + j] * A[p * cols + j];
        }
        assert_true(fabs(norm - 1) < 1e-12); /* unit columns */
        if (z[j] == 0) {
          assert_true(fabs(corr) <= lambda + 1e-9 * (1 + lambda));
          ++*zero;
        } else {
          assert_true(fabs(corr - copysign(lambda, z[j])) <= 1e-9);
          ++*nonzero;
        }
      }
    }
  dam_st_free(st);
}

static void lasso_kkt(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  dam_arch *a = create(&s);
  uint32_t nz = 0, zero = 0;
  check_kkt(a, 8, 4, 7, s.lasso_lambda, &nz, &zero);
  print_message("lambda %g: %u nonzero, %u zero\n", s.lasso_lambda, nz, zero);
  assert_true(nz > 0 && zero > 0);
  dam_arch_free(a);

  /* larger codes and penalty, re-solved at the epoch's end */
  s.lasso_lambda = 0.02;
  s.proj_dims = 16;
  s.dist_limit = 0;
  a = create(&s);
  dam_safetensors *st = saved(a);
  uint64_t rng = 3;
  for (int c = 0; c < 2; c++)
    for (uint32_t j = 0; j < 4 * 16; j++)
      F64(st, "arch.%s.b", KIND[c])[j] = normal(&rng);
  load(a, st);
  uint32_t newly = 99;
  dam_arch_epoch_end(a, &newly);
  assert_int_equal(newly, 0);
  nz = zero = 0;
  check_kkt(a, 16, 4, 7, s.lasso_lambda, &nz, &zero);
  print_message("lambda %g: %u nonzero, %u zero\n", s.lasso_lambda, nz, zero);
  assert_true(nz > 8 && zero > 8);
  dam_st_free(st);
  dam_arch_free(a);
}

/* 2 nodes, ops {none, max_pool, skip, sep_conv}: with lambda 0 and more
 * rows than columns the LASSO recovers z* from b = A z* exactly. */
static void support_rule(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  s.nodes = s.multiplier = 2;
  s.n_ops = 4;
  s.op_names = DARTS_OPS; /* none, max_pool, avg_pool, skip */
  s.none_op = 0;
  s.proj_dims = 64;
  s.lasso_lambda = 0;
  s.dist_limit = 0;
  dam_arch *a = create(&s);
  /* node 0: input 0's last op wins; input 1's none (2.0) is skipped for
   * op 2 (|-0.5|).  node 1: inputs 1 (0.7) and 2 (0.6) beat input 0, whose
   * none entry (5.0) does not count. */
  const double z0[8] = {0, 0.3, 0, 0.9, 2.0, 0.2, -0.5, 0};
  const double z1[12] = {5.0, 0.4, 0, 0, 0, 0.1, 0, -0.7, 0, 0.2, 0.6, 0};
  set_code(a, DAM_CELL_NORMAL, 0, 64, 4, z0);
  set_code(a, DAM_CELL_NORMAL, 1, 64, 4, z1);
  dam_arch_epoch_end(a, NULL);

  dam_safetensors *st = saved(a);
  const double *z = F64(st, "arch.normal.z");
  for (uint32_t j = 0; j < 8; j++)
    assert_true(fabs(z[j] - z0[j]) < 1e-6);
  for (uint32_t j = 0; j < 12; j++)
    assert_true(fabs(z[8 + j] - z1[j]) < 1e-6);
  dam_st_free(st);

  dam_arch_term t[4];
  float w[4];
  assert_int_equal(dam_arch_max_terms(a), 4);
  assert_int_equal(dam_arch_terms(a, DAM_CELL_NORMAL, t, w), 4);
  const dam_arch_term want[4] = {{0, 0, 3}, {0, 1, 2}, {1, 1, 3}, {1, 2, 2}};
  assert_memory_equal(t, want, sizeof want);
  dam_genotype g;
  dam_arch_genotype(a, &g);
  assert_int_equal(g.nodes, 2);
  assert_int_equal(g.cell[0].n_in[1], 2);
  assert_int_equal(g.cell[0].in[1][0].from, 1);
  assert_string_equal(g.cell[0].in[0][0].op, "skip_connect");
  assert_string_equal(g.cell[0].in[0][1].op, "avg_pool_3x3");
  assert_string_equal(g.cell[0].in[1][1].op, "avg_pool_3x3");
  dam_arch_free(a);

  /* sparseness 1: one edge per node, the best one; a little shrinkage
   * (lambda > 0) leaves the winner, and zero codes tie: lower indices */
  s.sparseness = 1;
  s.lasso_lambda = 1e-4;
  a = create(&s);
  set_code(a, DAM_CELL_NORMAL, 1, 64, 4, z1);
  const double zero[12] = {0};
  set_code(a, DAM_CELL_REDUCE, 0, 64, 4, zero);
  set_code(a, DAM_CELL_REDUCE, 1, 64, 4, zero);
  dam_arch_epoch_end(a, NULL);
  assert_int_equal(dam_arch_max_terms(a), 4);
  assert_int_equal(dam_arch_terms(a, DAM_CELL_NORMAL, t, w), 2);
  const dam_arch_term one = {1, 1, 3};
  assert_memory_equal(&t[1], &one, sizeof one);
  assert_int_equal(dam_arch_terms(a, DAM_CELL_REDUCE, t, w), 2);
  const dam_arch_term ties[2] = {{0, 0, 1}, {1, 0, 1}};
  assert_memory_equal(t, ties, sizeof ties);
  dam_arch_genotype(a, &g);
  assert_int_equal(g.cell[1].n_in[1], 1);
  assert_string_equal(g.cell[1].in[1][0].op, "max_pool_3x3");
  dam_arch_free(a);
}

/* Terms and genotype weights against the formula, in double. */
static void ista_weights(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  dam_arch *a = create(&s);
  dam_safetensors *st = saved(a);
  dam_arch_term t[8];
  float w[8];
  dam_genotype g;
  dam_arch_genotype(a, &g);
  assert_int_equal(g.multiplier, 4);
  double worst = 0;
  for (int c = 0; c < 2; c++) {
    assert_int_equal(dam_arch_terms(a, c, t, w), 8);
    const uint32_t *sup = U32(st, "arch.%s.support", KIND[c]);
    for (uint32_t i = 0, n = 0; i < 4; i++) {
      double ref[2];
      const double *b = F64(st, "arch.%s.b", KIND[c]) + i * 8;
      assert_int_equal(ref_ista_w(st, c, i, 8, 7, b, ref), 2);
      assert_true(sup[2 * i] / 7 < sup[2 * i + 1] / 7);
      for (uint32_t k = 0; k < 2; k++, n++) {
        assert_int_equal(t[n].node, i);
        assert_int_equal(t[n].from, sup[2 * i + k] / 7);
        assert_int_equal(t[n].op, sup[2 * i + k] % 7);
        assert_true(fabs(ref[k]) > 1e-6);
        worst = fmax(worst, fabs(w[n] - ref[k]) / fabs(ref[k]));
        assert_int_equal(g.cell[c].in[i][k].from, t[n].from);
        assert_string_equal(g.cell[c].in[i][k].op, DARTS_OPS[1 + t[n].op]);
        assert_true(g.cell[c].in[i][k].weight == w[n]);
      }
    }
  }
  print_message("ista weights: worst relative error %.2e\n", worst);
  assert_true(worst < 1e-6);
  dam_st_free(st);
  dam_arch_free(a);
}

/* L(w) = sum_k c_k w_k + d_k w_k^2 / 2 over a cell's terms. */
static double quad_loss(const double *w, uint32_t n, double *gw) {
  double loss = 0;
  for (uint32_t k = 0; k < n; k++) {
    double c = 0.5 + 0.25 * k, d = 1.0 + 0.5 * (k % 3);
    loss += c * w[k] + 0.5 * d * w[k] * w[k];
    if (gw)
      gw[k] = c + d * w[k];
  }
  return loss;
}

/* ISTA: d L(w(b)) / db through dam_arch_add_grad against a central
 * difference of L(w(b)) with w computed in double by the formula. */
static void ista_gradient(void **state) {
  (void)state;
  dam_arch_settings s = ista_settings();
  dam_arch *a = create(&s);
  dam_safetensors *st = saved(a);
  uint64_t rng = 17;
  for (int c = 0; c < 2; c++) /* codes of order one: w far from z */
    for (uint32_t j = 0; j < 32; j++)
      F64(st, "arch.%s.b", KIND[c])[j] = normal(&rng);
  load(a, st);
  const double scale = 0.7;
  for (int c = 0; c < 2; c++) {
    dam_arch_term t[8];
    float w[8], gw[8];
    double wd[8], g[8];
    assert_int_equal(dam_arch_terms(a, c, t, w), 8);
    for (uint32_t k = 0; k < 8; k++)
      wd[k] = w[k];
    quad_loss(wd, 8, g);
    for (uint32_t k = 0; k < 8; k++)
      gw[k] = (float)g[k];
    dam_arch_add_grad(a, c, gw, scale);
  }
  dam_safetensors *after = saved(a);
  double worst = 0, top = 0;
  for (int c = 0; c < 2; c++) {
    double *b = F64(st, "arch.%s.b", KIND[c]);
    const double *grad = F64(after, "arch.%s.grad", KIND[c]);
    for (uint32_t j = 0; j < 32; j++) {
      double keep = b[j], h = 1e-3, loss[2];
      for (int side = 0; side < 2; side++) {
        double w[8];
        b[j] = keep + (side ? -h : h);
        for (uint32_t i = 0; i < 4; i++)
          ref_ista_w(st, c, i, 8, 7, b + 8 * i, w + 2 * i);
        loss[side] = quad_loss(w, 8, NULL);
      }
      b[j] = keep;
      double fd = scale * (loss[0] - loss[1]) / (2 * h);
      worst = fmax(worst, fabs(fd - grad[j]));
      top = fmax(top, fabs(fd));
    }
  }
  print_message("ista gradient: worst error %.2e of %.2e\n", worst, top);
  assert_true(top > 0.1 && worst < 1e-6 * top);
  dam_st_free(after);
  dam_st_free(st);
  dam_arch_free(a);
}

/* ---- DARTS ------------------------------------------------------------- */

static void softmax(const double *x, uint32_t n, double *p) {
  double top = x[0], sum = 0;
  for (uint32_t j = 1; j < n; j++)
    top = fmax(top, x[j]);
  for (uint32_t j = 0; j < n; j++)
    sum += p[j] = exp(x[j] - top);
  for (uint32_t j = 0; j < n; j++)
    p[j] /= sum;
}

/* The DARTS terms' loss from alphas [E][8] (op 0 is none). */
static double darts_loss(const double *alphas, uint32_t E, double *gw) {
  double w[44 * 7], p[8];
  uint32_t n = 0;
  for (uint32_t e = 0; e < E; e++) {
    softmax(alphas + 8 * e, 8, p);
    for (uint32_t o = 1; o < 8; o++)
      w[n++] = p[o];
  }
  return quad_loss(w, n, gw);
}

static void darts_gradient(void **state) {
  (void)state;
  dam_arch_settings s = darts_settings();
  dam_arch *a = create(&s);
  const uint32_t E = 14, N = E * 7;
  dam_safetensors *st = saved(a);
  double *alphas = F64(st, "arch.normal.alphas");
  uint64_t rng = 23;
  for (uint32_t j = 0; j < E * 8; j++)
    alphas[j] = normal(&rng);
  load(a, st);
  dam_arch_term t[14 * 8];
  float w[14 * 8], gw[14 * 7];
  double g[14 * 7], p[8];
  assert_int_equal(dam_arch_max_terms(a), 14 * 8);
  assert_int_equal(dam_arch_terms(a, DAM_CELL_NORMAL, t, w), N);
  for (uint32_t i = 0, n = 0; i < 4; i++)
    for (uint32_t f = 0; f < i + 2; f++) {
      softmax(alphas + 8 * (off(i) + f), 8, p);
      for (uint32_t o = 1; o < 8; o++, n++) {
        const dam_arch_term want = {i, f, o};
        assert_memory_equal(&t[n], &want, sizeof want);
        assert_true(fabs(w[n] - p[o]) <= 1e-7 * p[o]);
      }
    }
  darts_loss(alphas, E, g);
  for (uint32_t k = 0; k < N; k++)
    gw[k] = (float)g[k];
  dam_arch_add_grad(a, DAM_CELL_NORMAL, gw, 0.5); /* accumulates */
  dam_arch_add_grad(a, DAM_CELL_NORMAL, gw, 0.5);
  dam_safetensors *after = saved(a);
  const double *grad = F64(after, "arch.normal.grad");
  double worst = 0, top = 0;
  for (uint32_t j = 0; j < E * 8; j++) {
    double keep = alphas[j], h = 1e-5;
    alphas[j] = keep + h;
    double up = darts_loss(alphas, E, NULL);
    alphas[j] = keep - h;
    double down = darts_loss(alphas, E, NULL);
    alphas[j] = keep;
    double fd = (up - down) / (2 * h);
    worst = fmax(worst, fabs(fd - grad[j]));
    top = fmax(top, fabs(fd));
  }
  print_message("darts gradient: worst error %.2e of %.2e\n", worst, top);
  assert_true(top > 0.1 && worst < 1e-6 * top);
  assert_true(grad[0] != 0); /* none takes a gradient through the softmax */
  for (uint32_t j = 0; j < E * 8; j++)
    assert_true(F64(after, "arch.reduce.grad")[j] == 0);
  dam_st_free(after);
  dam_st_free(st);
  dam_arch_free(a);
}

/* DARTS' parse, recomputed here: per node the min(2, i+2) edges with the
 * largest non-none softmax weight, each with its best non-none op. */
static void check_darts_genotype(dam_arch *a, dam_safetensors *st) {
  dam_genotype g;
  dam_arch_genotype(a, &g);
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < 4; i++) {
      const double *al = F64(st, "arch.%s.alphas", KIND[c]);
      double top[6], p[8];
      uint32_t best[6], keep[2];
      for (uint32_t f = 0; f < i + 2; f++) {
        softmax(al + 8 * (off(i) + f), 8, p);
        best[f] = 1;
        for (uint32_t o = 2; o < 8; o++)
          if (p[o] > p[best[f]])
            best[f] = o;
        top[f] = p[best[f]];
      }
      for (int k = 0; k < 2; k++) { /* top two, ties to the lower input */
        keep[k] = UINT32_MAX;
        for (uint32_t f = 0; f < i + 2; f++)
          if ((k == 0 || f != keep[0]) &&
              (keep[k] == UINT32_MAX || top[f] > top[keep[k]]))
            keep[k] = f;
      }
      if (keep[0] > keep[1]) {
        uint32_t swap = keep[0];
        keep[0] = keep[1], keep[1] = swap;
      }
      assert_int_equal(g.cell[c].n_in[i], 2);
      for (int k = 0; k < 2; k++) {
        const dam_genotype_edge *e = &g.cell[c].in[i][k];
        assert_int_equal(e->from, keep[k]);
        assert_string_not_equal(e->op, "none");
        assert_string_equal(e->op, DARTS_OPS[best[keep[k]]]);
        assert_true(e->weight == (float)top[keep[k]]);
      }
    }
}

static void darts_genotype(void **state) {
  (void)state;
  dam_arch_settings s = darts_settings();
  dam_arch *a = create(&s);
  dam_safetensors *st = saved(a);
  double *al = F64(st, "arch.normal.alphas");
  memset(al, 0, 14 * 8 * sizeof *al);
  /* node 0: input 0's none dominates, its best real op is dil_conv_5x5
   * (the last); node 1: input 0 is all none, inputs 1 and 2 are kept */
  al[0] = 10, al[1] = 1, al[7] = 2;
  al[8 + 3] = 3;
  al[16] = 20, al[16 + 4] = 0.5;
  al[24 + 1] = 2;
  al[32 + 4] = 1.5;
  load(a, st);
  check_darts_genotype(a, st);
  dam_genotype g;
  dam_arch_genotype(a, &g);
  assert_string_equal(g.cell[0].in[0][0].op, "dil_conv_5x5");
  assert_int_equal(g.cell[0].in[1][0].from, 1);
  assert_int_equal(g.cell[0].in[1][1].from, 2);
  for (uint64_t seed = 1; seed <= 20; seed++) { /* random alphas */
    uint64_t rng = seed;
    for (int c = 0; c < 2; c++)
      for (uint32_t j = 0; j < 14 * 8; j++)
        F64(st, "arch.%s.alphas", KIND[c])[j] = 2 * normal(&rng);
    load(a, st);
    check_darts_genotype(a, st);
  }

  /* freeze_all: the final network is the genotype, and it stays */
  dam_arch_term t[14 * 8];
  float w[14 * 8], gw[14 * 8];
  dam_arch_freeze_all(a);
  assert_int_equal(dam_arch_terms(a, DAM_CELL_NORMAL, t, w), 8);
  dam_arch_genotype(a, &g);
  for (uint32_t n = 0; n < 8; n++) {
    const dam_genotype_edge *e = &g.cell[0].in[n / 2][n % 2];
    assert_int_equal(t[n].node, n / 2);
    assert_int_equal(t[n].from, e->from);
    assert_string_equal(DARTS_OPS[t[n].op], e->op);
    assert_true(w[n] == e->weight);
    gw[n] = 1.0f;
  }
  dam_safetensors *before = saved(a);
  dam_arch_add_grad(a, DAM_CELL_NORMAL, gw, 1.0);
  assert_int_equal(dam_arch_step(a), 0);
  dam_arch_epoch_end(a, NULL);
  dam_safetensors *now = saved(a);
  assert_same_state(before, now);
  assert_false(dam_arch_done(a));
  assert_false(dam_arch_frozen(a, DAM_CELL_NORMAL, 0));
  dam_st_free(now);
  dam_st_free(before);
  dam_st_free(st);
  dam_arch_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lasso_kkt),      cmocka_unit_test(support_rule),
      cmocka_unit_test(ista_weights),   cmocka_unit_test(ista_gradient),
      cmocka_unit_test(darts_gradient), cmocka_unit_test(darts_genotype),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
