/* DARTS' second order (core/search_step.c) against finite differences.
 *
 * A DARTS-mode search step reads back the validation loss at the lookahead
 * weights, f(alpha) = L_val(w - xi (g_train(w, alpha) + wd w), alpha) (the
 * first step's momentum buffer is zero), and with nas.darts.order = 2 it
 * steps the alphas along the gradient of exactly that f.  So the slope of
 * the step's validation loss, with the alphas moved along a direction,
 * checks the gradient the step took (Adam's first moment after one step,
 * with beta1 = 0 and no weight decay on the alphas).  Each evaluation
 * starts from the same checkpoint of one run of the tiny search's net on
 * Fashion-MNIST.  The learning rate xi is large so that the Hessian term,
 * which the first order drops, is most of the gradient.
 *
 * f is rough at small scales (float rounding through a training step;
 * the relus' and max pools' kinks), so the slope is a least-squares fit
 * over 2 * STEPS points up to STEPS * SPACING either side. */
#include "harness.h"
#include "tmpdir.h"

#include "dataset.h"
#include "error.h"
#include "safetensors.h"
#include "search_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGES 32 /* training and validation each */
#define STEPS 4
#define SPACING 0.01

typedef struct fixture {
  dam_config cfg[2]; /* first and second order */
  dam_registry *reg;
  dam_dataset train;
  uint32_t idx[2 * IMAGES];
  dam_search_data data;
  dam_search_opts opts;
  dam_run run; /* checkpointed before its first step */
  uint32_t n;  /* alphas, both cell kinds */
} fixture;

static int load_config(dam_config *cfg, const char *order) {
  const char *o[] = {
      "seed=0",
      "search_space.cells=3",
      "search_space.channels=4",
      "search_space.nodes=2",
      "search_space.stem_stride=2",
      "train.batch_size=32",
      "train.val_batch_size=32",
      "train.drop_path=0",
      "train.grad_clip=0",
      "train.weight_lr=1.0",
      "nas.method=\"darts\"",
      "nas.arch_beta1=0",
      "nas.arch_wd=0",
      "hpo.enabled=false",
      "da.enabled=false",
      order,
  };
  return dam_config_load(SOURCE_ROOT "/configs/quickstart.cfg", o,
                         sizeof o / sizeof *o, cfg);
}

static void check(int err) {
  if (err)
    fail_msg("%s", dam_last_error());
}

/* The alphas (name "alphas") or Adam's first moments ("m") of both cell
 * kinds in a saved arch: added to from `add`, or copied into `out` (either
 * may be NULL); returns how many. */
static uint32_t arch_values(dam_safetensors *st, const char *name,
                            const double *add, double *out) {
  uint32_t n = 0;
  for (int kind = 0; kind < 2; kind++) {
    char full[64];
    snprintf(full, sizeof full, "arch.%s.%s", kind ? "reduce" : "normal", name);
    const dam_st_tensor *t = dam_st_find(st, full);
    assert_non_null(t);
    assert_int_equal(t->dtype, DAM_ST_F64);
    double *x = t->data;
    for (uint64_t j = 0; j < t->nbytes / sizeof *x; j++, n++) {
      if (add)
        x[j] += add[n];
      if (out)
        out[n] = x[j];
    }
  }
  return n;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(tmpdir_setup(NULL), 0);
  check(load_config(&f->cfg[0], "nas.darts.order=1"));
  check(load_config(&f->cfg[1], "nas.darts.order=2"));
  assert_non_null(f->reg = dam_registry_new());
  assert_true(dam_registry_discover(f->reg, NULL) >= 0);
  check(dam_config_check_plugins(&f->cfg[1], f->reg));
  check(dam_fashion_mnist_load(NULL, 0, &f->train));
  for (uint32_t i = 0; i < 2 * IMAGES; i++)
    f->idx[i] = i;
  f->data = (dam_search_data){&f->train, &f->train, f->idx,   f->idx + IMAGES,
                              IMAGES,    IMAGES,    {0.286f}, {0.353f}};
  f->opts = (dam_search_opts){.device = harness_device_spec(), .out = stderr};
  check(dam__run_open(&f->run, &f->cfg[1], f->reg, &f->data, &f->opts));
  f->run.dir = (char *)tmpdir_get();
  assert_non_null(f->run.metrics = fopen(tmpdir_path("metrics.jsonl"), "w"));
  check(dam__checkpoint_save(&f->run));
  dam_safetensors *st = dam_st_new();
  assert_non_null(st);
  check(dam_arch_save(f->run.arch, st));
  f->n = arch_values(st, "alphas", NULL, NULL);
  dam_st_free(st);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  int validation_errors = f->run.dev ? f->run.dev->validation_errors : 0;
  dam__run_close(&f->run);
  dam_config_free(&f->cfg[0]);
  dam_config_free(&f->cfg[1]);
  dam_registry_free(f->reg);
  dam_dataset_free(&f->train);
  free(f);
  tmpdir_teardown(NULL);
  if (validation_errors)
    fprintf(stderr, "%d Vulkan validation error(s)\n", validation_errors);
  return validation_errors ? -1 : 0;
}

