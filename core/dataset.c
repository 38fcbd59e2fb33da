/*
 * Dataset lifetime, the seeded shuffle and train/validation split (rng.h:
 * the same split everywhere for a seed), and per-channel statistics.
 */
#include "dataset.h"

#include "error.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dam_dataset_free(dam_dataset *d) {
  if (!d)
    return;
  free(d->images);
  free(d->labels);
  memset(d, 0, sizeof *d);
}

/* Uniform in [0, bound), bound > 0: draws below 2^64 mod bound are
 * rejected so that every residue is equally likely. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t r = dam_splitmix64(state);
    if (r >= threshold)
      return r % bound;
  }
}

void dam_shuffle(uint32_t *idx, uint32_t n, uint64_t seed) {
  uint64_t state = seed;
  for (uint32_t i = n > 0 ? n - 1 : 0; i > 0; i--) {
    uint32_t j = (uint32_t)uniform_below(&state, (uint64_t)i + 1);
    uint32_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

/* A new array of len entries copied from src, or NULL for len 0. */
static int copy_indices(const uint32_t *src, uint32_t len, uint32_t **dst) {
  *dst = NULL;
  if (len == 0)
    return 0;
  *dst = malloc((size_t)len * sizeof **dst);
  if (!*dst)
    return dam_fail(DAM_ENOMEM, "dataset split: %u indices", len);
  memcpy(*dst, src, (size_t)len * sizeof **dst);
  return 0;
}

int dam_dataset_split(uint32_t n, double val_ratio, uint64_t seed,
                      uint32_t **train_idx, uint32_t *n_train,
                      uint32_t **val_idx, uint32_t *n_val) {
  *train_idx = *val_idx = NULL;
  *n_train = *n_val = 0;
  if (!(val_ratio >= 0.0 && val_ratio < 1.0))
    return dam_fail(DAM_EINVAL,
                    "dataset split: validation ratio %g is not in [0, 1)",
                    val_ratio);
  if (n == 0)
    return 0;

  uint32_t *perm = malloc((size_t)n * sizeof *perm);
  if (!perm)
    return dam_fail(DAM_ENOMEM, "dataset split: %u indices", n);
  for (uint32_t i = 0; i < n; i++)
    perm[i] = i;
  dam_shuffle(perm, n, seed);

  uint32_t nv = (uint32_t)((double)n * val_ratio + 0.5);
  uint32_t *val = NULL, *train = NULL;
  int rc = copy_indices(perm, nv, &val);
  if (rc)
    goto free_perm;
  rc = copy_indices(perm + nv, n - nv, &train);
  if (rc)
    goto free_val;
  free(perm);
  *val_idx = val;
  *n_val = nv;
  *train_idx = train;
  *n_train = n - nv;
  return 0;

free_val:
  free(val);
free_perm:
  free(perm);
  return rc;
}

void dam_dataset_channel_stats(const dam_dataset *d, const uint32_t *idx,
                               uint32_t n, float *mean, float *std) {
  size_t plane = (size_t)d->height * d->width;
  for (uint32_t c = 0; c < d->channels; c++) {
    double sum = 0, sq = 0;
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t *p =
          d->images + ((size_t)idx[i] * d->channels + c) * plane;
      uint64_t s = 0, s2 = 0;
      for (size_t j = 0; j < plane; j++) {
        s += p[j];
        s2 += (uint64_t)p[j] * p[j];
      }
      sum += (double)s;
      sq += (double)s2;
    }
    double count = (double)n * (double)plane;
    double m = n ? sum / count : 0;
    double var = n ? sq / count - m * m : 0;
    mean[c] = (float)(m / 255.0);
    std[c] = n && var > 0 ? (float)(sqrt(var) / 255.0) : 1.0f;
  }
}
