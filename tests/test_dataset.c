/*
 * Dataset reader tests on files generated in a temporary directory: IDX
 * (raw and gzip) and CIFAR-10/100 load what was written, every corruption
 * class fails with the file and byte offset in the message and leaves the
 * dataset zeroed, the Fashion-MNIST package loads, and the split is a
 * seeded partition.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dataset.h"
#include "dataset_fixtures.h"
#include "error.h"

#define N 5
#define ROWS 3
#define COLS 4

static int idx_try(const char *images, const char *labels, dam_dataset *d) {
  memset(d, 0xab, sizeof *d);
  return dam_idx_load(images, labels, d);
}

/* ---- IDX ------------------------------------------------------------- */

static void idx_loads_raw_and_gz(void **state) {
  (void)state;
  for (int gz = 0; gz < 2; gz++) {
    /* The names lie about the compression: detection is by content. */
    const char *im = tmpdir_path(gz ? "ok-images.raw" : "ok-images.gz");
    const char *lb = tmpdir_path(gz ? "ok-labels.raw" : "ok-labels.gz");
    idx_images(im, gz, 0x803, N, ROWS, COLS, 0);
    idx_labels(lb, gz, 0x801, N, 0, -1, 0);
    dam_dataset d;
    assert_int_equal(idx_try(im, lb, &d), 0);
    assert_int_equal(d.n, N);
    assert_int_equal(d.channels, 1);
    assert_int_equal(d.height, ROWS);
    assert_int_equal(d.width, COLS);
    assert_int_equal(d.classes, 10);
    for (size_t i = 0; i < (size_t)N * ROWS * COLS; i++)
      assert_int_equal(d.images[i], pixel(i));
    for (uint32_t i = 0; i < N; i++)
      assert_int_equal(d.labels[i], i % 10);
    dam_dataset_free(&d);
    assert_zeroed(&d);
    dam_dataset_free(&d);
  }
  dam_dataset_free(NULL);
}

static void idx_missing_file(void **state) {
  (void)state;
  const char *im = tmpdir_path("m-images"), *lb = tmpdir_path("m-labels");
  dam_dataset d;
  expect_error(idx_try(im, lb, &d), &d, DAM_EIO, 1,
               "%s: cannot open: No such file or directory", im);
  idx_images(im, 0, 0x803, N, ROWS, COLS, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EIO, 1,
               "%s: cannot open: No such file or directory", lb);
}

static void idx_truncated(void **state) {
  (void)state;
  const char *im = tmpdir_path("t-images"), *lb = tmpdir_path("t-labels");
  const int pixels_end = 16 + N * ROWS * COLS;
  dam_dataset d;
  for (int gz = 0; gz < 2; gz++) {
    const char *dec = gz ? " of the decompressed data" : "";
    idx_labels(lb, gz, 0x801, N, 0, -1, 0);
    idx_images(im, gz, 0x803, N, ROWS, COLS, 7);
    expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
                 "%s: offset %d%s: truncated: the file ends in the pixels", im,
                 pixels_end - 7, dec);
    idx_images(im, gz, 0x803, N, ROWS, COLS, pixels_end - 10);
    expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
                 "%s: offset 10%s: truncated: the file ends in the header", im,
                 dec);
    idx_images(im, gz, 0x803, N, ROWS, COLS, 0);
    idx_labels(lb, gz, 0x801, N, 2, -1, 0);
    expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
                 "%s: offset %d%s: truncated: the file ends in the labels", lb,
                 8 + N - 2, dec);
  }
}

