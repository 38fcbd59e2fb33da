/*
 * The architecture relaxations of arch.h on the host, in double precision:
 * ISTA single-stage (per node a fixed random dictionary A_i, a learnable
 * code b_i, a sparse code z_i recovered from it by LASSO once per epoch, and
 * support weights w = A_S^T b - (A_S^T A_S - I) z_S) and DARTS (a softmax
 * over the ops of every edge); Adam on the codes, freezing, the derived
 * genotype and the checkpoint tensors.  Formulas and choices: docs/NAS.md.
 */
#include "arch.h"
#include "error.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES DAM_GENOTYPE_MAX_NODES
#define MAX_INPUTS (MAX_NODES + 1)
#define MAX_OPS 1024
#define MAX_PROJ 4096
#define INIT_SCALE 1e-3
#define LASSO_TOL 1e-10
#define LASSO_SWEEPS 10000
#define ADAM_EPS 1e-8
#define NO_COL UINT32_MAX
#define TWO_PI 6.283185307179586476925

static const char *const dam__kind[2] = {"normal", "reduce"};

typedef struct dam__cell {
  double *x, *g, *m, *v; /* codes, gradient, Adam moments: ISTA b
                            [nodes][proj_dims], DARTS alphas [E][n_ops] */
  double *A;             /* ISTA: node i's proj_dims x (i+2)*n_ops
                            dictionary, row-major, at A + P*n_ops*off(i) */
  double *z;             /* ISTA: sparse codes [E][n_ops] */
  uint32_t sup[MAX_NODES][2]; /* ISTA: support columns (from*n_ops + op),
                                 increasing from; NO_COL when unused */
  bool frozen[MAX_NODES];
} dam__cell;

struct dam_arch {
  dam_arch_settings s; /* s.op_names is not kept: names holds copies */
  char *names;         /* [n_ops][DAM_GENOTYPE_OP_NAME] */
  uint32_t E, nx;      /* edges per cell, codes per cell */
  uint64_t t;          /* Adam steps taken */
  bool fixed;          /* DARTS after freeze_all */
  dam__cell c[2];
  double *scratch;     /* ISTA: a z (max cols) and a residual (proj_dims) */
  double *mem;
};

/* ---- geometry -------------------------------------------------------- */

/* First edge of node i: sum_{j<i} (j + 2). */
static uint32_t dam__off(uint32_t i) { return i * (i + 3) / 2; }

static bool dam__ista(const dam_arch *a) {
  return a->s.method == DAM_ARCH_ISTA;
}

static uint32_t dam__cols(const dam_arch *a, uint32_t i) {
  return (i + 2) * a->s.n_ops;
}

static uint32_t dam__nsup(const dam_arch *a, uint32_t i) {
  return a->s.sparseness < i + 2 ? a->s.sparseness : i + 2;
}

static const double *dam__A(const dam_arch *a, int c, uint32_t i) {
  return a->c[c].A + (size_t)a->s.proj_dims * a->s.n_ops * dam__off(i);
}

static const char *dam__op(const dam_arch *a, uint32_t op) {
  return a->names + (size_t)op * DAM_GENOTYPE_OP_NAME;
}

/* ---- numerics -------------------------------------------------------- */

