/*
 * The data-augmentation policy of DHA (DESIGN §6 steps 1 and 3), on the
 * host: logits alpha over the K x K ordered pairs of transforms
 * (sub-policies), P = softmax(alpha); per image a pair is drawn with the
 * Gumbel-softmax weights softmax((log P + G) / T); after the forward, the
 * surrogate L_DA = -mean_i stopgrad(loss_i) * P[pair_i] takes one SGD step
 * with Nesterov momentum on alpha.  Optionally each transform's magnitude
 * level is learned too.  All randomness comes from the policy's seed.
 */
#ifndef DAM_DA_POLICY_H
#define DAM_DA_POLICY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct dam_da_settings {
  uint32_t k;            /* transforms; pairs are a * k + b */
  double temperature;    /* T of the Gumbel-softmax weights, > 0 */
  double lr, momentum;   /* SGD with Nesterov momentum on alpha */
  double max_level;      /* M: magnitudes are drawn from U(0, M), M <= 8 */
  bool learn_magnitude;  /* learn a level per transform (starts at M) */
  double magnitude_lr;   /* its step size */
  uint64_t seed;
} dam_da_settings;

typedef struct dam_da_policy {
  dam_da_settings s;
  double *logits;   /* k * k, alpha */
  double *velocity; /* k * k, the momentum buffer */
  double *level;    /* k, each transform's top level (all M unless learned) */
  uint64_t rng;
} dam_da_policy;

/* What the policy drew for a batch of n images: image i goes through
 * transform pair[i] / k with magnitude magnitude[0][i], then through
 * pair[i] % k with magnitude[1][i]; magnitude[s][i] = unit[s][i] *
 * level[transform]; seed[s][i] feeds the transform's own randomness. */
typedef struct dam_da_sample {
  uint32_t n;
  uint32_t *pair;
  float *magnitude[2];
  float *unit[2];
  uint32_t *seed[2];
} dam_da_sample;

/* Uniform logits (P = 1 / k^2), zero momentum.  DAM_EINVAL for bad
 * settings, DAM_ENOMEM. */
int dam_da_policy_init(dam_da_policy *p, const dam_da_settings *s);

/* Free the arrays (the struct itself is the caller's). */
void dam_da_policy_free(dam_da_policy *p);

/* probs[k * k] = softmax(alpha). */
void dam_da_policy_probs(const dam_da_policy *p, double *probs);

/* The Gumbel-softmax weights for one draw of the noise g[k * k]:
 * w = softmax((log P + g) / T).  Exposed for the sampling test. */
void dam_da_gumbel_weights(const dam_da_policy *p, const double *probs,
                           const double *g, double *w);

/* Draw a sub-policy, magnitudes and seeds for n images (allocates *out;
 * free with dam_da_sample_free).  Advances the policy's generator.
 * DAM_ENOMEM. */
int dam_da_policy_sample(dam_da_policy *p, uint32_t n, dam_da_sample *out);

void dam_da_sample_free(dam_da_sample *s);

/* L_DA = -(1/n) sum_i loss[i] * P[pair[i]] and, if grad is non-NULL,
 * grad[k * k] = dL_DA / d alpha (the losses are constants). */
double dam_da_surrogate(const dam_da_policy *p, uint32_t n,
                        const uint32_t *pair, const float *loss, double *grad);

/* One SGD step with Nesterov momentum on alpha from the batch's per-image
 * losses (non-finite losses are refused with DAM_EINVAL, alpha unchanged).
 * DAM_ENOMEM. */
int dam_da_policy_step(dam_da_policy *p, uint32_t n, const uint32_t *pair,
                       const float *loss);

/* With learn_magnitude: one ascent step of each transform's level on the
 * mean training loss, from grad[s][i] = d(mean loss) / d magnitude[s][i],
 * clamped to [0, 8] (the augmentation is pushed towards harder images, as
 * the DA surrogate pushes P towards high-loss sub-policies).  A no-op
 * otherwise. */
void dam_da_policy_magnitude_step(dam_da_policy *p, const dam_da_sample *s,
                                  const float *const grad[2]);

/* The `count` most probable pairs, best first: pair[j], prob[j].  Returns
 * how many were written (<= k * k). */
uint32_t dam_da_policy_top(const dam_da_policy *p, uint32_t count,
                           uint32_t *pair, double *prob);

#endif
