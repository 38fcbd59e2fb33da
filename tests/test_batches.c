/* Device batches: contents equal the normalized host data, per-epoch
 * shuffles cover every sample once and are reproducible, the partial batch
 * is dropped or padded, bad options are refused. */
#include "harness.h"
#include "batches.h"
#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 23, C = 2, H = 3, W = 5, CLASSES = 7, SAMPLE = C * H * W };

static dam_dataset make_dataset(harness *h) {
  dam_dataset d = {N, C, H, W, CLASSES, malloc(N * SAMPLE), malloc(N)};
  for (uint32_t i = 0; i < N * SAMPLE; i++)
    d.images[i] = (uint8_t)harness_uniform(h, 0, 256);
  for (uint32_t i = 0; i < N; i++)
    d.labels[i] = (uint8_t)(i % CLASSES);
  return d;
}

/* Indices 1..N-1 (sample 0 is left out, as a split would). */
static uint32_t idx[N - 1];
static const float mean[C] = {0.25f, 0.5f}, stdev[C] = {0.5f, 2.0f};

static dam_batcher *make(harness *h, const dam_dataset *d, bool pad,
                         bool shuffle, uint64_t seed) {
  for (uint32_t i = 0; i < N - 1; i++)
    idx[i] = i + 1;
  dam_batcher_opts o = {5, pad, shuffle, seed, mean, stdev};
  dam_batcher *b = NULL;
  assert_int_equal(dam_batcher_create(h->ex, d, idx, N - 1, &o, &b), 0);
  return b;
}

/* Download a batch and compare it with the host data of its samples. */
static void check_batch(harness *h, const dam_dataset *d, const dam_batch *b) {
  float *img = harness_read(h, b->images);
  float *lab = harness_read(h, b->labels);
  float *wgt = harness_read(h, b->weights);
  for (uint32_t i = 0; i < 5; i++) {
    if (i >= b->valid) {
      assert_true(lab[i] == 0 && wgt[i] == 0);
      for (uint32_t j = 0; j < SAMPLE; j++)
        assert_true(img[i * SAMPLE + j] == 0);
      continue;
    }
    uint32_t s = b->samples[i];
    assert_true(lab[i] == d->labels[s]);
    assert_true(fabsf(wgt[i] - 1.0f / b->valid) < 1e-7f);
    for (uint32_t j = 0; j < SAMPLE; j++) {
      uint32_t c = j / (H * W);
      float want = (d->images[s * SAMPLE + j] / 255.0f - mean[c]) / stdev[c];
      assert_true(fabsf(img[i * SAMPLE + j] - want) < 1e-5f);
    }
  }
  free(img);
  free(lab);
  free(wgt);
}

/* Run `epochs` epochs, checking contents and that each epoch takes each
 * sample at most once (exactly once when padding); seq records the
 * samples in order. */
static void run_epochs(harness *h, const dam_dataset *d, dam_batcher *b,
                       uint32_t epochs, bool pad, uint32_t *seq) {
  uint32_t per = dam_batcher_per_epoch(b), k = 0;
  assert_int_equal(per, pad ? 5 : 4);
  for (uint32_t e = 0; e < epochs; e++) {
    int seen[N] = {0};
    for (uint32_t i = 0; i < per; i++) {
      dam_batch batch;
      assert_int_equal(dam_batcher_next(b, &batch), 0);
      assert_int_equal(batch.epoch, e);
      assert_int_equal(batch.index, i);
      assert_int_equal(batch.valid, pad && i == per - 1 ? 2 : 5);
      check_batch(h, d, &batch);
      for (uint32_t j = 0; j < batch.valid; j++) {
        assert_true(batch.samples[j] >= 1 && batch.samples[j] < N);
        assert_int_equal(seen[batch.samples[j]]++, 0);
        seq[k++] = batch.samples[j];
      }
    }
    if (pad)
      for (uint32_t s = 1; s < N; s++)
        assert_int_equal(seen[s], 1);
  }
}

