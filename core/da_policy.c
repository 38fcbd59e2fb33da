/* The DA policy: softmax logits over transform pairs, Gumbel-softmax
 * sampling, the DHA surrogate update and optional learned levels. */
#include "da_policy.h"
#include "error.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVEL 8.0

int dam_da_policy_init(dam_da_policy *p, const dam_da_settings *s) {
  memset(p, 0, sizeof *p);
  if (!s->k || s->k > 256 || !(s->temperature > 0) || !(s->lr >= 0) ||
      !(s->momentum >= 0 && s->momentum < 1) ||
      !(s->max_level >= 0 && s->max_level <= MAX_LEVEL))
    return dam_fail(DAM_EINVAL, "da policy: need 1..256 transforms, T > 0, "
                    "lr >= 0, momentum in [0, 1) and M in [0, 8]");
  size_t kk = (size_t)s->k * s->k;
  p->s = *s;
  p->logits = calloc(kk, sizeof *p->logits);
  p->velocity = calloc(kk, sizeof *p->velocity);
  p->level = malloc(s->k * sizeof *p->level);
  if (!p->logits || !p->velocity || !p->level) {
    dam_da_policy_free(p);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  for (uint32_t t = 0; t < s->k; t++)
    p->level[t] = s->max_level;
  p->rng = s->seed;
  return DAM_OK;
}

void dam_da_policy_free(dam_da_policy *p) {
  free(p->logits);
  free(p->velocity);
  free(p->level);
  p->logits = p->velocity = p->level = NULL;
}

/* out = softmax(v / t) over n entries. */
static void softmax(const double *v, uint32_t n, double t, double *out) {
  double top = -INFINITY, sum = 0;
  for (uint32_t i = 0; i < n; i++)
    top = fmax(top, v[i] / t);
  for (uint32_t i = 0; i < n; i++)
    sum += out[i] = exp(v[i] / t - top);
  for (uint32_t i = 0; i < n; i++)
    out[i] /= sum;
}

void dam_da_policy_probs(const dam_da_policy *p, double *probs) {
  softmax(p->logits, p->s.k * p->s.k, 1.0, probs);
}

void dam_da_gumbel_weights(const dam_da_policy *p, const double *probs,
                           const double *g, double *w) {
  uint32_t kk = p->s.k * p->s.k;
  for (uint32_t j = 0; j < kk; j++)
    w[j] = log(probs[j]) + g[j];
  softmax(w, kk, p->s.temperature, w);
}

/* Uniform in (0, 1): never 0, so the Gumbel noise stays finite. */
static double open_unit(uint64_t *rng) {
  return ((double)(dam_splitmix64(rng) >> 11) + 0.5) / (double)(1ULL << 53);
}

/* An index drawn with probabilities w[0..n). */
static uint32_t draw_categorical(const double *w, uint32_t n, uint64_t *rng) {
  double u = dam_uniform01(rng), acc = 0;
  for (uint32_t j = 0; j < n; j++)
    if (u < (acc += w[j]))
      return j;
  while (n > 1 && w[n - 1] == 0)
    n--;
  return n - 1; /* rounding left u just above the total */
}

void dam_da_sample_free(dam_da_sample *s) {
  free(s->pair);
  for (int st = 0; st < 2; st++) {
    free(s->magnitude[st]);
    free(s->unit[st]);
    free(s->seed[st]);
  }
  memset(s, 0, sizeof *s);
}

int dam_da_policy_sample(dam_da_policy *p, uint32_t n, dam_da_sample *out) {
  uint32_t k = p->s.k, kk = k * k;
  memset(out, 0, sizeof *out);
  out->n = n;
  out->pair = malloc(n * sizeof *out->pair);
  bool ok = out->pair != NULL;
  for (int st = 0; st < 2; st++) {
    out->magnitude[st] = malloc(n * sizeof(float));
    out->unit[st] = malloc(n * sizeof(float));
    out->seed[st] = malloc(n * sizeof(uint32_t));
    ok = ok && out->magnitude[st] && out->unit[st] && out->seed[st];
  }
  double *probs = malloc(2 * kk * sizeof *probs), *w = probs + kk;
  if (!ok || !probs) {
    free(probs);
    dam_da_sample_free(out);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  dam_da_policy_probs(p, probs);
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < kk; j++)
      w[j] = -log(-log(open_unit(&p->rng)));
    dam_da_gumbel_weights(p, probs, w, w);
    uint32_t pair = out->pair[i] = draw_categorical(w, kk, &p->rng);
    uint32_t t[2] = {pair / k, pair % k};
    for (int st = 0; st < 2; st++) {
      float u = (float)dam_uniform01(&p->rng);
      out->unit[st][i] = u;
      out->magnitude[st][i] = u * (float)p->level[t[st]];
      out->seed[st][i] = (uint32_t)(dam_splitmix64(&p->rng) >> 32);
    }
  }
  free(probs);
  return DAM_OK;
}

