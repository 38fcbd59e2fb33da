/* Test fixture: a device, a recorder, seeded random data. */
#include "harness.h"
#include "error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *harness_device_spec(void) {
  const char *spec = getenv("DIFFAUTOML_DEVICE");
  return spec && spec[0] ? spec : "llvmpipe";
}

int harness_setup(void **state) {
  harness *h = calloc(1, sizeof *h);
  if (!h)
    return -1;
  if (dam_device_open(harness_device_spec(), &h->dev) ||
      dam_exec_create(h->dev, &h->ex)) {
    fprintf(stderr, "harness: %s\n", dam_last_error());
    dam_device_close(h->dev);
    free(h);
    return -1;
  }
  h->rng = 0x9E3779B97F4A7C15ull;
  *state = h;
  return 0;
}

int harness_teardown(void **state) {
  harness *h = *state;
  int errors;
  dam_exec_destroy(h->ex);
  errors = h->dev->validation_errors;
  dam_device_close(h->dev);
  free(h);
  if (errors)
    fprintf(stderr, "harness: %d Vulkan validation error(s)\n", errors);
  return errors ? -1 : 0;
}

float harness_uniform(harness *h, float lo, float hi) {
  h->rng = h->rng * 6364136223846793005ull + 1442695040888963407ull;
  double u = (double)(h->rng >> 11) / (double)(1ull << 53);
  return lo + (float)u * (hi - lo);
}

float *harness_random(harness *h, size_t n, float lo, float hi) {
  float *v = malloc(n * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++)
    v[i] = harness_uniform(h, lo, hi);
  return v;
}

dam_tensor *harness_tensor(harness *h, dam_shape shape, const float *data) {
  dam_tensor *t = dam_tensor_new(h->ex, &shape, false);
  assert_non_null(t);
  if (data)
    assert_int_equal(dam_tensor_upload(h->ex, t, data), 0);
  return t;
}

float *harness_read(harness *h, const dam_tensor *t) {
  float *v = malloc(t->numel * sizeof *v);
  assert_non_null(v);
  assert_int_equal(dam_tensor_download(h->ex, t, v), 0);
  return v;
}

double harness_max_rel_err(const float *a, const double *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    double e = fabs(b[i]) < 1.0 ? d : d / fabs(b[i]);
    if (!(e <= worst)) /* catches NaN */
      worst = isnan(e) ? INFINITY : e;
  }
  return worst;
}

void harness_expect_refused(int got, int code, const char *op) {
  assert_int_equal(got, code);
  if (!strstr(dam_last_error(), op))
    fail_msg("message \"%s\" does not name %s", dam_last_error(), op);
}
