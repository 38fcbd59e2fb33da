/*
 * The hpo plugins (learning_rate, weight_decay, momentum) on lavapipe,
 * through core/hpo.c, on least squares: y ~ x.w + b over 128 features
 * whose scales fall as 1/j (a Hessian spectrum from 50 down to 0.4, like
 * a small network's), with a little label noise.  The weight step and the
 * validation gradient run on the device with the core kernels; the
 * validation loss after one step, L_val(w'(eta, lambda, mu)), is a
 * quadratic computed in double on the host, so a central difference is
 * exact and each hypergradient must match it to 1e-3.  Then: a learning
 * rate started far too small grows and one far too large shrinks; values
 * stay clamped; a state survives a checkpoint; the config fills, checks and
 * combines the modules.
 */
#include "harness.h"

#include "config_fixtures.h"
#include "error.h"
#include "hpo.h"
#include "kernels.h"
#include "linear.h"
#include "optim.h"
#include "plugin.h"
#include "safetensors.h"
#include "tmpdir.h"

#include <diffautoml/hpo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HPO_PLUGIN_DIR
#error "build with -DHPO_PLUGIN_DIR=\"<build dir of plugins/hpo>\""
#endif
#ifndef SKIP_CONNECT_PATH
#error "build with -DSKIP_CONNECT_PATH=\"<built skip_connect.so>\""
#endif

enum { D = 128, M = 256, BATCHES = 8 };
#define TOP_CURVATURE 50.0
#define NOISE 0.01
#define FD_TOL 1e-3

static harness *H;
static dam_registry *reg;
static const dam_hpo_desc *lr_desc, *wd_desc, *mu_desc;

/* ---- fixtures ------------------------------------------------------------ */

static const dam_hpo_desc *find(const char *name) {
  const dam_desc_header *d = dam_registry_find(reg, DAM_KIND_HPO, name, NULL);
  assert_non_null(d);
  return (const dam_hpo_desc *)d;
}

static int setup(void **state) {
  void *h;
  if (harness_setup(&h) || tmpdir_setup(state))
    return -1;
  H = h;
  reg = dam_registry_new();
  if (!reg || dam_registry_load_file(reg, HPO_PLUGIN_DIR "/learning_rate.so") ||
      dam_registry_load_file(reg, HPO_PLUGIN_DIR "/weight_decay.so") ||
      dam_registry_load_file(reg, HPO_PLUGIN_DIR "/momentum.so") ||
      dam_registry_load_file(reg, SKIP_CONNECT_PATH)) {
    fprintf(stderr, "setup: %s\n", dam_last_error());
    return -1;
  }
  lr_desc = find("learning_rate");
  wd_desc = find("weight_decay");
  mu_desc = find("momentum");
  return 0;
}

static int teardown(void **state) {
  void *h = H;
  int rc = harness_teardown(&h);
  dam_registry_free(reg);
  return tmpdir_teardown(state) || rc;
}

/* A module of desc with its defaults, then `name = value` pairs. */
static dam_hpo *module(const dam_hpo_desc *desc, int n, ...) {
  dam_hpo_params p;
  dam_hpo *m;
  va_list ap;
  memset(&p, 0, sizeof p);
  dam_params_defaults(&desc->hdr, &p);
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    const char *name = va_arg(ap, const char *);
    assert_int_equal(dam_params_set(&desc->hdr, &p, name, va_arg(ap, double)),
                     0);
  }
  va_end(ap);
  assert_int_equal(dam_hpo_create(desc, &p, &m), 0);
  return m;
}

/* ---- the problem -----------------------------------------------------------
 */

typedef struct problem {
  float *x[2][BATCHES], *y[2][BATCHES]; /* [0] training, [1] validation */
  dam_tensor *dx[2][BATCHES], *dy[2][BATCHES];
  /* weights, momentum buffers and gradients: [0] w [1, D], [1] b [1] */
  dam_tensor *w[2], *buf[2], *prev[2], *g[2], *gval[2];
} problem;

static dam_tensor *persistent(dam_shape s, const float *data) {
  dam_tensor *t = dam_tensor_new(H->ex, &s, true);
  assert_non_null(t);
  if (data)
    assert_int_equal(dam_tensor_upload(H->ex, t, data), 0);
  return t;
}

