/* Finite-difference gradient checks of op and augment plugins. */
#include "gradcheck.h"

#include "augment.h"
#include "autograd.h"
#include "gather.h"
#include "error.h"
#include "kernels.h"
#include "rng.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP 1e-3
#define DIRS_INPUT 4
#define DIRS_WEIGHT 2

/* How a variable's analytic gradient is judged. */
enum var_check {
  CHECK_FD,        /* against central differences of the loss */
  CHECK_IDENTITY,  /* straight-through input: the gradient is r */
  CHECK_IMAGE_SUM, /* straight-through magnitude: per image, sum of r */
  CHECK_ZERO       /* no dependence: no gradient */
};

#define MAX_VARS 8

/* One configuration under test: forward() computes y from the variables
 * (the op's input and weights, or an augmentation's images and
 * magnitudes); the loss is L = <y, r>, with host copies of r and y. */
typedef struct probe {
  dam_exec *ex;
  dam_tensor *(*forward)(struct probe *p);
  void *ctx; /* the op, or the augment stage's arguments */
  dam_tensor *var[MAX_VARS];
  float *host[MAX_VARS]; /* the variables' values */
  enum var_check check[MAX_VARS];
  uint32_t dirs[MAX_VARS];
  uint32_t n_vars;
  dam_tensor *r;
  float *hr, *hy;
  double abs_loss; /* sum of |y_i r_i| at the last loss() */
  uint64_t *rng;
} probe;

/* The variables' requires-grad flags set to `on`. */
static void set_requires_grad(probe *p, bool on) {
  for (uint32_t i = 0; i < p->n_vars; i++)
    p->var[i]->requires_grad = on;
}

/* L = <forward(), r> in double, without a tape. */
static int loss(probe *p, double *out) {
  set_requires_grad(p, false);
  dam_tensor *y = p->forward(p);
  int err = y ? dam_tensor_download(p->ex, y, p->hy) : DAM_EINVAL;
  if (!err) {
    double l = 0, a = 0;
    for (uint64_t i = 0; i < p->r->numel; i++) {
      l += (double)p->hy[i] * p->hr[i];
      a += fabs((double)p->hy[i] * p->hr[i]);
    }
    *out = l;
    p->abs_loss = a;
  }
  set_requires_grad(p, true);
  int end = dam_exec_end_step(p->ex);
  return err ? err : end;
}