/* Damage to the compressed bytes: a cut stream and a bad checksum. */
static void idx_gzip_damage(void **state) {
  (void)state;
  enum { BIG = 300, SIDE = 28 };
  const char *im = tmpdir_path("z-images"), *lb = tmpdir_path("z-labels");
  uint8_t buf[1 << 16];
  idx_labels(lb, 0, 0x801, BIG, 0, -1, 0);
  idx_images(im, 1, 0x803, BIG, SIDE, SIDE, 0);
  FILE *f = fopen(im, "rb");
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_true(len > 100 && len < sizeof buf);

  dam_dataset d;
  write_file(im, buf, len / 2, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 0,
               " of the decompressed data: truncated: the gzip stream ends "
               "early, in the pixels");
  assert_int_equal(strncmp(dam_last_error(), im, strlen(im)), 0);
  buf[len - 8] ^= 0xff; /* the CRC-32 in the gzip trailer */
  write_file(im, buf, len, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 0,
               " of the decompressed data: corrupt gzip data, noticed "
               "reading from here (incorrect data check)");
  assert_int_equal(strncmp(dam_last_error(), im, strlen(im)), 0);
}

static void idx_bad_header(void **state) {
  (void)state;
  const char *im = tmpdir_path("h-images"), *lb = tmpdir_path("h-labels");
  dam_dataset d;
  idx_labels(lb, 0, 0x801, N, 0, -1, 0);
  idx_images(im, 0, 0x801, N, ROWS, COLS, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
               "%s: offset 0: magic 0x00000801, expected 0x00000803 "
               "(IDX images)",
               im);
  idx_images(im, 0, 0x803, 0, ROWS, COLS, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1, "%s: offset 4: no images",
               im);
  idx_images(im, 0, 0x803, N, 0, COLS, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
               "%s: offset 8: rows 0 is not in 1..4096", im);
  idx_images(im, 0, 0x803, 1, 2, 4097, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
               "%s: offset 12: columns 4097 is not in 1..4096", im);

  idx_images(im, 0, 0x803, N, ROWS, COLS, 0);
  idx_labels(lb, 1, 0x803, N, 0, -1, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
               "%s: offset 0 of the decompressed data: magic 0x00000803, "
               "expected 0x00000801 (IDX labels)",
               lb);
  idx_labels(lb, 0, 0x801, N - 1, 0, -1, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
               "%s holds %d images but %s holds %d labels", im, N, lb, N - 1);
}

static void idx_bad_contents(void **state) {
  (void)state;
  const char *im = tmpdir_path("c-images"), *lb = tmpdir_path("c-labels");
  dam_dataset d;
  idx_images(im, 0, 0x803, N, ROWS, COLS, 0);
  for (int gz = 0; gz < 2; gz++) {
    idx_labels(lb, gz, 0x801, N, 0, 3, 10);
    expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
                 "%s: offset 11%s: label 10 of image 3 is not in 0..9", lb,
                 gz ? " of the decompressed data" : "");
  }
  idx_labels(lb, 0, 0x801, N, -1, -1, 0);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 1,
               "%s: offset %d: data past the %d bytes the header declares", lb,
               8 + N, 8 + N);
  idx_labels(lb, 0, 0x801, N, 0, -1, 0);
  idx_images(im, 1, 0x803, N, ROWS, COLS, -3);
  expect_error(idx_try(im, lb, &d), &d, DAM_EDATA, 0,
               "%s: offset %d of the decompressed data: data past", im,
               16 + N * ROWS * COLS);
}

/* ---- Fashion-MNIST ------------------------------------------------------ */

static void fashion_mnist_package(void **state) {
  (void)state;
  struct stat st;
  if (stat(dam_fashion_mnist_dir(), &st) != 0) {
    print_message("%s absent: install dataset-fashion-mnist\n",
                  dam_fashion_mnist_dir());
    skip();
  }
  for (int test_set = 0; test_set < 2; test_set++) {
    dam_dataset d;
    uint32_t per_class[10] = {0}, n = test_set ? 10000 : 60000;
    int rc = dam_fashion_mnist_load(NULL, test_set, &d);
    if (rc)
      fail_msg("%s", dam_last_error());
    assert_int_equal(d.n, n);
    assert_int_equal(d.channels, 1);
    assert_int_equal(d.height, 28);
    assert_int_equal(d.width, 28);
    assert_int_equal(d.classes, 10);
    for (uint32_t i = 0; i < d.n; i++)
      per_class[d.labels[i]]++;
    for (int c = 0; c < 10; c++)
      assert_int_equal(per_class[c], n / 10);
    dam_dataset_free(&d);
  }
}