/* Batches from one seeded teacher; weights start at w0 (b = 0.1), the
 * momentum buffers at buf0 (NULL: zero). */
static void problem_init(problem *p, const float *w0, const float *buf0) {
  float teacher[D + 1], scale[D], zero[D + 1] = {0};
  H->rng = 0x5eed;
  for (int j = 0; j < D; j++) {
    scale[j] = (float)sqrt(3 * TOP_CURVATURE / (j + 1));
    teacher[j] = harness_uniform(H, -1, 1) * (float)sqrt(3.0 / D);
  }
  teacher[D] = 0.5f;
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < BATCHES; k++) {
      float *x = p->x[s][k] = harness_random(H, (size_t)M * D, -1, 1);
      float *y = p->y[s][k] = malloc(M * sizeof *y);
      assert_non_null(y);
      for (int i = 0; i < M; i++) {
        double t = teacher[D];
        for (int j = 0; j < D; j++)
          t += (x[i * D + j] *= scale[j]) * teacher[j];
        y[i] = (float)(t + NOISE * harness_uniform(H, -1.7f, 1.7f));
      }
      p->dx[s][k] = persistent(dam_shape4(M, D, 0, 0), x);
      p->dy[s][k] = persistent(dam_shape4(M, 1, 0, 0), y);
    }
  const float b0 = 0.1f;
  const dam_shape shapes[2] = {dam_shape4(1, D, 0, 0), dam_shape4(1, 0, 0, 0)};
  for (int i = 0; i < 2; i++) {
    p->w[i] = persistent(shapes[i], i ? &b0 : w0 ? w0 : zero);
    p->buf[i] = persistent(shapes[i], buf0 ? buf0 + i * D : zero);
    p->prev[i] = persistent(shapes[i], NULL);
    p->g[i] = persistent(shapes[i], NULL);
    p->gval[i] = persistent(shapes[i], NULL);
  }
}

static void problem_free(problem *p) {
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < BATCHES; k++) {
      free(p->x[s][k]);
      free(p->y[s][k]);
      dam_tensor_free(H->ex, p->dx[s][k]);
      dam_tensor_free(H->ex, p->dy[s][k]);
    }
  for (int i = 0; i < 2; i++) {
    dam_tensor_free(H->ex, p->w[i]);
    dam_tensor_free(H->ex, p->buf[i]);
    dam_tensor_free(H->ex, p->prev[i]);
    dam_tensor_free(H->ex, p->g[i]);
    dam_tensor_free(H->ex, p->gval[i]);
  }
}

/* g = X^T (X w + b - y) / M on the device. */
static void device_grad(problem *p, int set, int k, dam_tensor **g) {
  dam_exec *ex = H->ex;
  dam_shape s = dam_shape4(M, 1, 0, 0);
  dam_tensor *pred = dam_tensor_new(ex, &s, false),
             *r = dam_tensor_new(ex, &s, false);
  assert_non_null(pred);
  assert_non_null(r);
  assert_int_equal(dam_k_fill(ex, g[0], 0), 0);
  assert_int_equal(dam_k_fill(ex, g[1], 0), 0);
  assert_int_equal(dam_k_linear(ex, p->dx[set][k], p->w[0], p->w[1], pred), 0);
  assert_int_equal(dam_k_copy(ex, p->dy[set][k], r), 0);
  assert_int_equal(dam_k_axpby(ex, 1.0f / M, pred, -1.0f / M, r), 0);
  assert_int_equal(dam_k_linear_grad_weight(ex, p->dx[set][k], r, g[0], g[1]),
                   0);
}

/* The engine's step on training batch k, then the validation gradient at
 * w' on validation batch k; *step describes it for the modules. */
static void device_step(problem *p, int k, double eta, double lambda, double mu,
                        dam_hpo_step *step) {
  dam_exec *ex = H->ex;
  device_grad(p, 0, k, p->g);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(dam_k_copy(ex, p->buf[i], p->prev[i]), 0);
    assert_int_equal(dam_k_sgd(ex, p->w[i], p->g[i], p->buf[i], (float)eta,
                               (float)lambda, (float)mu, false),
                     0);
  }
  device_grad(p, 1, k, p->gval);
  *step = (dam_hpo_step){sizeof *step, 2,   p->w,   p->buf, p->prev,
                         p->gval,      eta, lambda, mu};
}

