/* The batch-norm tests' shared reference (bn_reference.h). */
#include "bn_reference.h"

#include <stdlib.h>

size_t plane(const dims *d) { return (size_t)d->h * d->w; }

dam_shape shape_of(const dims *d) {
  return d->h == 1 && d->w == 1 && d->c == 5 ? (dam_shape){2, {d->n, d->c}}
                                              : dam_shape4(d->n, d->c, d->h,
                                                           d->w);
}

void ref_stats(const dims *d, const double *x, double *mean, double *var) {
  size_t hw = plane(d), m = d->n * hw;
  for (uint32_t c = 0; c < d->c; c++) {
    double s = 0, q = 0;
    for (uint32_t n = 0; n < d->n; n++)
      for (size_t e = 0; e < hw; e++)
        s += x[(n * d->c + c) * hw + e];
    mean[c] = s / m;
    for (uint32_t n = 0; n < d->n; n++)
      for (size_t e = 0; e < hw; e++) {
        double v = x[(n * d->c + c) * hw + e] - mean[c];
        q += v * v;
      }
    var[c] = q / m;
  }
}

void ref_normalize(const dims *d, const double *x, const double *mean,
                   const double *invstd, const double *gamma,
                   const double *beta, double *y) {
  size_t hw = plane(d);
  for (size_t i = 0; i < d->n * d->c * hw; i++) {
    uint32_t c = (uint32_t)(i / hw % d->c);
    y[i] = (x[i] - mean[c]) * invstd[c] * (gamma ? gamma[c] : 1) +
           (beta ? beta[c] : 0);
  }
}

double *widen(const float *v, size_t n) {
  double *out = malloc(n * sizeof *out);
  assert_non_null(out);
  for (size_t i = 0; i < n; i++)
    out[i] = v[i];
  return out;
}

void expect_close(harness *h, const dam_tensor *t, const double *want,
                  const char *what, const dims *d, int variant) {
  float *got = harness_read(h, t);
  double err = harness_max_rel_err(got, want, t->numel);
  free(got);
  if (err > TOL)
    fail_msg("%s [%u,%u,%u,%u] variant %d: max relative error %g", what,
             d->n, d->c, d->h, d->w, variant, err);
}