static void fashion_mnist_files(void **state) {
  (void)state;
  dam_dataset d;
  memset(&d, 0xab, sizeof d);
  const char *nodir = tmpdir_path("no-such-dir");
  expect_error(dam_fashion_mnist_load(nodir, 0, &d), &d, DAM_ENOTFOUND, 1,
               "%s: not found (install the Debian package "
               "dataset-fashion-mnist)",
               nodir);

  const char *dir = tmpdir_path("fm");
  assert_int_equal(mkdir(dir, 0700), 0);
  idx_images(tmpdir_path("fm/t10k-images-idx3-ubyte"), 0, 0x803, N, ROWS, COLS, 0);
  idx_labels(tmpdir_path("fm/t10k-labels-idx1-ubyte.gz"), 1, 0x801, N, 0, -1, 0);
  assert_int_equal(dam_fashion_mnist_load(tmpdir_path("fm"), 1, &d), 0);
  assert_int_equal(d.n, N);
  assert_int_equal(d.images[N * ROWS * COLS - 1], pixel(N * ROWS * COLS - 1));
  dam_dataset_free(&d);
  memset(&d, 0xab, sizeof d);
  expect_error(dam_fashion_mnist_load(tmpdir_path("fm"), 0, &d), &d, DAM_EIO, 1,
               "%s: cannot open: No such file or directory",
               tmpdir_path("fm/train-images-idx3-ubyte.gz"));
}

/* ---- CIFAR ----------------------------------------------------------- */

static int cifar_try(const char *a, const char *b, int c100, dam_dataset *d) {
  const char *paths[] = {a, b};
  memset(d, 0xab, sizeof *d);
  return dam_cifar_load(paths, b ? 2 : 1, c100, d);
}

static void cifar_loads(void **state) {
  (void)state;
  for (int c100 = 0; c100 < 2; c100++) {
    const char *a = tmpdir_path("cifar-a"), *b = tmpdir_path("cifar-b");
    cifar_file(a, 1 + c100, 0, 2, 0);
    cifar_file(b, 1 + c100, 2, 3, 0);
    dam_dataset d;
    assert_int_equal(cifar_try(a, b, c100, &d), 0);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.channels, 3);
    assert_int_equal(d.height, 32);
    assert_int_equal(d.width, 32);
    assert_int_equal(d.classes, c100 ? 100 : 10);
    for (size_t i = 0; i < 5 * (size_t)CIFAR_PIXELS; i++)
      assert_int_equal(d.images[i], pixel(i));
    for (uint32_t r = 0; r < 5; r++)
      assert_int_equal(d.labels[r], r);
    dam_dataset_free(&d);
  }
}