/* A standard normal by Box-Muller (the cosine branch only). */
static double dam__normal(uint64_t *rng) {
  double u1 = 1.0 - dam_uniform01(rng), u2 = dam_uniform01(rng);
  return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

static void dam__softmax(const double *x, uint32_t n, double *p) {
  double top = -INFINITY, sum = 0;
  for (uint32_t j = 0; j < n; j++)
    top = fmax(top, x[j]);
  for (uint32_t j = 0; j < n; j++)
    sum += p[j] = exp(x[j] - top);
  for (uint32_t j = 0; j < n; j++)
    p[j] /= sum;
}

/* z = argmin (1/(2P)) ||b - A z||^2 + lambda ||z||_1 (A: P x n, row-major)
 * by cyclic coordinate descent with soft-thresholding, warm-started from
 * z, until no coordinate moves by LASSO_TOL or LASSO_SWEEPS sweeps.  The
 * residual r (P entries, scratch) is recomputed at each sweep. */
static void dam__lasso(const double *A, uint32_t P, uint32_t n,
                       const double *b, double lambda, double *z, double *r) {
  const double thr = P * lambda;
  for (int sweep = 0; sweep < LASSO_SWEEPS; sweep++) {
    for (uint32_t p = 0; p < P; p++) {
      r[p] = b[p];
      for (uint32_t j = 0; j < n; j++)
        r[p] -= A[(size_t)p * n + j] * z[j];
    }
    double moved = 0;
    for (uint32_t j = 0; j < n; j++) {
      double n2 = 0, rho = 0;
      for (uint32_t p = 0; p < P; p++) {
        double e = A[(size_t)p * n + j];
        n2 += e * e;
        rho += e * r[p];
      }
      double old = z[j], t = rho + n2 * old, next = 0;
      if (n2 > 0)
        next = t > thr ? (t - thr) / n2 : t < -thr ? (t + thr) / n2 : 0;
      if (next == old)
        continue;
      for (uint32_t p = 0; p < P; p++)
        r[p] -= A[(size_t)p * n + j] * (next - old);
      moved = fmax(moved, fabs(next - old));
      z[j] = next;
    }
    if (moved < LASSO_TOL)
      break;
  }
}

/* The k of m inputs with the largest score (ties: the lower input), written
 * to keep in increasing order. */
static void dam__top_inputs(const double *score, uint32_t m, uint32_t k,
                            uint32_t *keep) {
  bool taken[MAX_INPUTS] = {false};
  for (uint32_t s = 0; s < k; s++) {
    uint32_t best = NO_COL;
    for (uint32_t f = 0; f < m; f++)
      if (!taken[f] && (best == NO_COL || score[f] > score[best]))
        best = f;
    taken[best] = true;
  }
  for (uint32_t f = 0, n = 0; f < m; f++)
    if (taken[f])
      keep[n++] = f;
}

/* ISTA's support of node i from its code z: on each input the op with the
 * largest |z| (never none_op; ties: the lower op), then the nsup inputs
 * whose best |z| is largest, as columns from*n_ops + op. */
static void dam__pick(const dam_arch *a, uint32_t i, const double *z,
                      uint32_t sup[2]) {
  uint32_t n_ops = a->s.n_ops, best[MAX_INPUTS], keep[2];
  double mag[MAX_INPUTS] = {0};
  for (uint32_t f = 0; f < i + 2; f++) {
    best[f] = NO_COL;
    mag[f] = -1;
    for (uint32_t o = 0; o < n_ops; o++)
      if ((int64_t)o != a->s.none_op && fabs(z[f * n_ops + o]) > mag[f]) {
        mag[f] = fabs(z[f * n_ops + o]);
        best[f] = o;
      }
  }
  uint32_t k = dam__nsup(a, i);
  dam__top_inputs(mag, i + 2, k, keep);
  sup[0] = sup[1] = NO_COL;
  for (uint32_t s = 0; s < k; s++)
    sup[s] = keep[s] * n_ops + best[keep[s]];
}

/* ISTA's weights of node i for code z and support sup:
 * w = A_S^T b - (A_S^T A_S - I) z_S. */
static void dam__ista_w(const dam_arch *a, int c, uint32_t i, const double *z,
                        const uint32_t *sup, double *w) {
  const double *A = dam__A(a, c, i), *b = a->c[c].x + (size_t)i * a->s.proj_dims;
  uint32_t P = a->s.proj_dims, n = dam__cols(a, i), k = dam__nsup(a, i);
  for (uint32_t s = 0; s < k; s++) {
    double acc = 0;
    for (uint32_t p = 0; p < P; p++)
      acc += A[(size_t)p * n + sup[s]] * b[p];
    for (uint32_t l = 0; l < k; l++) {
      double gram = 0;
      for (uint32_t p = 0; p < P; p++)
        gram += A[(size_t)p * n + sup[s]] * A[(size_t)p * n + sup[l]];
      acc -= (gram - (s == l)) * z[sup[l]];
    }
    w[s] = acc;
  }
}

/* DARTS' parse of node i: the min(2, i+2) inputs with the largest non-none
 * softmax weight, each with its best non-none op and that op's weight, in
 * increasing input order.  Returns how many. */
static uint32_t dam__darts_node(const dam_arch *a, int c, uint32_t i,
                                uint32_t *from, uint32_t *op, double *w) {
  uint32_t n_ops = a->s.n_ops, best[MAX_INPUTS];
  double top[MAX_INPUTS] = {0}, p[MAX_OPS];
  for (uint32_t f = 0; f < i + 2; f++) {
    dam__softmax(a->c[c].x + (size_t)(dam__off(i) + f) * n_ops, n_ops, p);
    best[f] = NO_COL;
    top[f] = -1;
    for (uint32_t o = 0; o < n_ops; o++)
      if ((int64_t)o != a->s.none_op && p[o] > top[f]) {
        top[f] = p[o];
        best[f] = o;
      }
  }
  uint32_t k = i + 2 < 2 ? i + 2 : 2;
  dam__top_inputs(top, i + 2, k, from);
  for (uint32_t s = 0; s < k; s++) {
    op[s] = best[from[s]];
    w[s] = top[from[s]];
  }
  return k;
}

/* The edges node i keeps (ISTA: its support for code z and support sup;
 * DARTS: its parse) as inputs, ops and weights.  Returns how many. */
static uint32_t dam__kept(const dam_arch *a, int c, uint32_t i,
                          const double *z, const uint32_t *sup,
                          uint32_t *from, uint32_t *op, double *w) {
  if (!dam__ista(a))
    return dam__darts_node(a, c, i, from, op, w);
  dam__ista_w(a, c, i, z, sup, w);
  for (uint32_t s = 0; s < dam__nsup(a, i); s++)
    from[s] = sup[s] / a->s.n_ops, op[s] = sup[s] % a->s.n_ops;
  return dam__nsup(a, i);
}

/* Node i of genotype cell gc (z, sup as for dam__kept). */
static void dam__geno_node(const dam_arch *a, int c, uint32_t i,
                           const double *z, const uint32_t *sup,
                           dam_genotype_cell *gc) {
  uint32_t from[2], op[2];
  double w[2];
  gc->n_in[i] = dam__kept(a, c, i, z, sup, from, op, w);
  for (uint32_t s = 0; s < gc->n_in[i]; s++) {
    dam_genotype_edge *e = &gc->in[i][s];
    e->from = from[s];
    snprintf(e->op, sizeof e->op, "%s", dam__op(a, op[s]));
    e->weight = (float)w[s];
  }
}

/* Node i's current code and support (ISTA; NULL for DARTS). */
static const double *dam__z(const dam_arch *a, int c, uint32_t i) {
  return dam__ista(a) ? a->c[c].z + a->s.n_ops * dam__off(i) : NULL;
}

/* ---- life cycle ------------------------------------------------------ */

static int dam__check(const dam_arch_settings *s) {
  if (s->method != DAM_ARCH_ISTA && s->method != DAM_ARCH_DARTS)
    return dam_fail(DAM_EINVAL, "arch: method %d is neither ista (%d) nor "
                    "darts (%d)", s->method, DAM_ARCH_ISTA, DAM_ARCH_DARTS);
  if (s->nodes < 1 || s->nodes > MAX_NODES)
    return dam_fail(DAM_EINVAL, "arch: %u nodes per cell, need 1..%d",
                    s->nodes, MAX_NODES);
  if (s->multiplier < 1 || s->multiplier > s->nodes)
    return dam_fail(DAM_EINVAL, "arch: multiplier %u, need 1..nodes (%u)",
                    s->multiplier, s->nodes);
  if (s->n_ops < 1 || s->n_ops > MAX_OPS || !s->op_names)
    return dam_fail(DAM_EINVAL, "arch: need 1..%d candidate ops and their "
                    "names (got %u, names %s)", MAX_OPS, s->n_ops,
                    s->op_names ? "given" : "NULL");
  for (uint32_t o = 0; o < s->n_ops; o++)
    if (!s->op_names[o] || !*s->op_names[o] ||
        strlen(s->op_names[o]) >= DAM_GENOTYPE_OP_NAME)
      return dam_fail(DAM_EINVAL, "arch: op %u has no name or one longer "
                      "than %d bytes", o, DAM_GENOTYPE_OP_NAME - 1);
  if (s->none_op < -1 || s->none_op >= (int64_t)s->n_ops)
    return dam_fail(DAM_EINVAL, "arch: none_op %d is not -1 or an op index "
                    "below %u", s->none_op, s->n_ops);
  if (s->n_ops == 1 && s->none_op == 0)
    return dam_fail(DAM_EINVAL, "arch: the only candidate op is 'none'; "
                    "need one that can be chosen");
  if (!(s->lr > 0) || !isfinite(s->lr) || !(s->beta1 >= 0 && s->beta1 < 1) ||
      !(s->beta2 >= 0 && s->beta2 < 1) || !(s->wd >= 0) || !isfinite(s->wd))
    return dam_fail(DAM_EINVAL, "arch: Adam needs lr > 0, betas in [0, 1) "
                    "and wd >= 0 (got lr %g, betas (%g, %g), wd %g)", s->lr,
                    s->beta1, s->beta2, s->wd);
  if (s->method != DAM_ARCH_ISTA)
    return 0;
  if (s->proj_dims < 1 || s->proj_dims > MAX_PROJ)
    return dam_fail(DAM_EINVAL, "arch: ista proj_dims %u, need 1..%d",
                    s->proj_dims, MAX_PROJ);
  if (s->sparseness < 1 || s->sparseness > 2)
    return dam_fail(DAM_EINVAL, "arch: ista sparseness %u, need 1 or 2",
                    s->sparseness);
  if (!(s->dist_limit >= 0) || !(s->lasso_lambda >= 0) ||
      !isfinite(s->lasso_lambda) || !(s->param_budget >= 0) ||
      !isfinite(s->param_budget))
    return dam_fail(DAM_EINVAL, "arch: ista needs dist_limit >= 0, "
                    "lasso_lambda >= 0 and param_budget >= 0 (got %g, %g, %g)",
                    s->dist_limit, s->lasso_lambda, s->param_budget);
  if (s->param_budget > 0 && !s->params_of)
    return dam_fail(DAM_EINVAL, "arch: a parameter budget (%g M) needs a "
                    "params_of callback", s->param_budget);
  return 0;
}

/* Draw node i's dictionary (uniform [0, 1), columns scaled to unit L2
 * norm) and its code b_i (code_std N(0, 1), by default 1e-3). */
static void dam__init_node(dam_arch *a, int c, uint32_t i, uint64_t *rng) {
  uint32_t P = a->s.proj_dims, n = dam__cols(a, i);
  double *A = (double *)dam__A(a, c, i), *b = a->c[c].x + (size_t)i * P;
  for (size_t e = 0; e < (size_t)P * n; e++)
    A[e] = dam_uniform01(rng);
  for (uint32_t j = 0; j < n; j++) {
    double n2 = 0;
    for (uint32_t p = 0; p < P; p++)
      n2 += A[(size_t)p * n + j] * A[(size_t)p * n + j];
    for (uint32_t p = 0; n2 > 0 && p < P; p++)
      A[(size_t)p * n + j] /= sqrt(n2);
  }
  for (uint32_t p = 0; p < P; p++)
    b[p] = (a->s.code_std > 0 ? a->s.code_std : INIT_SCALE) * dam__normal(rng);
}

int dam_arch_create(const dam_arch_settings *s, dam_arch **out) {
  *out = NULL;
  int rc = dam__check(s);
  if (rc)
    return rc;
  dam_arch *a = calloc(1, sizeof *a);
  if (!a)
    return dam_fail(DAM_ENOMEM, "arch: out of memory");
  a->s = *s;
  a->s.op_names = NULL;
  a->E = dam__off(s->nodes);
  bool ista = dam__ista(a);
  size_t P = ista ? s->proj_dims : 0, n_ops = s->n_ops;
  a->nx = ista ? s->nodes * (uint32_t)P : a->E * s->n_ops;
  size_t per_cell = 4 * (size_t)a->nx + (ista ? (P + 1) * n_ops * a->E : 0);
  size_t scratch = ista ? (s->nodes + 1) * n_ops + P : 0;
  a->mem = calloc(2 * per_cell + scratch, sizeof *a->mem);
  a->names = calloc(n_ops, DAM_GENOTYPE_OP_NAME);
  if (!a->mem || !a->names) {
    dam_arch_free(a);
    return dam_fail(DAM_ENOMEM, "arch: out of memory");
  }
  for (uint32_t o = 0; o < s->n_ops; o++)
    snprintf(a->names + o * DAM_GENOTYPE_OP_NAME, DAM_GENOTYPE_OP_NAME, "%s",
             s->op_names[o]);
  double *p = a->mem;
  for (int c = 0; c < 2; c++) {
    dam__cell *cl = &a->c[c];
    cl->x = p, cl->g = p + a->nx, cl->m = p + 2 * a->nx, cl->v = p + 3 * a->nx;
    p += 4 * (size_t)a->nx;
    if (ista) {
      cl->A = p, cl->z = p + P * n_ops * a->E;
      p += (P + 1) * n_ops * a->E;
    }
  }
  a->scratch = p;
  uint64_t rng = s->seed;
  for (int c = 0; c < 2; c++) {
    if (!ista) {
      for (uint32_t j = 0; j < a->nx; j++)
        a->c[c].x[j] = INIT_SCALE * dam__normal(&rng);
      continue;
    }
    for (uint32_t i = 0; i < s->nodes; i++)
      dam__init_node(a, c, i, &rng);
    for (uint32_t i = 0; i < s->nodes; i++) {
      double *z = a->c[c].z + n_ops * dam__off(i);
      dam__lasso(dam__A(a, c, i), s->proj_dims, dam__cols(a, i),
                 a->c[c].x + i * P, s->lasso_lambda, z, a->scratch);
      dam__pick(a, i, z, a->c[c].sup[i]);
    }
  }
  *out = a;
  return 0;
}

void dam_arch_free(dam_arch *a) {
  if (!a)
    return;
  free(a->mem);
  free(a->names);
  free(a);
}

/* ---- the step ---------------------------------------------------------- */

uint32_t dam_arch_max_terms(const dam_arch *a) {
  return dam__ista(a) ? 2 * a->s.nodes : a->E * a->s.n_ops;
}

uint32_t dam_arch_terms(const dam_arch *a, int cell, dam_arch_term *terms,
                        float *w) {
  const dam__cell *cl = &a->c[cell];
  uint32_t n = 0, n_ops = a->s.n_ops, from[2], op[2];
  double ws[2], p[MAX_OPS];
  for (uint32_t i = 0; i < a->s.nodes; i++) {
    if (dam__ista(a) || a->fixed) {
      uint32_t k = dam__kept(a, cell, i, dam__z(a, cell, i), cl->sup[i], from,
                             op, ws);
      for (uint32_t s = 0; s < k; s++, n++) {
        terms[n] = (dam_arch_term){i, from[s], op[s]};
        w[n] = (float)ws[s];
      }
      continue;
    }
    for (uint32_t f = 0; f < i + 2; f++) {
      dam__softmax(cl->x + (size_t)(dam__off(i) + f) * n_ops, n_ops, p);
      for (uint32_t o = 0; o < n_ops; o++)
        if ((int64_t)o != a->s.none_op) {
          terms[n] = (dam_arch_term){i, f, o};
          w[n++] = (float)p[o];
        }
    }
  }
  return n;
}

void dam_arch_add_grad(dam_arch *a, int cell, const float *gw, double scale) {
  dam__cell *cl = &a->c[cell];
  uint32_t n = 0, n_ops = a->s.n_ops, P = a->s.proj_dims;
  double p[MAX_OPS];
  if (!dam__ista(a) && a->fixed)
    return;
  for (uint32_t i = 0; i < a->s.nodes; i++) {
    if (dam__ista(a)) {
      uint32_t k = dam__nsup(a, i), cols = dam__cols(a, i);
      const double *A = dam__A(a, cell, i);
      for (uint32_t s = 0; s < k && !cl->frozen[i]; s++)
        for (uint32_t r = 0; r < P; r++)
          cl->g[i * P + r] +=
              scale * gw[n + s] * A[(size_t)r * cols + cl->sup[i][s]];
      n += k;
      continue;
    }
    for (uint32_t f = 0; f < i + 2; f++) {
      size_t e = (size_t)(dam__off(i) + f) * n_ops;
      uint32_t first = n;
      double mean = 0;
      dam__softmax(cl->x + e, n_ops, p);
      for (uint32_t o = 0; o < n_ops; o++)
        if ((int64_t)o != a->s.none_op)
          mean += p[o] * gw[n++];
      for (uint32_t o = 0, k = first; o < n_ops; o++) {
        double g = (int64_t)o == a->s.none_op ? 0 : gw[k++];
        cl->g[e + o] += scale * p[o] * (g - mean);
      }
    }
  }
}

int dam_arch_step(dam_arch *a) {
  const dam_arch_settings *s = &a->s;
  uint32_t unit = dam__ista(a) ? s->proj_dims : a->nx;
  for (int c = 0; c < 2; c++)
    for (uint32_t j = 0; j < a->nx; j++)
      if (!isfinite(a->c[c].g[j]))
        return dam_fail(DAM_EINVAL, "arch: the %s cell's code gradient %u is "
                        "%g: refused (did the training diverge?)",
                        dam__kind[c], j, a->c[c].g[j]);
  bool any = dam__ista(a) ? !dam_arch_done(a) : !a->fixed;
  if (any) {
    a->t++;
    double bc1 = 1 - pow(s->beta1, (double)a->t);
    double bc2 = sqrt(1 - pow(s->beta2, (double)a->t));
    for (int c = 0; c < 2; c++)
      for (uint32_t j = 0; j < a->nx; j++) {
        dam__cell *cl = &a->c[c];
        if (dam__ista(a) && cl->frozen[j / unit])
          continue;
        double g = cl->g[j] + s->wd * cl->x[j];
        cl->m[j] = s->beta1 * cl->m[j] + (1 - s->beta1) * g;
        cl->v[j] = s->beta2 * cl->v[j] + (1 - s->beta2) * g * g;
        cl->x[j] -= s->lr / bc1 * cl->m[j] / (sqrt(cl->v[j]) / bc2 + ADAM_EPS);
      }
  }
  for (int c = 0; c < 2; c++)
    memset(a->c[c].g, 0, a->nx * sizeof *a->c[c].g);
  return 0;
}

/* ---- epochs and the result -------------------------------------------- */

void dam_arch_epoch_end(dam_arch *a, uint32_t *newly) {
  uint32_t frozen = 0, n_ops = a->s.n_ops, P = a->s.proj_dims;
  double *zn = a->scratch, *r = a->scratch + (a->s.nodes + 1) * n_ops;
  for (int c = 0; c < 2 && dam__ista(a); c++)
    for (uint32_t i = 0; i < a->s.nodes; i++) {
      dam__cell *cl = &a->c[c];
      uint32_t n = dam__cols(a, i), sup[2];
      double *z = cl->z + n_ops * dam__off(i), dist = 0;
      if (cl->frozen[i])
        continue;
      memcpy(zn, z, n * sizeof *z);
      dam__lasso(dam__A(a, c, i), P, n, cl->x + i * P, a->s.lasso_lambda, zn,
                 r);
      dam__pick(a, i, zn, sup);
      if (a->s.param_budget > 0) {
        dam_genotype g;
        dam_arch_genotype(a, &g);
        dam__geno_node(a, c, i, zn, sup, &g.cell[c]);
        if (a->s.params_of(&g, a->s.params_ctx) > a->s.param_budget)
          continue;
      }
      for (uint32_t j = 0; j < n; j++)
        dist += (zn[j] - z[j]) * (zn[j] - z[j]);
      if (sqrt(dist) <= a->s.dist_limit) {
        cl->frozen[i] = true;
        frozen++;
      }
      memcpy(z, zn, n * sizeof *z);
      memcpy(cl->sup[i], sup, sizeof sup);
    }
  if (newly)
    *newly = frozen;
}

bool dam_arch_done(const dam_arch *a) {
  if (!dam__ista(a))
    return false;
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < a->s.nodes; i++)
      if (!a->c[c].frozen[i])
        return false;
  return true;
}