/* One step with every module recorded and finished. */
static void hpo_step(problem *p, int k, dam_hpo *const *mods, uint32_t n,
                     double eta, double lambda, double mu) {
  dam_hpo_step step;
  device_step(p, k, eta, lambda, mu, &step);
  for (uint32_t i = 0; i < n; i++)
    assert_int_equal(dam_hpo_record(mods[i], H->ex, &step), 0);
  for (uint32_t i = 0; i < n; i++)
    if (dam_hpo_finish(mods[i], H->ex, &step))
      fail_msg("%s", dam_last_error());
  assert_int_equal(dam_exec_end_step(H->ex), 0);
}

/* ---- the same in double on the host ----------------------------------------
 */

/* 1/(2M) sum (x.w + b - y)^2 over batch (set, k); v = [w, b]. */
static double host_loss(const problem *p, int set, int k, const double *v) {
  double loss = 0;
  for (int i = 0; i < M; i++) {
    double r = v[D] - p->y[set][k][i];
    for (int j = 0; j < D; j++)
      r += p->x[set][k][i * D + j] * v[j];
    loss += r * r;
  }
  return loss / (2 * M);
}

static void host_grad(const problem *p, int set, int k, const double *v,
                      double *g) {
  memset(g, 0, (D + 1) * sizeof *g);
  for (int i = 0; i < M; i++) {
    double r = v[D] - p->y[set][k][i];
    for (int j = 0; j < D; j++)
      r += p->x[set][k][i * D + j] * v[j];
    for (int j = 0; j < D; j++)
      g[j] += p->x[set][k][i * D + j] * r / M;
    g[D] += r / M;
  }
}

/* [w, b] and [buf_w, buf_b] from the device. */
static void read_state(problem *p, double *v, double *buf) {
  for (int i = 0; i < 2; i++) {
    float *a = harness_read(H, p->w[i]), *c = harness_read(H, p->buf[i]);
    for (uint64_t j = 0; j < p->w[i]->numel; j++) {
      v[i * D + j] = a[j];
      buf[i * D + j] = c[j];
    }
    free(a);
    free(c);
  }
}

/* L_val(w'(h)) for the step from (v, buf_prev) on batch k. */
static double lookahead(const problem *p, int k, const double *v,
                        const double *bufp, const double *g, double eta,
                        double lambda, double mu) {
  double next[D + 1];
  for (int j = 0; j <= D; j++)
    next[j] = v[j] - eta * (mu * bufp[j] + g[j] + lambda * v[j]);
  return host_loss(p, 1, k, next);
}

/* ---- hypergradients against finite differences -----------------------------
 */

static void hypergradients_match_differences(void **state) {
  (void)state;
  problem p;
  float w0[D], buf0[D + 1];
  H->rng = 7;
  for (int j = 0; j < D; j++)
    w0[j] = harness_uniform(H, -0.2f, 0.2f);
  for (int j = 0; j <= D; j++)
    buf0[j] = harness_uniform(H, -0.5f, 0.5f);
  problem_init(&p, w0, buf0);
  dam_hpo *mods[3] = {module(lr_desc, 0), module(wd_desc, 0),
                      module(mu_desc, 0)};
  const double eta = 0.01, lambda = 3e-3, mu = 0.9;
  double worst[3] = {0, 0, 0};
  /* at the start, and after 40 steps of training */
  for (int round = 0; round < 2; round++) {
    for (int s = 0; round && s < 40; s++)
      hpo_step(&p, s % BATCHES, mods, 0, eta, lambda, mu);
    double v[D + 1], bufp[D + 1], g[D + 1], fd[3];
    int k = 3;
    read_state(&p, v, bufp);
    host_grad(&p, 0, k, v, g);
    for (int i = 0; i < 3; i++) {
      double x[3] = {eta, lambda, mu}, h = 1e-2 * x[i], lo, hi;
      x[i] += h;
      hi = lookahead(&p, k, v, bufp, g, x[0], x[1], x[2]);
      x[i] -= 2 * h;
      lo = lookahead(&p, k, v, bufp, g, x[0], x[1], x[2]);
      fd[i] = (hi - lo) / (2 * h);
    }
    hpo_step(&p, k, mods, 3, eta, lambda, mu);
    for (int i = 0; i < 3; i++) {
      double got = mods[i]->state.last_grad;
      double err = fabs(got - fd[i]) / fabs(fd[i]);
      print_message("round %d %-13s dL/dv %+.6e  difference %+.6e  rel err "
                    "%.2e\n",
                    round, dam_hpo_name(mods[i]), got, fd[i], err);
      worst[i] = err > worst[i] ? err : worst[i];
      assert_true(fabs(fd[i]) > 1e-8);
    }
  }
  for (int i = 0; i < 3; i++) {
    assert_true(worst[i] < FD_TOL);
    dam_hpo_destroy(mods[i]);
  }
  problem_free(&p);
}

