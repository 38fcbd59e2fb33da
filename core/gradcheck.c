/* Finite-difference gradient checks of op plugins. */
#include "gradcheck.h"

#include "autograd.h"
#include "error.h"
#include "kernels.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP 1e-3
#define DIRS_INPUT 4
#define DIRS_WEIGHT 2

/* One placement under test: the op, its input x and the loss weights r,
 * with host copies of both. */
typedef struct probe {
  dam_exec *ex;
  dam_op *op;
  dam_tensor *x, *r;
  float *hx, *hr, *hy;
  uint64_t *rng;
} probe;

/* L = <op(x), r> in double, in training mode, without a tape. */
static int loss(probe *p, double *out) {
  bool rg = p->x->requires_grad;
  p->x->requires_grad = false;
  dam_tensor *y = dam_op_forward(p->ex, p->op, p->x, true);
  p->x->requires_grad = rg;
  int err = y ? dam_tensor_download(p->ex, y, p->hy) : DAM_EINVAL;
  if (!err) {
    double l = 0;
    for (uint64_t i = 0; i < p->r->numel; i++)
      l += (double)p->hy[i] * p->hr[i];
    *out = l;
  }
  int end = dam_exec_end_step(p->ex);
  return err ? err : end;
}

/* Gradients of L to x and to each weight, downloaded into g[0] (x) and
 * g[1 + i] (weight i). */
static int analytic(probe *p, float **g) {
  dam_tensor_list *w = &p->op->weights;
  dam_tensor *xs[1] = {p->x};
  int err = 0;
  p->x->requires_grad = true;
  dam_tensor *y = dam_op_forward(p->ex, p->op, p->x, true);
  dam_tensor *l = y ? dam_dot(p->ex, y, p->r) : NULL;
  if (!l)
    err = DAM_EINVAL;
  else if (l->requires_grad)
    err = dam_backward(p->ex, l);
  for (uint32_t i = 0; i <= w->n && !err; i++) {
    dam_tensor *t = i ? w->t[i - 1] : xs[0];
    if (t->grad)
      err = dam_tensor_download(p->ex, t->grad, g[i]);
    else
      memset(g[i], 0, t->numel * sizeof *g[i]);
  }
  p->x->requires_grad = false;
  int end = dam_exec_end_step(p->ex);
  return err ? err : end;
}

/* L at t + h v and t - h v, with `host` holding t and `moved` scratch of
 * the same size; t is restored. */
static int both_sides(probe *p, dam_tensor *t, const float *host,
                      float *moved, const float *v, double h, double *lp,
                      double *lm) {
  int err = 0;
  for (int side = 0; side < 2 && !err; side++) {
    double step = side ? -h : h;
    for (uint64_t i = 0; i < t->numel; i++)
      moved[i] = (float)(host[i] + step * v[i]);
    err = dam_tensor_upload(p->ex, t, moved);
    if (!err)
      err = loss(p, side ? lm : lp);
  }
  int restore = dam_tensor_upload(p->ex, t, host);
  return err ? err : restore;
}

/* Compare `dirs` directional derivatives of L along random directions v
 * (entries uniform in [-1, 1]) with <g, v>, g the analytic gradient of t
 * (host copy `host`); l0 is L at the unperturbed point.  A direction
 * moves every element, so the comparison is far above the float rounding
 * of L.  Central differences at steps h and h/2 are Richardson-
 * extrapolated.  Where the loss is smooth the two agree and the one-sided
 * slopes differ in proportion to the step; a kink (relu, max) within the
 * step breaks that, and the direction is skipped.  The error is relative
 * to |<g, v>|, but at least 1% of sum |g_i v_i| (the size of its terms)
 * should the terms cancel. */
static int check_tensor(probe *p, dam_tensor *t, const float *host,
                        const float *g, double l0, uint32_t dirs,
                        dam_gradcheck_result *res) {
  float *v = malloc(t->numel * sizeof *v);
  float *moved = malloc(t->numel * sizeof *moved);
  int err = v && moved ? 0 : dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
  for (uint32_t c = 0; c < dirs && !err; c++) {
    double a = 0, scale = 1e-12;
    for (uint64_t i = 0; i < t->numel; i++) {
      v[i] = (float)(2 * dam_uniform01(p->rng) - 1);
      a += (double)g[i] * v[i];
      scale += fabs((double)g[i] * v[i]);
    }
    double lp1, lm1, lp2, lm2;
    err = both_sides(p, t, host, moved, v, STEP, &lp1, &lm1);
    if (!err)
      err = both_sides(p, t, host, moved, v, STEP / 2, &lp2, &lm2);
    if (err)
      break;
    double d1 = (lp1 - lm1) / (2 * STEP), d2 = (lp2 - lm2) / STEP;
    double bend1 = (lp1 - 2 * l0 + lm1) / STEP;
    double bend2 = (lp2 - 2 * l0 + lm2) / (STEP / 2);
    double tol = 1e-3 * scale + 1e-3;
    if (fabs(d1 - d2) > tol || fabs(bend1 - 2 * bend2) > tol) {
      res->skipped++;
      continue;
    }
    double d = (4 * d2 - d1) / 3;
    double e = fabs(a - d) / fmax(fmax(fabs(a), fabs(d)), 1e-2 * scale);
    if (e > res->max_err)
      res->max_err = e;
    res->checked++;
  }
  free(v);
  free(moved);
  return err;
}

