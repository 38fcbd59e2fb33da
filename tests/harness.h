/*
 * Shared test fixture: opens the CPU device (lavapipe, or $DIFFAUTOML_DEVICE)
 * with a recorder, fails a test on any validation-layer error, and gives
 * deterministic random data.
 */
#ifndef DAM_TEST_HARNESS_H
#define DAM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exec.h"
#include "tensor.h"

typedef struct harness {
  dam_device *dev;
  dam_exec *ex;
  uint64_t rng;
} harness;

/* The device the tests run on: $DIFFAUTOML_DEVICE, else lavapipe. */
const char *harness_device_spec(void);

/* CMocka setup/teardown: *state becomes a harness. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* Uniform in [lo, hi), from the harness's seeded generator. */
float harness_uniform(harness *h, float lo, float hi);

/* n uniform floats (malloc'd; caller frees). */
float *harness_random(harness *h, size_t n, float lo, float hi);

/* A step tensor of `shape` holding `data` (uploaded). */
dam_tensor *harness_tensor(harness *h, dam_shape shape, const float *data);

/* Download t into a malloc'd array. */
float *harness_read(harness *h, const dam_tensor *t);

/* Assert that a kernel call returned `code` and that dam_last_error()
 * names `op`. */
void harness_expect_refused(int got, int code, const char *op);

/* Largest |a-b| / max(1e-6, |b|), or the absolute error where |b| < 1. */
double harness_max_rel_err(const float *a, const double *b, size_t n);

#endif
