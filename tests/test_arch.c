/*
 * The architecture relaxations on the host (core/arch.c), no device.  The
 * arch's state is read and set through its checkpoint tensors: the LASSO
 * solution meets the KKT conditions; the support rule (the last op can
 * win, none never does, the best edges are kept); ISTA's weights against
 * the formula; the code gradients of ISTA and DARTS against central
 * differences of a quadratic loss; Adam against a hand-computed step;
 * freezing; the parameter budget; DARTS' genotype and its final network;
 * bad settings; checkpoint round trips and refusals; determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch.h"
#include "error.h"
#include "rng.h"
#include "safetensors.h"
#include "tmpdir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DARTS_OPS[] = {
    "none",         "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"};
static const char *const KIND[2] = {"normal", "reduce"};

/* ---- helpers --------------------------------------------------------- */

static uint32_t off(uint32_t i) { return i * (i + 3) / 2; }

/* The DHA defaults: 4 nodes, the 7 ops without none. */
static dam_arch_settings ista_settings(void) {
  return (dam_arch_settings){
      .method = DAM_ARCH_ISTA, .nodes = 4, .multiplier = 4, .n_ops = 7,
      .op_names = DARTS_OPS + 1, .none_op = -1, .proj_dims = 8,
      .sparseness = 2, .dist_limit = 1e-3, .lasso_lambda = 1e-5,
      .lr = 3e-4, .beta1 = 0.5, .beta2 = 0.999, .wd = 1e-3, .seed = 11};
}

static dam_arch_settings darts_settings(void) {
  return (dam_arch_settings){
      .method = DAM_ARCH_DARTS, .nodes = 4, .multiplier = 4, .n_ops = 8,
      .op_names = DARTS_OPS, .none_op = 0, .lr = 3e-4, .beta1 = 0.5,
      .beta2 = 0.999, .wd = 1e-3, .seed = 5};
}

static dam_arch *create(const dam_arch_settings *s) {
  dam_arch *a = NULL;
  int rc = dam_arch_create(s, &a);
  if (rc)
    fail_msg("create: %s", dam_last_error());
  return a;
}

static dam_safetensors *saved(const dam_arch *a) {
  dam_safetensors *st = dam_st_new();
  assert_non_null(st);
  assert_int_equal(dam_arch_save(a, st), 0);
  return st;
}

static void load(dam_arch *a, const dam_safetensors *st) {
  int rc = dam_arch_load(a, st);
  if (rc)
    fail_msg("load: %s", dam_last_error());
}

static dam_st_tensor *tensor(dam_safetensors *st, const char *fmt, ...) {
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

#define F64(st, ...) ((double *)tensor(st, __VA_ARGS__)->data)
#define U32(st, ...) ((uint32_t *)tensor(st, __VA_ARGS__)->data)

/* Every tensor of a equal, byte for byte, to b's. */
static void assert_same_state(dam_safetensors *a, dam_safetensors *b) {
  assert_int_equal(a->n, b->n);
  for (uint32_t j = 0; j < a->n; j++) {
    dam_st_tensor *t = tensor(b, "%s", a->t[j].name);
    assert_int_equal(t->nbytes, a->t[j].nbytes);
    assert_memory_equal(t->data, a->t[j].data, t->nbytes);
  }
}

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

static double normal(uint64_t *rng) {
  double u1 = 1.0 - dam_uniform01(rng), u2 = dam_uniform01(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Set ISTA node i's code b to A_i zstar (through a checkpoint). */
static void set_code(dam_arch *a, int cell, uint32_t i, uint32_t P,
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
      cmocka_unit_test(lasso_kkt),        cmocka_unit_test(support_rule),
      cmocka_unit_test(ista_weights),     cmocka_unit_test(ista_gradient),
      cmocka_unit_test(darts_gradient),   cmocka_unit_test(darts_genotype),
      cmocka_unit_test(adam_step),        cmocka_unit_test(freezing),
      cmocka_unit_test(budget),           cmocka_unit_test(bad_settings),
      cmocka_unit_test(round_trip_ista),  cmocka_unit_test(round_trip_darts),
      cmocka_unit_test(deterministic),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