/* ---- the learning rate finds its range
 * --------------------------------------- */

/* eta over `steps` steps from init with the default hyper-optimizer;
 * lambda and mu fixed at DARTS' 3e-4 and 0.9. */
static double eta_run(double init, int steps) {
  problem p;
  problem_init(&p, NULL, NULL);
  dam_hpo *lr = module(lr_desc, 1, "init", init);
  double first = 0, last = 0;
  for (int s = 0; s < steps; s++) {
    double eta = dam_hpo_value(lr);
    hpo_step(&p, s % BATCHES, &lr, 1, eta, 3e-4, 0.9);
    if (s % 50 == 0 || s == steps - 1) {
      double v[D + 1], buf[D + 1];
      read_state(&p, v, buf);
      last = host_loss(&p, 1, 0, v);
      first = s ? first : last;
      print_message("eta from %-6g step %3d: eta %.5f  val loss %.3e\n", init,
                    s, eta, last);
    }
  }
  double eta = dam_hpo_value(lr);
  assert_true(last < first);
  dam_hpo_destroy(lr);
  problem_free(&p);
  return eta;
}

static void learning_rate_grows_and_shrinks(void **state) {
  (void)state;
  double small = eta_run(1e-3, 300), large = eta_run(0.05, 300);
  print_message("eta 0.001 -> %.5f, 0.05 -> %.5f after 300 steps\n", small,
                large);
  assert_true(small > 2 * 1e-3);
  assert_true(large < 0.5 * 0.05);
}

/* All three together: any subset may be enabled. */
static void all_modules_train_together(void **state) {
  (void)state;
  problem p;
  problem_init(&p, NULL, NULL);
  dam_hpo *mods[3] = {module(lr_desc, 0), module(wd_desc, 0),
                      module(mu_desc, 0)};
  double v[D + 1], buf[D + 1], before, after;
  read_state(&p, v, buf);
  before = host_loss(&p, 1, 0, v);
  for (int s = 0; s < 150; s++)
    hpo_step(&p, s % BATCHES, mods, 3, dam_hpo_value(mods[0]),
             dam_hpo_value(mods[1]), dam_hpo_value(mods[2]));
  read_state(&p, v, buf);
  after = host_loss(&p, 1, 0, v);
  print_message("150 steps: val loss %.3e -> %.3e; eta %.5f lambda %.6f mu "
                "%.4f\n",
                before, after, dam_hpo_value(mods[0]), dam_hpo_value(mods[1]),
                dam_hpo_value(mods[2]));
  assert_true(after < 0.01 * before);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(mods[i]->state.steps, 150);
    dam_hpo_destroy(mods[i]);
  }
  problem_free(&p);
}

/* ---- clamping
 * ------------------------------------------------------------------ */