void dam_arch_freeze_all(dam_arch *a) {
  for (int c = 0; c < 2; c++) {
    for (uint32_t i = 0; i < a->s.nodes; i++)
      a->c[c].frozen[i] = dam__ista(a);
    memset(a->c[c].g, 0, a->nx * sizeof *a->c[c].g);
  }
  a->fixed = !dam__ista(a);
}

bool dam_arch_frozen(const dam_arch *a, int cell, uint32_t node) {
  return dam__ista(a) && node < a->s.nodes && a->c[cell].frozen[node];
}

void dam_arch_genotype(const dam_arch *a, dam_genotype *g) {
  memset(g, 0, sizeof *g);
  g->nodes = a->s.nodes;
  g->multiplier = a->s.multiplier;
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < a->s.nodes; i++)
      dam__geno_node(a, c, i, dam__z(a, c, i), a->c[c].sup[i], &g->cell[c]);
}

/* ---- checkpoints ------------------------------------------------------- */

/* What a tensor's content must satisfy on load. */
enum { CHK_FINITE, CHK_NONNEG, CHK_FLAG, CHK_METHOD, CHK_SUPPORT, CHK_ANY };

typedef struct dam__tensor {
  char name[48];
  int dtype, check;
  uint32_t ndim;
  uint64_t shape[2];
  void *data; /* the arch's storage, or the pack's */
} dam__tensor;