double dam_da_surrogate(const dam_da_policy *p, uint32_t n,
                        const uint32_t *pair, const float *loss,
                        double *grad) {
  uint32_t kk = p->s.k * p->s.k;
  double *probs = malloc(kk * sizeof *probs), value = 0;
  if (!probs)
    return NAN;
  dam_da_policy_probs(p, probs);
  if (grad)
    memset(grad, 0, kk * sizeof *grad);
  /* dP[a]/d alpha_j = P[a] (delta_aj - P[j]) */
  for (uint32_t i = 0; i < n; i++) {
    double c = -(double)loss[i] * probs[pair[i]] / n;
    value += c;
    if (!grad)
      continue;
    grad[pair[i]] += c;
    for (uint32_t j = 0; j < kk; j++)
      grad[j] -= c * probs[j];
  }
  free(probs);
  return value;
}

int dam_da_policy_step(dam_da_policy *p, uint32_t n, const uint32_t *pair,
                       const float *loss) {
  uint32_t kk = p->s.k * p->s.k;
  for (uint32_t i = 0; i < n; i++)
    if (!isfinite(loss[i]) || pair[i] >= kk)
      return dam_fail(DAM_EINVAL, "da policy: image %u has loss %g and "
                      "pair %u", i, (double)loss[i], pair[i]);
  double *g = malloc(kk * sizeof *g);
  if (!g)
    return dam_fail(DAM_ENOMEM, "out of memory");
  dam_da_surrogate(p, n, pair, loss, g);
  double mu = p->s.momentum;
  for (uint32_t j = 0; j < kk; j++) { /* PyTorch's SGD(nesterov=True) */
    p->velocity[j] = mu * p->velocity[j] + g[j];
    p->logits[j] -= p->s.lr * (g[j] + mu * p->velocity[j]);
  }
  free(g);
  return DAM_OK;
}

void dam_da_policy_magnitude_step(dam_da_policy *p, const dam_da_sample *s,
                                  const float *const grad[2]) {
  if (!p->s.learn_magnitude)
    return;
  uint32_t k = p->s.k;
  for (uint32_t i = 0; i < s->n; i++) {
    uint32_t t[2] = {s->pair[i] / k, s->pair[i] % k};
    for (int st = 0; st < 2; st++) /* d magnitude / d level = unit */
      p->level[t[st]] += p->s.magnitude_lr * s->unit[st][i] * grad[st][i];
  }
  for (uint32_t t = 0; t < k; t++)
    p->level[t] = fmin(MAX_LEVEL, fmax(0.0, p->level[t]));
}

uint32_t dam_da_policy_top(const dam_da_policy *p, uint32_t count,
                           uint32_t *pair, double *prob) {
  uint32_t kk = p->s.k * p->s.k, got = 0;
  double *probs = malloc(kk * sizeof *probs);
  if (!probs)
    return 0;
  dam_da_policy_probs(p, probs);
  for (; got < count && got < kk; got++) { /* selection: count is small */
    uint32_t best = 0;
    for (uint32_t j = 1; j < kk; j++)
      if (probs[j] > probs[best])
        best = j;
    pair[got] = best;
    prob[got] = probs[best];
    probs[best] = -1;
  }
  free(probs);
  return got;
}