static void values_stay_clamped(void **state) {
  (void)state;
  const dam_hpo_desc *descs[3] = {lr_desc, wd_desc, mu_desc};
  for (int i = 0; i < 3; i++) {
    dam_hpo *m = module(descs[i], 1, "lr", 1e5);
    const dam_hpo_params *pp = m->params;
    dam_hpo_step step = {sizeof step, 0,    NULL, NULL, NULL,
                         NULL,        0.02, 3e-4, 0.9};
    /* dots pushing the value up (the hypergradient is -dots scaled by
     * eta), for a few steps, then down */
    double up[2] = {1e3, 0}, down[2] = {-1e3, 0};
    for (int s = 0; s < 3; s++) {
      assert_int_equal(descs[i]->update(m->params, &step, up, &m->state), 0);
      assert_true(m->state.value == pp->max);
      assert_true(m->state.velocity >= 0); /* nothing pushing past max */
    }
    /* the clamped velocity does not hold it at the bound */
    assert_int_equal(descs[i]->update(m->params, &step, down, &m->state), 0);
    assert_true(m->state.value < pp->max);
    for (int s = 0; s < 3; s++) {
      assert_int_equal(descs[i]->update(m->params, &step, down, &m->state), 0);
      assert_true(m->state.value == pp->min);
      assert_true(m->state.velocity <= 0);
    }
    assert_int_equal(descs[i]->update(m->params, &step, up, &m->state), 0);
    assert_true(m->state.value > pp->min);
    /* a non-finite hypergradient leaves the state alone */
    dam_hpo_state before = m->state;
    double bad[2] = {NAN, 0};
    assert_int_equal(descs[i]->update(m->params, &step, bad, &m->state),
                     DAM_PLUGIN_EINVAL);
    assert_memory_equal(&before, &m->state, sizeof before);
    dam_hpo_destroy(m);
  }

  /* on the device, with a learning rate far too eager */
  problem p;
  problem_init(&p, NULL, NULL);
  dam_hpo *lr = module(lr_desc, 2, "lr", 50.0, "grad_clip", 0.0);
  int at_bound = 0;
  for (int s = 0; s < 40; s++) {
    hpo_step(&p, s % BATCHES, &lr, 1, dam_hpo_value(lr), 3e-4, 0.9);
    double v = dam_hpo_value(lr);
    assert_true(v >= 1e-3 && v <= 0.05);
    at_bound += v == 1e-3 || v == 0.05;
  }
  print_message("eager learning rate: at a bound after %d of 40 steps\n",
                at_bound);
  assert_true(at_bound > 0);
  dam_hpo_destroy(lr);
  problem_free(&p);
}

static void state_and_step_errors(void **state) {
  (void)state;
  dam_hpo *m;
  dam_hpo_params p;
  dam_params_defaults(&lr_desc->hdr, &p);
  assert_true(dam_hpo_value(m = module(lr_desc, 0)) == sqrt(1e-3 * 0.05));
  dam_hpo_destroy(m);
  assert_true(fabs(dam_hpo_value(m = module(wd_desc, 0)) - 3e-4) < 1e-18);
  dam_hpo_destroy(m);
  assert_true(fabs(dam_hpo_value(m = module(mu_desc, 0)) - 0.895) < 1e-15);
  dam_hpo_destroy(m);
  p.min = 0.1; /* above max: init refuses, the plugin logs why */
  assert_int_equal(dam_hpo_create(lr_desc, &p, &m), DAM_EINVAL);
  assert_non_null(
      strstr(dam_last_error(), "hpo 'learning_rate': init refused"));
  assert_null(m);

  m = module(mu_desc, 0);
  dam_hpo_step step = {sizeof step, 1, NULL, NULL, NULL, NULL, 0.02, 0, 0.9};
  harness_expect_refused(dam_hpo_record(m, H->ex, &step), DAM_EINVAL,
                         "lacks weights");
  dam_tensor *t = harness_tensor(H, dam_shape4(4, 0, 0, 0), NULL);
  dam_tensor *ts[1] = {t};
  assert_int_equal(dam_k_fill(H->ex, t, 1.0f), 0);
  step.weights = step.buf = step.grad_val = ts;
  harness_expect_refused(dam_hpo_record(m, H->ex, &step), DAM_EINVAL,
                         "no buf_prev");
  harness_expect_refused(dam_hpo_finish(m, H->ex, &step), DAM_EINVAL,
                         "without a recorded step");
  step.buf_prev = ts;
  assert_int_equal(dam_hpo_record(m, H->ex, &step), 0);
  harness_expect_refused(dam_hpo_record(m, H->ex, &step), DAM_EINVAL,
                         "recorded again");
  assert_int_equal(dam_hpo_finish(m, H->ex, &step), 0);
  /* a kernel's refusal comes back named after the module */
  dam_tensor *other = harness_tensor(H, dam_shape4(5, 0, 0, 0), NULL);
  dam_tensor *os[1] = {other};
  step.buf_prev = os;
  harness_expect_refused(dam_hpo_record(m, H->ex, &step), DAM_ESHAPE,
                         "hpo 'momentum': record failed");
  dam_hpo_destroy(m);
  assert_int_equal(dam_exec_end_step(H->ex), 0);
}

