/* A drawn DA sample applied to a batch on the device (sorting by
 * transform, two stages, restoring the order) equals each image sent
 * through its two transforms alone, forward and backward. */
#include "harness.h"

#include "autograd.h"
#include "da_apply.h"
#include "gather.h"
#include "nn.h"
#include "plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 12
#define C 1
#define H 9
#define W 11
#define LEN (C * H * W)
#define K 3

static const char *const names[K] = {"rotate", "flip_h", "translate_x"};

typedef struct fixture {
  dam_registry *reg;
  dam_augment *augs[K];
} fixture;

static void load(fixture *f) {
  f->reg = dam_registry_new();
  assert_int_equal(
      dam_registry_load_file(f->reg, AUGMENT_PLUGIN_DIR "/affine.so"), 0);
  for (int t = 0; t < K; t++) {
    const dam_desc_header *d =
        dam_registry_find(f->reg, DAM_KIND_AUGMENT, names[t], NULL);
    assert_non_null(d);
    assert_int_equal(
        dam_augment_create((const dam_augment_desc *)d, NULL, &f->augs[t]), 0);
  }
}

static void unload(fixture *f) {
  for (int t = 0; t < K; t++)
    dam_augment_destroy(f->augs[t]);
  dam_registry_free(f->reg);
}

/* One image through transforms a then b; x, y: [LEN]; gx, gm[2]: the
 * gradients of <y, r>. */
static void one_image(harness *h, fixture *f, const float *x, const float *r,
                      uint32_t a, uint32_t b, const float *mag,
                      const uint32_t *seed, float *y, float *gx, float *gm) {
  dam_shape s = dam_shape4(1, C, H, W), ms = dam_shape4(1, 0, 0, 0);
  dam_tensor *tx = harness_tensor(h, s, x), *tr = harness_tensor(h, s, r);
  dam_tensor *m0 = harness_tensor(h, ms, &mag[0]);
  dam_tensor *m1 = harness_tensor(h, ms, &mag[1]);
  dam_tensor *s0 = dam_uint_tensor(h->ex, &seed[0], 1);
  dam_tensor *s1 = dam_uint_tensor(h->ex, &seed[1], 1);
  tx->requires_grad = m0->requires_grad = m1->requires_grad = true;
  dam_augment_group g0 = {f->augs[a], 0, 1}, g1 = {f->augs[b], 0, 1};
  dam_tensor *y0 = dam_augment_stage(h->ex, &g0, 1, tx, m0, s0, 0.25f);
  dam_tensor *y1 = dam_augment_stage(h->ex, &g1, 1, y0, m1, s1, 0.25f);
  assert_non_null(y1);
  assert_int_equal(dam_backward(h->ex, dam_dot(h->ex, y1, tr)), 0);
  assert_int_equal(dam_tensor_download(h->ex, y1, y), 0);
  assert_int_equal(dam_tensor_download(h->ex, tx->grad, gx), 0);
  assert_int_equal(dam_tensor_download(h->ex, m0->grad, &gm[0]), 0);
  assert_int_equal(dam_tensor_download(h->ex, m1->grad, &gm[1]), 0);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void batch_equals_images(void **state) {
  harness *h = *state;
  fixture f;
  load(&f);
  dam_da_settings st = {.k = K, .temperature = 2, .lr = 0.1, .momentum = 0.9,
                        .max_level = 6, .seed = 11};
  dam_da_policy p;
  assert_int_equal(dam_da_policy_init(&p, &st), 0);
  dam_da_sample smp;
  assert_int_equal(dam_da_policy_sample(&p, N, &smp), 0);
  float *x = harness_random(h, N * LEN, 0, 1), *r = harness_random(h, N * LEN, -1, 1);
  dam_shape s = dam_shape4(N, C, H, W);
  dam_tensor *tx = harness_tensor(h, s, x), *tr = harness_tensor(h, s, r);
  tx->requires_grad = true;
  dam_tensor *mag[2];
  dam_tensor *y = dam_da_apply(h->ex, f.augs, K, &smp, tx, 0.25f, mag);
  assert_non_null(y);
  assert_int_equal(dam_backward(h->ex, dam_dot(h->ex, y, tr)), 0);
  float *vy = harness_read(h, y), *gx = harness_read(h, tx->grad);
  float *gm0 = harness_read(h, mag[0]->grad), *gm1 = harness_read(h, mag[1]->grad);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  double worst = 0;
  for (uint32_t i = 0; i < N; i++) {
    float y1[LEN], gx1[LEN], gm[2];
    float m[2] = {smp.magnitude[0][i], smp.magnitude[1][i]};
    uint32_t sd[2] = {smp.seed[0][i], smp.seed[1][i]};
    one_image(h, &f, x + i * LEN, r + i * LEN, smp.pair[i] / K,
              smp.pair[i] % K, m, sd, y1, gx1, gm);
    for (int j = 0; j < LEN; j++) {
      assert_true(vy[i * LEN + j] == y1[j]);
      worst = fmax(worst, fabs(gx[i * LEN + j] - gx1[j]));
    }
    worst = fmax(worst, fabs(gm0[i] - gm[0]));
    worst = fmax(worst, fabs(gm1[i] - gm[1]));
  }
  print_message("largest gradient difference batch vs one image: %.2e\n",
                worst);
  assert_true(worst < 1e-5);
  free(vy);
  free(gx);
  free(gm0);
  free(gm1);
  free(x);
  free(r);
  dam_da_sample_free(&smp);
  dam_da_policy_free(&p);
  unload(&f);
}

/* Stages refuse groups that leave images out or overlap. */
static void groups_must_cover(void **state) {
  harness *h = *state;
  fixture f;
  load(&f);
  float *x = harness_random(h, 4 * LEN, 0, 1), m[4] = {1, 2, 3, 4};
  uint32_t seeds[4] = {1, 2, 3, 4};
  dam_tensor *tx = harness_tensor(h, dam_shape4(4, C, H, W), x);
  dam_tensor *tm = harness_tensor(h, dam_shape4(4, 0, 0, 0), m);
  dam_tensor *ts = dam_uint_tensor(h->ex, seeds, 4);
  dam_augment_group gap[2] = {{f.augs[0], 0, 1}, {f.augs[1], 2, 2}};
  assert_null(dam_augment_stage(h->ex, gap, 2, tx, tm, ts, 0));
  dam_augment_group part[1] = {{f.augs[0], 0, 3}};
  assert_null(dam_augment_stage(h->ex, part, 1, tx, tm, ts, 0));
  uint32_t bad[4] = {0, 1, 1, 3};
  assert_null(dam_permute_rows(h->ex, tx, bad));
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  free(x);
  unload(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(batch_equals_images, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(groups_must_cover, harness_setup,
                                      harness_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
