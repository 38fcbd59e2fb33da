/* The DA policy on the host: Gumbel-softmax sampling frequencies
 * (chi-square), the surrogate gradient against finite differences, the
 * Nesterov step, learned levels, top sub-policies and reproducibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "da_policy.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static dam_da_settings settings(uint32_t k) {
  return (dam_da_settings){.k = k, .temperature = 2.0, .lr = 0.05,
                           .momentum = 0.9, .max_level = 3.0, .seed = 7};
}

static void random_logits(dam_da_policy *p, uint64_t seed, double scale) {
  for (uint32_t j = 0; j < p->s.k * p->s.k; j++)
    p->logits[j] = scale * (2 * dam_uniform01(&seed) - 1);
}

/* Sampled pair frequencies against E[softmax((log P + G) / T)], the
 * expectation estimated from independent Gumbel draws (10x as many). */
static void check_frequencies(uint32_t k, double scale, double critical) {
  dam_da_settings s = settings(k);
  dam_da_policy p;
  assert_int_equal(dam_da_policy_init(&p, &s), 0);
  random_logits(&p, 99, scale);
  uint32_t kk = k * k, n = 100000;
  double *probs = calloc(kk, sizeof *probs), *expect = calloc(kk, sizeof *expect);
  double *g = calloc(kk, sizeof *g), *w = calloc(kk, sizeof *w);
  dam_da_policy_probs(&p, probs);
  uint64_t rng = 12345;
  for (uint32_t d = 0; d < 10 * n; d++) {
    for (uint32_t j = 0; j < kk; j++)
      g[j] = -log(-log(((double)(dam_splitmix64(&rng) >> 11) + 0.5) /
                       (double)(1ULL << 53)));
    dam_da_gumbel_weights(&p, probs, g, w);
    for (uint32_t j = 0; j < kk; j++)
      expect[j] += w[j] / (10.0 * n);
  }
  dam_da_sample smp;
  assert_int_equal(dam_da_policy_sample(&p, n, &smp), 0);
  double *count = calloc(kk, sizeof *count), chi2 = 0;
  for (uint32_t i = 0; i < n; i++) {
    assert_true(smp.pair[i] < kk);
    count[smp.pair[i]]++;
    for (int st = 0; st < 2; st++) {
      assert_true(smp.magnitude[st][i] >= 0 && smp.magnitude[st][i] < 3.0f);
      assert_true(fabsf(smp.magnitude[st][i] - 3.0f * smp.unit[st][i]) < 1e-6f);
    }
  }
  for (uint32_t j = 0; j < kk; j++)
    chi2 += (count[j] - n * expect[j]) * (count[j] - n * expect[j]) /
            (n * expect[j]);
  print_message("k=%u: chi-square %.1f over %u cells (critical %.1f)\n", k,
                chi2, kk, critical);
  assert_true(chi2 < critical);
  /* the temperature matters: the frequencies are not P itself */
  double dist = 0;
  for (uint32_t j = 0; j < kk; j++)
    dist += fabs(expect[j] - probs[j]);
  assert_true(dist > 0.05);
  dam_da_sample_free(&smp);
  free(count);
  free(probs);
  free(expect);
  free(g);
  free(w);
  dam_da_policy_free(&p);
}

/* Critical values of chi-square at p = 0.001 for 15 and 195 degrees of
 * freedom. */
static void sampling_small(void **state) {
  (void)state;
  check_frequencies(4, 2.0, 37.7);
}

static void sampling_default_k(void **state) {
  (void)state;
  check_frequencies(14, 1.5, 264.0);
}

static void surrogate_gradient(void **state) {
  (void)state;
  dam_da_settings s = settings(5);
  dam_da_policy p;
  assert_int_equal(dam_da_policy_init(&p, &s), 0);
  random_logits(&p, 3, 1.0);
  uint32_t n = 16, pair[16], kk = 25;
  float loss[16];
  uint64_t rng = 5;
  for (uint32_t i = 0; i < n; i++) {
    pair[i] = (uint32_t)(dam_uniform01(&rng) * kk);
    loss[i] = (float)(0.1 + 3 * dam_uniform01(&rng));
  }
  double grad[25], worst = 0;
  dam_da_surrogate(&p, n, pair, loss, grad);
  for (uint32_t j = 0; j < kk; j++) {
    double keep = p.logits[j], h = 1e-5;
    p.logits[j] = keep + h;
    double up = dam_da_surrogate(&p, n, pair, loss, NULL);
    p.logits[j] = keep - h;
    double down = dam_da_surrogate(&p, n, pair, loss, NULL);
    p.logits[j] = keep;
    double fd = (up - down) / (2 * h);
    worst = fmax(worst, fabs(fd - grad[j]) / fmax(1e-6, fabs(fd)));
  }
  print_message("surrogate gradient: worst relative error %.2e\n", worst);
  assert_true(worst < 1e-6);
  dam_da_policy_free(&p);
}