/* Integers that are not stored as such in the arch. */
typedef struct dam__pack {
  uint32_t method, fixed, frozen[2][MAX_NODES];
  uint64_t step;
} dam__pack;

#define MAX_TENSORS (3 + 2 * (7 + MAX_NODES))

static uint32_t dam__add(dam__tensor *t, uint32_t n, int dtype, int check,
                         void *data, uint64_t d0, uint64_t d1,
                         const char *fmt, const char *kind, uint32_t i) {
  t[n] = (dam__tensor){.dtype = dtype, .check = check, .data = data,
                       .ndim = d1 ? 2 : 1, .shape = {d0, d1}};
  snprintf(t[n].name, sizeof t[n].name, fmt, kind, i);
  return n + 1;
}

/* The checkpoint tensors of a, pointing at its storage and at pk. */
static uint32_t dam__table(const dam_arch *a, dam__pack *pk, dam__tensor *t) {
  uint32_t n = 0, nodes = a->s.nodes, P = a->s.proj_dims, n_ops = a->s.n_ops;
  n = dam__add(t, n, DAM_ST_U32, CHK_METHOD, &pk->method, 1, 0, "arch.method",
               "", 0);
  n = dam__add(t, n, DAM_ST_U64, CHK_ANY, &pk->step, 1, 0, "arch.step", "", 0);
  if (!dam__ista(a))
    n = dam__add(t, n, DAM_ST_U32, CHK_FLAG, &pk->fixed, 1, 0, "arch.fixed",
                 "", 0);
  for (int c = 0; c < 2; c++) {
    const dam__cell *cl = &a->c[c];
    const char *k = dam__kind[c];
    uint64_t r = dam__ista(a) ? nodes : a->E, w = dam__ista(a) ? P : n_ops;
    n = dam__add(t, n, DAM_ST_F64, CHK_FINITE, cl->x, r, w,
                 dam__ista(a) ? "arch.%s.b" : "arch.%s.alphas", k, 0);
    n = dam__add(t, n, DAM_ST_F64, CHK_FINITE, cl->g, r, w, "arch.%s.grad", k,
                 0);
    n = dam__add(t, n, DAM_ST_F64, CHK_FINITE, cl->m, r, w, "arch.%s.m", k, 0);
    n = dam__add(t, n, DAM_ST_F64, CHK_NONNEG, cl->v, r, w, "arch.%s.v", k, 0);
    if (!dam__ista(a))
      continue;
    for (uint32_t i = 0; i < nodes; i++)
      n = dam__add(t, n, DAM_ST_F64, CHK_FINITE, (void *)dam__A(a, c, i), P,
                   dam__cols(a, i), "arch.%s.A.%u", k, i);
    n = dam__add(t, n, DAM_ST_F64, CHK_FINITE, cl->z, a->E, n_ops,
                 "arch.%s.z", k, 0);
    n = dam__add(t, n, DAM_ST_U32, CHK_SUPPORT, (void *)cl->sup, nodes, 2,
                 "arch.%s.support", k, 0);
    n = dam__add(t, n, DAM_ST_U32, CHK_FLAG, pk->frozen[c], nodes, 0,
                 "arch.%s.frozen", k, 0);
  }
  return n;
}