/* The run's first search step again, at order 1 or 2, with the alphas
 * moved by h * dir (dir may be NULL): its validation loss, and the
 * alphas' gradient it took into grad when that is not NULL. */
static double first_step(fixture *f, int order, const double *dir, double h,
                         double *grad) {
  dam_run *run = &f->run;
  check(dam__checkpoint_load(run));
  dam_safetensors *st = dam_st_new();
  double *moved = calloc(f->n, sizeof *moved);
  assert_true(st && moved);
  for (uint32_t i = 0; dir && i < f->n; i++)
    moved[i] = h * dir[i];
  check(dam_arch_save(run->arch, st));
  arch_values(st, "alphas", moved, NULL);
  check(dam_arch_load(run->arch, st));
  dam_batcher_free(run->train);
  dam_batcher_free(run->val);
  run->train = run->val = NULL;
  run->cfg = &f->cfg[order - 1];
  check(dam__run_batchers(run));
  dam_step_result r;
  check(dam__search_step(run, &r));
  assert_true(r.lr == 1.0);
  if (grad) {
    dam_safetensors *after = dam_st_new();
    assert_non_null(after);
    check(dam_arch_save(run->arch, after));
    arch_values(after, "m", NULL, grad);
    dam_st_free(after);
  }
  dam_st_free(st);
  free(moved);
  return r.val_loss;
}

/* f's slope along unit dir: a least-squares line through its values at
 * +-SPACING .. +-STEPS * SPACING (f(0) does not enter). */
static double slope(fixture *f, const double *dir) {
  double num = 0, den = 0;
  for (int k = -STEPS; k <= STEPS; k++) {
    double h = k * SPACING;
    if (k)
      num += h * first_step(f, 2, dir, h, NULL);
    den += h * h;
  }
  return num / den;
}

static double dot(const double *a, const double *b, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static void unit(double *v, uint32_t n) {
  double norm = sqrt(dot(v, v, n));
  assert_true(norm > 0);
  for (uint32_t i = 0; i < n; i++)
    v[i] /= norm;
}

static void gradient_matches_finite_differences(void **state) {
  fixture *f = *state;
  uint32_t n = f->n;
  double *g1 = calloc(n, sizeof *g1), *g2 = calloc(n, sizeof *g2);
  double *dir = calloc(n, sizeof *dir);
  assert_true(g1 && g2 && dir);
  double loss1 = first_step(f, 1, NULL, 0, g1);
  double loss2 = first_step(f, 2, NULL, 0, g2);
  assert_true(loss1 == loss2);

  for (uint32_t i = 0; i < n; i++)
    dir[i] = g2[i] - g1[i];
  unit(dir, n);
  double fd = slope(f, dir), term = dot(g2, dir, n) - dot(g1, dir, n);
  fprintf(stderr,
          "along the Hessian term: first order %.5f, second %.5f, "
          "finite differences %.5f\n",
          dot(g1, dir, n), dot(g2, dir, n), fd);
  assert_true(fabs(term) > 0.5 * fabs(fd));
  assert_true(fabs(term - (fd - dot(g1, dir, n))) <= 0.1 * fabs(term));

  memcpy(dir, g2, n * sizeof *dir);
  unit(dir, n);
  fd = slope(f, dir);
  fprintf(stderr,
          "along the gradient: first order %.5f, second %.5f, "
          "finite differences %.5f\n",
          dot(g1, dir, n), dot(g2, dir, n), fd);
  assert_true(fabs(dot(g2, dir, n) - fd) <= 0.1 * fabs(fd));
  free(g1);
  free(g2);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(gradient_matches_finite_differences,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