/* The step follows PyTorch's SGD(nesterov=True) and lowers L_DA; a
 * sub-policy with a high loss gains probability. */
static void nesterov_step(void **state) {
  (void)state;
  dam_da_settings s = settings(3);
  dam_da_policy p;
  assert_int_equal(dam_da_policy_init(&p, &s), 0);
  uint32_t pair[4] = {0, 4, 4, 8};
  float loss[4] = {0.5f, 3.0f, 2.5f, 0.2f};
  double g[9], before = dam_da_surrogate(&p, 4, pair, loss, g), expect[9];
  for (int j = 0; j < 9; j++)
    expect[j] = -0.05 * (g[j] + 0.9 * g[j]);
  assert_int_equal(dam_da_policy_step(&p, 4, pair, loss), 0);
  for (int j = 0; j < 9; j++)
    assert_true(fabs(p.logits[j] - expect[j]) < 1e-15);
  assert_true(dam_da_surrogate(&p, 4, pair, loss, NULL) < before);
  double probs[9];
  dam_da_policy_probs(&p, probs);
  assert_true(probs[4] > probs[0] && probs[4] > 1.0 / 9);
  uint32_t top[2];
  double tp[2];
  assert_int_equal(dam_da_policy_top(&p, 2, top, tp), 2);
  assert_int_equal(top[0], 4);
  assert_true(tp[0] >= tp[1]);
  float bad[4] = {0.5f, NAN, 1, 1};
  double keep[9];
  memcpy(keep, p.logits, sizeof keep);
  assert_int_not_equal(dam_da_policy_step(&p, 4, pair, bad), 0);
  assert_memory_equal(keep, p.logits, sizeof keep);
  dam_da_policy_free(&p);
}

static void learned_levels(void **state) {
  (void)state;
  dam_da_settings s = settings(2);
  s.learn_magnitude = true;
  s.magnitude_lr = 10;
  dam_da_policy p;
  assert_int_equal(dam_da_policy_init(&p, &s), 0);
  dam_da_sample smp;
  assert_int_equal(dam_da_policy_sample(&p, 8, &smp), 0);
  float up[8], down[8];
  for (int i = 0; i < 8; i++)
    up[i] = 1.0f, down[i] = -1.0f;
  const float *grads[2] = {up, down};
  dam_da_policy_magnitude_step(&p, &smp, grads);
  for (uint32_t t = 0; t < 2; t++)
    assert_true(p.level[t] >= 0 && p.level[t] <= 8);
  for (int rep = 0; rep < 20; rep++) {
    const float *all_up[2] = {up, up};
    dam_da_policy_magnitude_step(&p, &smp, all_up);
  }
  assert_true(p.level[0] == 8.0 || p.level[1] == 8.0); /* clamped */
  dam_da_sample_free(&smp);
  dam_da_policy_free(&p);
}

static void reproducible(void **state) {
  (void)state;
  dam_da_settings s = settings(14);
  dam_da_policy a, b;
  assert_int_equal(dam_da_policy_init(&a, &s), 0);
  assert_int_equal(dam_da_policy_init(&b, &s), 0);
  dam_da_sample x, y;
  assert_int_equal(dam_da_policy_sample(&a, 64, &x), 0);
  assert_int_equal(dam_da_policy_sample(&b, 64, &y), 0);
  assert_memory_equal(x.pair, y.pair, 64 * sizeof *x.pair);
  assert_memory_equal(x.magnitude[1], y.magnitude[1], 64 * sizeof(float));
  assert_memory_equal(x.seed[0], y.seed[0], 64 * sizeof(uint32_t));
  dam_da_sample_free(&x);
  dam_da_sample_free(&y);
  dam_da_policy_free(&a);
  dam_da_policy_free(&b);
  s.temperature = 0;
  assert_int_not_equal(dam_da_policy_init(&a, &s), 0);
  assert_null(a.logits);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sampling_small),   cmocka_unit_test(sampling_default_k),
      cmocka_unit_test(surrogate_gradient), cmocka_unit_test(nesterov_step),
      cmocka_unit_test(learned_levels),   cmocka_unit_test(reproducible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