/* ---- checkpoints
 * ----------------------------------------------------------------- */

static void state_survives_checkpoint(void **state) {
  (void)state;
  problem p;
  problem_init(&p, NULL, NULL);
  const dam_hpo_desc *descs[3] = {lr_desc, wd_desc, mu_desc};
  dam_hpo *mods[3], *back[3];
  for (int i = 0; i < 3; i++)
    mods[i] = module(descs[i], 0);
  for (int s = 0; s < 20; s++)
    hpo_step(&p, s % BATCHES, mods, 3, dam_hpo_value(mods[0]),
             dam_hpo_value(mods[1]), dam_hpo_value(mods[2]));
  const char *path = tmpdir_path("ckpt.safetensors");
  dam_safetensors *st = dam_st_new(), *read = NULL;
  for (int i = 0; i < 3; i++)
    assert_int_equal(dam_hpo_save(mods[i], st), 0);
  assert_int_equal(dam_st_set_meta(st, "format", "pt"), 0);
  assert_int_equal(dam_st_write(st, path), 0);
  assert_int_equal(dam_st_read(path, &read), 0);
  for (int i = 0; i < 3; i++) {
    back[i] = module(descs[i], 0);
    assert_int_equal(dam_hpo_load(back[i], read), 0);
    assert_memory_equal(&back[i]->state, &mods[i]->state,
                        sizeof mods[i]->state);
    assert_int_equal(back[i]->state.steps, 20);
  }
  /* the resumed modules take the same next step */
  hpo_step(&p, 0, mods, 3, dam_hpo_value(mods[0]), dam_hpo_value(mods[1]),
           dam_hpo_value(mods[2]));
  for (int i = 0; i < 3; i++) {
    dam_hpo_step step = {
        sizeof step, 0, NULL, NULL, NULL, NULL, dam_hpo_value(back[0]), 0, 0};
    double dots[2] = {-mods[i]->state.last_grad, 0};
    if (i > 0) /* their hypergradient is -eta * dots[0] (lambda: dots[1] 0) */
      dots[0] /= dam_hpo_value(back[0]);
    assert_int_equal(
        descs[i]->update(back[i]->params, &step, dots, &back[i]->state), 0);
    assert_true(fabs(back[i]->state.value - mods[i]->state.value) <=
                1e-12 * fabs(mods[i]->state.value));
  }
  dam_st_free(read);
  dam_st_free(st);

  /* a checkpoint without the module, or with a bad tensor */
  st = dam_st_new();
  assert_int_equal(dam_hpo_save(mods[0], st), 0);
  harness_expect_refused(dam_hpo_load(back[2], st), DAM_ENOTFOUND,
                         "no tensor 'hpo.momentum'");
  const uint64_t four[1] = {4};
  const float f[4] = {0, 0, 0, 0};
  const double bad[4] = {0.9, 0, 0, 1.5};
  assert_int_equal(dam_st_add(st, "hpo.momentum", DAM_ST_F32, 1, four, f), 0);
  harness_expect_refused(dam_hpo_load(back[2], st), DAM_EDATA, "not F64 [4]");
  assert_int_equal(dam_st_add(st, "hpo.weight_decay", DAM_ST_F64, 1, four, bad),
                   0);
  harness_expect_refused(dam_hpo_load(back[1], st), DAM_EDATA, "not a state");
  dam_st_free(st);
  for (int i = 0; i < 3; i++) {
    dam_hpo_destroy(mods[i]);
    dam_hpo_destroy(back[i]);
  }
  problem_free(&p);
}

