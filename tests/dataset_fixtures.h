/*
 * Generated dataset files for test_dataset: IDX and CIFAR files with known
 * pixels and labels (optionally cut short, padded or patched) in the
 * test's temporary directory (tmpdir.h), and the checks every failing load shares.
 */
#ifndef DAM_TEST_DATASET_FIXTURES_H
#define DAM_TEST_DATASET_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "tmpdir.h"

#define CIFAR_PIXELS 3072

/* Write len bytes to path, gzip-compressed when gz. */
void write_file(const char *path, const uint8_t *data, size_t len, int gz);

/* Overwrite the byte at offset of path. */
void patch_byte(const char *path, long offset, uint8_t value);

/* Pixel i (counting from the first image) of every generated file. */
uint8_t pixel(size_t i);

/* An IDX image file: header (magic, n, rows, cols), then pixel(0..), cut
 * short by `cut` bytes (negative: that many extra zero bytes, up to 16). */
void idx_images(const char *path, int gz, uint32_t magic, uint32_t n,
                uint32_t rows, uint32_t cols, int cut);

/* An IDX label file of n < 512 labels i % 10 except label bad_at (if
 * >= 0), which is `bad`; cut as idx_images. */
void idx_labels(const char *path, int gz, uint32_t magic, uint32_t n, int cut,
                int bad_at, uint8_t bad);

/* A CIFAR file of n records with label_bytes (1: CIFAR-10, 2: CIFAR-100)
 * each; record r is image first + r, labelled (first + r) % classes (coarse
 * % 20), pixels pixel((first + r) * 3072 ..); cut as idx_images. */
void cifar_file(const char *path, int label_bytes, uint32_t first, uint32_t n,
                int cut);

/* The load returned code, left *d zeroed, and dam_last_error() equals
 * (exact) or contains (!exact) the printf-formatted text. */
void expect_error(int rc, const dam_dataset *d, int code, int exact,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Every field of *d is zero. */
void assert_zeroed(const dam_dataset *d);

#endif