static void shuffled_epochs(void **state, bool pad) {
  harness *h = *state;
  dam_dataset d = make_dataset(h);
  uint32_t a[3 * N], b2[3 * N], per = pad ? N - 1 : 20;
  dam_batcher *b = make(h, &d, pad, true, 42);
  run_epochs(h, &d, b, 3, pad, a);
  dam_batcher_free(b);
  assert_true(memcmp(a, a + per, per * sizeof *a) != 0);
  b = make(h, &d, pad, true, 42);
  run_epochs(h, &d, b, 3, pad, b2);
  dam_batcher_free(b);
  assert_memory_equal(a, b2, 3 * per * sizeof *a);
  b = make(h, &d, pad, true, 43);
  run_epochs(h, &d, b, 1, pad, b2);
  dam_batcher_free(b);
  assert_true(memcmp(a, b2, per * sizeof *a) != 0);
  dam_dataset_free(&d);
}

static void drop_partial(void **state) { shuffled_epochs(state, false); }
static void pad_partial(void **state) { shuffled_epochs(state, true); }

static void in_order(void **state) {
  harness *h = *state;
  dam_dataset d = make_dataset(h);
  uint32_t seq[2 * N];
  dam_batcher *b = make(h, &d, true, false, 42);
  run_epochs(h, &d, b, 2, true, seq);
  dam_batcher_free(b);
  for (uint32_t i = 0; i < 2 * (N - 1); i++)
    assert_int_equal(seq[i], i % (N - 1) + 1);
  dam_dataset_free(&d);
}

static void counts(void **state) {
  (void)state;
  assert_int_equal(dam_batch_count(23, 5, false), 4);
  assert_int_equal(dam_batch_count(23, 5, true), 5);
  assert_int_equal(dam_batch_count(20, 5, true), 4);
  assert_int_equal(dam_batch_count(4, 5, false), 0);
  assert_int_equal(dam_batch_count(4, 0, true), 0);
}

static void refused(void **state) {
  harness *h = *state;
  dam_dataset d = make_dataset(h);
  uint32_t ids[4] = {0, 1, 2, N};
  float zero[C] = {1, 0};
  dam_batcher *b = NULL;
  struct {
    dam_batcher_opts o;
    uint32_t n;
    const char *msg;
  } cases[] = {
      {{0, false, true, 1, NULL, NULL}, 3, "batch size 0"},
      {{5, false, true, 1, NULL, NULL}, 3, "make no batch"},
      {{2, false, true, 1, mean, zero}, 3, "std of channel 1"},
      {{2, true, true, 1, NULL, NULL}, 4, "past the 23 samples"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    assert_int_equal(dam_batcher_create(h->ex, &d, ids, cases[i].n,
                                        &cases[i].o, &b),
                     DAM_EINVAL);
    assert_null(b);
    assert_non_null(strstr(dam_last_error(), cases[i].msg));
  }
  dam_dataset_free(&d);
}

static void channel_stats(void **state) {
  harness *h = *state;
  dam_dataset d = make_dataset(h);
  uint32_t ids[] = {3, 7, 11};
  float m[C], s[C];
  dam_dataset_channel_stats(&d, ids, 3, m, s);
  for (uint32_t c = 0; c < C; c++) {
    double sum = 0, sq = 0;
    for (uint32_t i = 0; i < 3; i++)
      for (uint32_t j = 0; j < H * W; j++) {
        double v = d.images[ids[i] * SAMPLE + c * H * W + j] / 255.0;
        sum += v;
        sq += v * v;
      }
    double mu = sum / (3 * H * W);
    assert_true(fabs(m[c] - mu) < 1e-6);
    assert_true(fabs(s[c] - sqrt(sq / (3 * H * W) - mu * mu)) < 1e-5);
  }
  dam_dataset_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counts),
      cmocka_unit_test_setup_teardown(channel_stats, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(drop_partial, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(pad_partial, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(in_order, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(refused, harness_setup,
                                      harness_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