/* ---- the config
 * ------------------------------------------------------------------ */

static void config_fills_and_checks(void **state) {
  (void)state;
  const char *text = "search_space = { ops = [\"skip_connect\"]; };\n"
                     "hpo = {\n"
                     "  enabled = true;\n"
                     "  modules = [\"learning_rate\", \"momentum\"];\n"
                     "  params = {\n"
                     "    learning_rate = { init = 0.01; lr = 0.5; };\n"
                     "    momentum = { min = 0.5; };\n"
                     "  };\n"
                     "};\n"
                     "train = { weight_decay = 1e-3; };\n";
  const char *path = cfg_write("hpo.cfg", text);
  dam_config cfg;
  dam_hpo *mods[2];
  cfg_load_ok(path, NULL, 0, &cfg);
  assert_int_equal(dam_config_check_plugins(&cfg, reg), 0);
  assert_int_equal(dam_hpo_create_config(&cfg, lr_desc, &mods[0]), 0);
  assert_int_equal(dam_hpo_create_config(&cfg, mu_desc, &mods[1]), 0);
  assert_true(dam_hpo_value(mods[0]) == 0.01);
  assert_true(((const dam_hpo_params *)mods[0]->params)->lr == 0.5);
  assert_true(fabs(dam_hpo_value(mods[1]) - 0.745) < 1e-15);
  double eta, lambda, mu;
  dam_hpo_hypers(&cfg, mods, 2, &eta, &lambda, &mu);
  assert_true(eta == 0.01 && lambda == 1e-3 && mu == dam_hpo_value(mods[1]));
  dam_hpo_hypers(&cfg, mods, 0, &eta, &lambda, &mu);
  assert_true(eta == 0.025 && lambda == 1e-3 && mu == 0.9);
  dam_hpo_destroy(mods[0]);
  dam_hpo_destroy(mods[1]);
  dam_config_free(&cfg);

  static const struct {
    const char *params, *want;
  } bad[] = {
      {"learning_rate = { min = 0.1; };",
       "%s:6: hpo.params.learning_rate: min = 0.1 must be below max = 0.05"},
      {"learning_rate = { init = 0.2; };",
       "%s:6: hpo.params.learning_rate: init = 0.2 is outside [min, max] = "
       "[0.001, 0.05] (-1 starts in the middle)"},
      {"momentum = { log_space = true; min = 0; };",
       "%s:6: hpo.params.momentum: log_space needs min > 0, got min = 0"},
      {"momentum = { mni = 0.5; };",
       "%s:6: hpo.params.momentum.mni: hpo 'momentum' has no parameter "
       "'mni' (did you mean 'min'?)"},
      {"learning_rate = { max = 20; };",
       "%s:6: hpo.params.learning_rate.max: hpo 'learning_rate': parameter "
       "'max' must be a number in [1e-06, 10] (default 0.05), got 20"},
      {"learning_rte = { max = 1; };",
       "%s:6: hpo.params: no hpo plugin named 'learning_rte' (did you mean "
       "'learning_rate'?)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char t[1024], want[512];
    snprintf(t, sizeof t,
             "search_space = { ops = [\"skip_connect\"]; };\n"
             "hpo = {\n  enabled = true;\n"
             "  modules = [\"learning_rate\", \"momentum\"];\n"
             "  params = {\n    %s\n  };\n};\n",
             bad[i].params);
    path = cfg_write("bad.cfg", t);
    cfg_load_ok(path, NULL, 0, &cfg);
    assert_int_equal(dam_config_check_plugins(&cfg, reg), DAM_ECONFIG);
    snprintf(want, sizeof want, bad[i].want, path);
    assert_string_equal(dam_last_error(), want);
    dam_config_free(&cfg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hypergradients_match_differences),
      cmocka_unit_test(learning_rate_grows_and_shrinks),
      cmocka_unit_test(all_modules_train_together),
      cmocka_unit_test(values_stay_clamped),
      cmocka_unit_test(state_and_step_errors),
      cmocka_unit_test(state_survives_checkpoint),
      cmocka_unit_test(config_fills_and_checks),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