static void cifar_errors(void **state) {
  (void)state;
  const char *a = tmpdir_path("cifar-e"), *ok = tmpdir_path("cifar-ok");
  dam_dataset d;
  memset(&d, 0xab, sizeof d);
  expect_error(dam_cifar_load(NULL, 0, 0, &d), &d, DAM_EINVAL, 1,
               "CIFAR: no files given");
  expect_error(cifar_try(tmpdir_path("cifar-none"), NULL, 0, &d), &d, DAM_EIO, 1,
               "%s: cannot open: No such file or directory",
               tmpdir_path("cifar-none"));
  cifar_file(ok, 1, 0, 1, 0);
  cifar_file(a, 1, 0, 0, 0);
  expect_error(cifar_try(ok, a, 0, &d), &d, DAM_EDATA, 1,
               "%s: empty file (expected records of 3073 bytes)", a);
  for (int c100 = 0; c100 < 2; c100++) {
    int rec = 3073 + c100;
    cifar_file(a, 1 + c100, 0, 3, rec - 100);
    expect_error(cifar_try(a, NULL, c100, &d), &d, DAM_EDATA, 1,
                 "%s: offset %d: partial record of 100 bytes (the file size "
                 "%d is not a multiple of %d)",
                 a, 2 * rec, 2 * rec + 100, rec);
  }
  const struct {
    int c100, record;
    long offset;
    uint8_t value;
    const char *what;
  } bad[] = {{0, 1, 3073, 10, "label 10 of record 1 is not in 0..9"},
             {1, 2, 6149, 100, "label 100 of record 2 is not in 0..99"},
             {1, 2, 6148, 20, "coarse label 20 of record 2 is not in 0..19"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cifar_file(a, 1 + bad[i].c100, 0, 3, 0);
    patch_byte(a, bad[i].offset, bad[i].value);
    expect_error(cifar_try(a, NULL, bad[i].c100, &d), &d, DAM_EDATA, 1,
                 "%s: offset %ld: %s", a, bad[i].offset, bad[i].what);
  }
}

/* ---- split ----------------------------------------------------------- */

static void split_partitions(void **state) {
  (void)state;
  const uint32_t n = 1000;
  uint32_t *tr, *va, *tr2, *va2, nt, nv, nt2, nv2;
  assert_int_equal(dam_dataset_split(n, 0.2, 42, &tr, &nt, &va, &nv), 0);
  assert_int_equal(nv, 200);
  assert_int_equal(nt, 800);
  uint8_t *seen = calloc(n, 1);
  for (uint32_t i = 0; i < nt; i++)
    seen[tr[i]]++;
  for (uint32_t i = 0; i < nv; i++)
    seen[va[i]]++;
  for (uint32_t i = 0; i < n; i++)
    assert_int_equal(seen[i], 1);
  free(seen);

  assert_int_equal(dam_dataset_split(n, 0.2, 42, &tr2, &nt2, &va2, &nv2), 0);
  assert_memory_equal(tr, tr2, nt * sizeof *tr);
  assert_memory_equal(va, va2, nv * sizeof *va);
  free(tr2), free(va2);
  assert_int_equal(dam_dataset_split(n, 0.2, 43, &tr2, &nt2, &va2, &nv2), 0);
  assert_int_equal(nv2, nv);
  assert_true(memcmp(va, va2, nv * sizeof *va) != 0);
  free(tr2), free(va2), free(tr), free(va);

  assert_int_equal(dam_dataset_split(7, 0.5, 1, &tr, &nt, &va, &nv), 0);
  assert_int_equal(nv, 4); /* round(3.5) */
  assert_int_equal(nt, 3);
  free(tr), free(va);
}

static void split_edges(void **state) {
  (void)state;
  uint32_t *tr, *va, nt, nv;
  assert_int_equal(dam_dataset_split(10, 0.0, 7, &tr, &nt, &va, &nv), 0);
  assert_int_equal(nt, 10);
  assert_int_equal(nv, 0);
  assert_null(va);
  free(tr);
  assert_int_equal(dam_dataset_split(0, 0.5, 7, &tr, &nt, &va, &nv), 0);
  assert_true(!tr && !va && nt == 0 && nv == 0);
  const double bad[] = {-0.1, 1.0, 1.5, NAN};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    tr = va = (uint32_t *)&nt;
    nv = 99;
    assert_int_equal(dam_dataset_split(10, bad[i], 7, &tr, &nt, &va, &nv),
                     DAM_EINVAL);
    assert_true(!tr && !va && nt == 0 && nv == 0);
    assert_non_null(strstr(dam_last_error(), "is not in [0, 1)"));
  }
}

/* ---- main -------------------------------------------------------------- */

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(idx_loads_raw_and_gz),
      cmocka_unit_test(idx_missing_file),
      cmocka_unit_test(idx_truncated),
      cmocka_unit_test(idx_gzip_damage),
      cmocka_unit_test(idx_bad_header),
      cmocka_unit_test(idx_bad_contents),
      cmocka_unit_test(fashion_mnist_package),
      cmocka_unit_test(fashion_mnist_files),
      cmocka_unit_test(cifar_loads),
      cmocka_unit_test(cifar_errors),
      cmocka_unit_test(split_partitions),
      cmocka_unit_test(split_edges),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
