/*
 * The batch-norm tests' shared reference in double (test_batchnorm.c,
 * test_bn_stats_pairs.c): shapes, per-channel statistics, normalization,
 * and checking a device tensor against it.
 */
#ifndef DAM_TEST_BN_REFERENCE_H
#define DAM_TEST_BN_REFERENCE_H

#include "harness.h"

/* Largest relative error a device result may have. */
#define TOL 1e-4
/* The most channels of a test shape. */
#define MAX_C 64

typedef struct dims {
  uint32_t n, c, h, w;
} dims;

/* Pixels of one plane. */
size_t plane(const dims *d);

/* The tensor shape of d: 2-D for one odd case (1x1 planes, 5 channels). */
dam_shape shape_of(const dims *d);

/* Per-channel mean and biased variance of x. */
void ref_stats(const dims *d, const double *x, double *mean, double *var);

/* y = (x - mean) * invstd * gamma + beta (gamma, beta NULL: 1, 0). */
void ref_normalize(const dims *d, const double *x, const double *mean,
                   const double *invstd, const double *gamma,
                   const double *beta, double *y);

/* A new array of v's n values in double (the caller frees it). */
double *widen(const float *v, size_t n);

/* Fail naming `what`, d and `variant` unless t is within TOL of want. */
void expect_close(harness *h, const dam_tensor *t, const double *want,
                  const char *what, const dims *d, int variant);

#endif