/* Gradients of L to each variable, downloaded into g[i]. */
static int analytic(probe *p, float **g) {
  int err = 0;
  set_requires_grad(p, true);
  dam_tensor *y = p->forward(p);
  dam_tensor *l = y ? dam_dot(p->ex, y, p->r) : NULL;
  if (!l)
    err = DAM_EINVAL;
  else if (l->requires_grad)
    err = dam_backward(p->ex, l);
  for (uint32_t i = 0; i < p->n_vars && !err; i++) {
    dam_tensor *t = p->var[i];
    if (t->grad)
      err = dam_tensor_download(p->ex, t->grad, g[i]);
    else
      memset(g[i], 0, t->numel * sizeof *g[i]);
  }
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

/* What float32 rounding of the outputs can do to a difference quotient
 * at the smaller step: a few units in the last place of every term of L,
 * over the step. */
static double fd_noise(const probe *p) {
  return 4.0 * FLT_EPSILON * p->abs_loss / (STEP / 2);
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
 * should the terms cancel, and at least the rounding noise of the
 * difference quotient (fd_noise). */
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
    double floor = fmax(1e-2 * scale, fd_noise(p));
    double e = fabs(a - d) / fmax(fmax(fabs(a), fabs(d)), floor);
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

/* A straight-through or absent gradient against its definition:
 * the largest error relative to the largest expected entry. */
static void check_definition(probe *p, uint32_t v, const float *g,
                             dam_gradcheck_result *res) {
  dam_tensor *t = p->var[v];
  uint64_t per = t->numel ? p->r->numel / t->numel : 0;
  double worst = 0, size = 1e-6;
  for (uint64_t i = 0; i < t->numel; i++) {
    double want = 0;
    if (p->check[v] == CHECK_IDENTITY)
      want = p->hr[i];
    else if (p->check[v] == CHECK_IMAGE_SUM)
      for (uint64_t j = 0; j < per; j++)
        want += p->hr[i * per + j];
    worst = fmax(worst, fabs(g[i] - want));
    size = fmax(size, fabs(want));
  }
  res->max_err = fmax(res->max_err, worst / size);
  res->checked++;
}

/* Check every variable of p, whose values are in p->host[]. */
static int check_probe(probe *p, dam_gradcheck_result *res) {
  float *g[MAX_VARS] = {0};
  int err = 0;
  for (uint32_t i = 0; i < p->n_vars && !err; i++)
    if (!(g[i] = malloc(p->var[i]->numel * sizeof **g)))
      err = dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
  double l1 = 0, l2 = 0;
  if (!err)
    err = loss(p, &l1);
  if (!err)
    err = loss(p, &l2);
  if (!err && l1 != l2)
    res->deterministic = false;
  if (!err)
    err = analytic(p, g);
  for (uint32_t i = 0; i < p->n_vars && !err; i++) {
    if (p->check[i] == CHECK_FD)
      err = check_tensor(p, p->var[i], p->host[i], g[i], l1, p->dirs[i], res);
    else
      check_definition(p, i, g[i], res);
  }
  for (uint32_t i = 0; i < p->n_vars; i++)
    free(g[i]);
  return err;
}

static dam_tensor *op_forward(probe *p) {
  return dam_op_forward(p->ex, p->ctx, p->var[0], true);
}

/* The op's input (p->var[0], values in p->host[0]) and weights as the
 * variables, checked by finite differences. */
static int check_op_probe(probe *p, dam_op *op, dam_gradcheck_result *res) {
  dam_tensor_list *w = &op->weights;
  if (w->n + 1 > MAX_VARS)
    return dam_fail(DAM_EINVAL, "gradcheck: more than %d weights",
                    MAX_VARS - 1);
  p->forward = op_forward;
  p->ctx = op;
  p->n_vars = w->n + 1;
  p->dirs[0] = DIRS_INPUT;
  int err = 0;
  for (uint32_t i = 1; i < p->n_vars && !err; i++) {
    p->var[i] = w->t[i - 1];
    p->dirs[i] = DIRS_WEIGHT;
    if (!(p->host[i] = malloc(p->var[i]->numel * sizeof(float))))
      err = dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
    else
      err = dam_tensor_download(p->ex, p->var[i], p->host[i]);
  }
  if (!err)
    err = check_probe(p, res);
  for (uint32_t i = 1; i < p->n_vars; i++)
    free(p->host[i]);
  return err;
}

/* A step tensor of `shape` holding host values (*host, malloc'd). */
static dam_tensor *host_backed(dam_exec *ex, dam_shape shape, float **host) {
  dam_tensor *t = dam_tensor_new(ex, &shape, true);
  *host = malloc(dam_shape_numel(&shape) * sizeof **host);
  if (!t || !*host) {
    dam_tensor_free(ex, t);
    free(*host);
    *host = NULL;
    return dam_fail(DAM_ENOMEM, "gradcheck: out of memory"), NULL;
  }
  return t;
}

/* The loss weights r (uniform in [-1, 1]) and the output copy for a probe
 * whose output has `out` shape. */
static int probe_output(probe *p, dam_shape out) {
  if (!(p->r = host_backed(p->ex, out, &p->hr)) ||
      !(p->hy = malloc(dam_shape_numel(&out) * sizeof *p->hy)))
    return dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
  for (uint64_t i = 0; i < p->r->numel; i++)
    p->hr[i] = (float)(2 * dam_uniform01(p->rng) - 1);
  return dam_tensor_upload(p->ex, p->r, p->hr);
}

static void probe_release(probe *p, uint32_t n_owned) {
  for (uint32_t i = 0; i < n_owned; i++) {
    dam_tensor_free(p->ex, p->var[i]);
    free(p->host[i]);
  }
  dam_tensor_free(p->ex, p->r);
  free(p->hr);
  free(p->hy);
}

/* Place the op at `site` with input shape `in` and check it; *accepted is
 * false when the op refuses the placement. */
static int check_site(dam_exec *ex, const dam_op_desc *desc,
                      const dam_op_site *site, dam_shape in, uint64_t *rng,
                      bool *accepted, dam_gradcheck_result *res) {
  probe p = {.ex = ex, .rng = rng};
  dam_op *op;
  dam_shape out;
  *accepted = false;
  dam_exec_seed(ex, dam_splitmix64(rng));
  int err = dam_op_create(ex, desc, NULL, site, &op);
  if (err)
    return err;
  if (dam_op_infer(op, &in, &out)) {
    dam_clear_error();
    dam_op_destroy(op);
    return 0;
  }
  *accepted = true;
  if (!(p.var[0] = host_backed(ex, in, &p.host[0])))
    err = DAM_ENOMEM;
  if (!err) {
    spread(p.host[0], p.var[0]->numel, rng);
    err = dam_tensor_upload(ex, p.var[0], p.host[0]);
  }
  if (!err)
    err = probe_output(&p, out);
  if (!err)
    err = check_op_probe(&p, op, res);
  probe_release(&p, 1);
  dam_op_destroy(op);
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

/* What an augment probe's forward needs besides its variables. */
typedef struct augment_probe {
  dam_augment *aug;
  dam_tensor *seed;
} augment_probe;

/* Two groups through the same transform, so a call's first/count matter. */
static dam_tensor *augment_forward(probe *p) {
  augment_probe *a = p->ctx;
  uint32_t n = p->var[0]->shape.dim[0];
  dam_augment_group g[2] = {{a->aug, 0, 1}, {a->aug, 1, n - 1}};
  return dam_augment_stage(p->ex, g, 2, p->var[0], p->var[1], a->seed, 0.3f);
}

static enum var_check input_check(const dam_augment_desc *d) {
  return d->input_grad == DAM_AUG_GRAD_EXACT ? CHECK_FD : CHECK_IDENTITY;
}

static enum var_check magnitude_check(const dam_augment_desc *d) {
  return d->magnitude_grad == DAM_AUG_GRAD_EXACT ? CHECK_FD
         : d->magnitude_grad == DAM_AUG_GRAD_STRAIGHT_THROUGH
             ? CHECK_IMAGE_SUM
             : CHECK_ZERO;
}

/* Intensities for each [h, w] plane of x: distinct 0-255 levels k in
 * 5..250 in random order (so a plane's extremes are at least 1/255
 * apart, more than a step moves them), each moved off its level by less
 * than 4e-4: a step of 1e-3 then never changes the 0-255 value that
 * transforms such as solarize and posterize compare or quantize. */
static void level_planes(float *x, uint64_t n_planes, uint32_t plane,
                         uint64_t *rng) {
  enum { LO = 5, LEVELS = 246 };
  uint8_t k[LEVELS];
  assert(plane <= LEVELS);
  for (uint64_t p = 0; p < n_planes; p++) {
    for (uint32_t i = 0; i < LEVELS; i++)
      k[i] = (uint8_t)(LO + i);
    for (uint32_t i = 0; i < plane; i++) { /* partial Fisher-Yates */
      uint32_t j = i + (uint32_t)(dam_splitmix64(rng) % (LEVELS - i));
      uint8_t t = k[i];
      k[i] = k[j];
      k[j] = t;
      x[p * plane + i] =
          (float)(k[i] / 255.0 + 4e-4 * (2 * dam_uniform01(rng) - 1));
    }
  }
}

/* Images [n, c, hw, hw + 1] with intensities from level_planes,
 * magnitudes in (0.5, 4) and random seeds.  Up to level 4 the
 * enhancements' factor m/8*1.8+0.1 stays below 1, so their blends never
 * reach the clamp at 0 or 1 (a kink in every direction). */
static int check_augment_shape(dam_exec *ex, dam_augment *aug,
                               dam_shape shape, uint64_t *rng,
                               dam_gradcheck_result *res) {
  uint32_t n = shape.dim[0];
  probe p = {.ex = ex, .rng = rng, .forward = augment_forward, .n_vars = 2};
  augment_probe a = {aug, NULL};
  uint32_t *seeds = malloc(n * sizeof *seeds);
  dam_shape ms = dam_shape4(n, 0, 0, 0);
  int err = seeds ? 0 : dam_fail(DAM_ENOMEM, "gradcheck: out of memory");
  if (!err && (!(p.var[0] = host_backed(ex, shape, &p.host[0])) ||
               !(p.var[1] = host_backed(ex, ms, &p.host[1])) ||
               !(a.seed = dam_tensor_new(ex, &ms, true))))
    err = DAM_ENOMEM;
  if (!err) {
    uint32_t plane = shape.dim[2] * shape.dim[3];
    level_planes(p.host[0], p.var[0]->numel / plane, plane, rng);
    for (uint32_t i = 0; i < n; i++) {
      p.host[1][i] = (float)(0.5 + 3.5 * dam_uniform01(rng));
      seeds[i] = (uint32_t)dam_splitmix64(rng);
    }
    p.ctx = &a;
    p.check[0] = input_check(aug->desc);
    p.check[1] = magnitude_check(aug->desc);
    p.dirs[0] = p.dirs[1] = DIRS_INPUT;
    err = dam_tensor_upload(ex, p.var[0], p.host[0]);
  }
  if (!err)
    err = dam_tensor_upload(ex, p.var[1], p.host[1]);
  if (!err)
    err = dam_tensor_upload(ex, a.seed, (const float *)(const void *)seeds);
  if (!err)
    err = probe_output(&p, shape);
  if (!err)
    err = check_probe(&p, res);
  probe_release(&p, 2);
  dam_tensor_free(ex, a.seed);
  free(seeds);
  return err;
}

int dam_gradcheck_augment(dam_exec *ex, const dam_augment_desc *desc,
                          uint64_t seed, dam_gradcheck_result *out) {
  *out = (dam_gradcheck_result){.deterministic = true};
  uint64_t rng = seed;
  dam_augment *aug;
  int err = dam_augment_create(desc, NULL, &aug);
  for (uint32_t c = 1; c <= 3 && !err; c += 2) {
    uint32_t n = 3, hw = 7 + (uint32_t)(dam_splitmix64(&rng) % 6);
    err = check_augment_shape(ex, aug, dam_shape4(n, c, hw, hw + 1), &rng,
                              out);
    size_t len = strlen(out->shapes);
    snprintf(out->shapes + len, sizeof out->shapes - len, "%s%ux%ux%ux%u",
             len ? " " : "", n, c, hw, hw + 1);
    out->n_shapes++;
  }
  dam_augment_destroy(aug);
  if (err)
    return dam_fail(err, "gradcheck of %s: %s", desc->hdr.name,
                    dam_last_error());
  out->pass = out->deterministic && out->max_err <= DAM_GRADCHECK_TOL &&
              out->skipped <= out->checked;
  return 0;
}