int dam_arch_save(const dam_arch *a, dam_safetensors *st) {
  dam__tensor t[MAX_TENSORS];
  dam__pack pk = {.method = (uint32_t)a->s.method, .fixed = a->fixed,
                  .step = a->t};
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < a->s.nodes; i++)
      pk.frozen[c][i] = a->c[c].frozen[i];
  uint32_t n = dam__table(a, &pk, t);
  for (uint32_t j = 0; j < n; j++) {
    int rc = dam_st_add(st, t[j].name, t[j].dtype, t[j].ndim, t[j].shape,
                        t[j].data);
    if (rc)
      return rc;
  }
  return 0;
}

/* "[d0, d1]" of a stored tensor into buf. */
static const char *dam__shape(const uint64_t *shape, uint32_t ndim, char *buf,
                              size_t size) {
  size_t len = (size_t)snprintf(buf, size, "[");
  for (uint32_t d = 0; d < ndim && len < size; d++)
    len += (size_t)snprintf(buf + len, size - len, "%s%llu", d ? ", " : "",
                            (unsigned long long)shape[d]);
  if (len < size)
    snprintf(buf + len, size - len, "]");
  return buf;
}

/* Whether the content of stored tensor s passes want's check. */
static int dam__check_content(const dam_arch *a, const dam_safetensors *st,
                              const dam__tensor *want, const dam_st_tensor *s,
                              const char *file) {
  uint64_t count = s->nbytes / dam_st_dtype_size(s->dtype);
  const double *d = s->data;
  const uint32_t *u = s->data;
  for (uint64_t j = 0; j < count; j++) {
    bool ok = want->check == CHK_FINITE   ? isfinite(d[j])
              : want->check == CHK_NONNEG ? isfinite(d[j]) && d[j] >= 0
              : want->check == CHK_FLAG   ? u[j] <= 1
              : want->check == CHK_METHOD ? u[j] == (uint32_t)a->s.method
                                          : true;
    if (!ok)
      return dam_fail(DAM_EDATA, "%s: tensor '%s' entry %llu is not %s", file,
                      want->name, (unsigned long long)j,
                      want->check == CHK_METHOD ? "this arch's method"
                      : want->check == CHK_FLAG ? "0 or 1"
                      : want->check == CHK_NONNEG ? "finite and >= 0"
                                                  : "finite");
  }
  if (want->check != CHK_SUPPORT)
    return 0;
  char zname[48];
  snprintf(zname, sizeof zname, "arch.%s.z",
           strstr(want->name, dam__kind[0]) ? dam__kind[0] : dam__kind[1]);
  const double *z = dam_st_find(st, zname)->data;
  for (uint32_t i = 0; i < a->s.nodes; i++) {
    uint32_t sup[2];
    dam__pick(a, i, z + a->s.n_ops * dam__off(i), sup);
    if (sup[0] != u[2 * i] || sup[1] != u[2 * i + 1])
      return dam_fail(DAM_EDATA, "%s: tensor '%s' node %u holds columns "
                      "(%u, %u), not the support (%u, %u) of '%s'", file,
                      want->name, i, u[2 * i], u[2 * i + 1], sup[0], sup[1],
                      zname);
  }
  return 0;
}