/* Distinct values spread over [-2, 2] in random order, so that a step
 * rarely reorders a window (max pooling). */
static void spread(float *v, uint64_t n, uint64_t *rng) {
  for (uint64_t i = 0; i < n; i++)
    v[i] = (float)(-2.0 + 4.0 * ((double)i + 0.5) / (double)n);
  for (uint64_t i = n; i > 1; i--) {
    uint64_t j = dam_splitmix64(rng) % i;
    float t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
}

static int check_placement(probe *p, dam_gradcheck_result *res) {
  dam_tensor_list *w = &p->op->weights;
  uint32_t n = w->n + 1;
  float **g = calloc(n, sizeof *g), **hw = calloc(n, sizeof *hw);
  int err = g && hw ? 0 : dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
  for (uint32_t i = 0; i < n && !err; i++) {
    dam_tensor *t = i ? w->t[i - 1] : p->x;
    if (!(g[i] = malloc(t->numel * sizeof **g)) ||
        !(hw[i] = malloc(t->numel * sizeof **hw)))
      err = dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
    else if (i)
      err = dam_tensor_download(p->ex, t, hw[i]);
  }
  double l1 = 0, l2 = 0;
  if (!err)
    err = loss(p, &l1);
  if (!err)
    err = loss(p, &l2);
  if (!err && l1 != l2)
    res->deterministic = false;
  if (!err)
    err = analytic(p, g);
  if (!err)
    err = check_tensor(p, p->x, p->hx, g[0], l1, DIRS_INPUT, res);
  for (uint32_t i = 1; i < n && !err; i++)
    err = check_tensor(p, w->t[i - 1], hw[i], g[i], l1, DIRS_WEIGHT,
                       res);
  for (uint32_t i = 0; g && hw && i < n; i++) {
    free(g[i]);
    free(hw[i]);
  }
  free(g);
  free(hw);
  return err;
}

/* Place the op at `site` with input shape `in` and check it; *accepted is
 * false when the op refuses the placement. */
static int check_site(dam_exec *ex, const dam_op_desc *desc,
                      const dam_op_site *site, dam_shape in, uint64_t *rng,
                      bool *accepted, dam_gradcheck_result *res) {
  probe p = {.ex = ex, .rng = rng};
  dam_shape out;
  *accepted = false;
  dam_exec_seed(ex, dam_splitmix64(rng));
  int err = dam_op_create(ex, desc, NULL, site, &p.op);
  if (err)
    return err;
  if (dam_op_infer(p.op, &in, &out)) {
    dam_clear_error();
    dam_op_destroy(p.op);
    return 0;
  }
  *accepted = true;
  p.x = dam_tensor_new(ex, &in, true);
  p.r = dam_tensor_new(ex, &out, true);
  p.hx = malloc(dam_shape_numel(&in) * sizeof *p.hx);
  p.hr = malloc(dam_shape_numel(&out) * sizeof *p.hr);
  p.hy = malloc(dam_shape_numel(&out) * sizeof *p.hy);
  if (!p.x || !p.r || !p.hx || !p.hr || !p.hy)
    err = dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
  if (!err) {
    spread(p.hx, p.x->numel, rng);
    for (uint64_t i = 0; i < p.r->numel; i++)
      p.hr[i] = (float)(2 * dam_uniform01(rng) - 1);
    err = dam_tensor_upload(ex, p.x, p.hx);
  }
  if (!err)
    err = dam_tensor_upload(ex, p.r, p.hr);
  if (!err)
    err = check_placement(&p, res);
  free(p.hx);
  free(p.hr);
  free(p.hy);
  dam_tensor_free(ex, p.x);
  dam_tensor_free(ex, p.r);
  dam_op_destroy(p.op);
  return err;
}

int dam_gradcheck_op(dam_exec *ex, const dam_op_desc *desc, uint64_t seed,
                     dam_gradcheck_result *out) {
  *out = (dam_gradcheck_result){.deterministic = true};
  uint64_t rng = seed;
  for (uint32_t stride = 1; stride <= 2; stride++) {
    uint32_t n = 2, c = 4;
    uint32_t hw = 6 + (uint32_t)(dam_splitmix64(&rng) % 5);
    dam_op_site site = {sizeof site, stride, c, c};
    bool accepted;
    int err = check_site(ex, desc, &site, dam_shape4(n, c, hw, hw), &rng,
                         &accepted, out);
    if (err)
      return dam_fail(err, "gradcheck of %s: %s", desc->hdr.name,
                      dam_last_error());
    if (!accepted)
      continue;
    size_t len = strlen(out->shapes);
    snprintf(out->shapes + len, sizeof out->shapes - len, "%s%ux%ux%ux%u/s%u",
             len ? " " : "", n, c, hw, hw, stride);
    out->n_shapes++;
  }
  out->pass = out->n_shapes > 0 && out->deterministic &&
              out->max_err <= DAM_GRADCHECK_TOL &&
              out->skipped <= out->checked;
  return 0;
}