int dam_arch_load(dam_arch *a, const dam_safetensors *st) {
  const char *file = st->path ? st->path : "checkpoint";
  dam__tensor t[MAX_TENSORS];
  dam__pack pk = {0};
  uint32_t n = dam__table(a, &pk, t);
  const dam_st_tensor *s[MAX_TENSORS];
  for (uint32_t j = 0; j < n; j++) {
    char got[64], want[64];
    if (!(s[j] = dam_st_find(st, t[j].name)))
      return dam_fail(DAM_ENOTFOUND, "%s: no tensor '%s' (was it written by "
                      "an arch with these settings?)", file, t[j].name);
    if (s[j]->dtype != t[j].dtype || s[j]->ndim != t[j].ndim ||
        memcmp(s[j]->shape, t[j].shape, t[j].ndim * sizeof *t[j].shape))
      return dam_fail(DAM_EDATA, "%s: tensor '%s' is %s %s, not %s %s", file,
                      t[j].name, dam_st_dtype_name(s[j]->dtype),
                      dam__shape(s[j]->shape, s[j]->ndim, got, sizeof got),
                      dam_st_dtype_name(t[j].dtype),
                      dam__shape(t[j].shape, t[j].ndim, want, sizeof want));
    int rc = dam__check_content(a, st, &t[j], s[j], file);
    if (rc)
      return rc;
  }
  for (uint32_t j = 0; j < n; j++)
    memcpy(t[j].data, s[j]->data, s[j]->nbytes);
  a->t = pk.step;
  a->fixed = !dam__ista(a) && pk.fixed;
  for (int c = 0; c < 2; c++)
    for (uint32_t i = 0; i < a->s.nodes && dam__ista(a); i++)
      a->c[c].frozen[i] = pk.frozen[c][i];
  return 0;
}
