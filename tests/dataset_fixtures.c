/* Generated IDX and CIFAR files for test_dataset (see the header). */
#include "dataset_fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "error.h"
#include "tmpdir.h"

void write_file(const char *path, const uint8_t *data, size_t len, int gz) {
  if (gz) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    if (len)
      assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
  }
}

void patch_byte(const char *path, long offset, uint8_t value) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, offset, SEEK_SET), 0);
  assert_int_equal(fputc(value, f), value);
  assert_int_equal(fclose(f), 0);
}

uint8_t pixel(size_t i) { return (uint8_t)(i * 37 + 11); }

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

void idx_images(const char *path, int gz, uint32_t magic, uint32_t n,
                uint32_t rows, uint32_t cols, int cut) {
  size_t len = 16 + (size_t)n * rows * cols;
  uint8_t *b = calloc(len + 16, 1);
  assert_non_null(b);
  put_be32(b, magic), put_be32(b + 4, n);
  put_be32(b + 8, rows), put_be32(b + 12, cols);
  for (size_t i = 16; i < len; i++)
    b[i] = pixel(i - 16);
  write_file(path, b, len - (size_t)cut, gz);
  free(b);
}

void idx_labels(const char *path, int gz, uint32_t magic, uint32_t n, int cut,
                int bad_at, uint8_t bad) {
  uint8_t b[8 + 512 + 16] = {0};
  assert_true(n < 512);
  put_be32(b, magic), put_be32(b + 4, n);
  for (uint32_t i = 0; i < n; i++)
    b[8 + i] = (uint8_t)(i % 10);
  if (bad_at >= 0)
    b[8 + bad_at] = bad;
  write_file(path, b, 8 + n - (size_t)cut, gz);
}

void cifar_file(const char *path, int label_bytes, uint32_t first, uint32_t n,
                int cut) {
  size_t rec = (size_t)label_bytes + CIFAR_PIXELS, len = rec * n;
  uint8_t *b = calloc(len + 16, 1);
  assert_non_null(b);
  for (uint32_t r = 0; r < n; r++) {
    uint8_t *p = b + r * rec;
    p[0] = (uint8_t)((first + r) % (label_bytes == 2 ? 20 : 10));
    p[label_bytes - 1] = (uint8_t)((first + r) % (label_bytes == 2 ? 100 : 10));
    for (size_t i = 0; i < CIFAR_PIXELS; i++)
      p[label_bytes + i] = pixel((first + r) * CIFAR_PIXELS + i);
  }
  write_file(path, b, len - (size_t)cut, 0);
  free(b);
}

void assert_zeroed(const dam_dataset *d) {
  static const dam_dataset zero = {0};
  assert_memory_equal(d, &zero, sizeof zero);
}

void expect_error(int rc, const dam_dataset *d, int code, int exact,
                  const char *fmt, ...) {
  char want[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(want, sizeof want, fmt, ap);
  va_end(ap);
  assert_int_equal(rc, code);
  assert_zeroed(d);
  if (exact)
    assert_string_equal(dam_last_error(), want);
  else if (!strstr(dam_last_error(), want))
    fail_msg("error \"%s\" lacks \"%s\"", dam_last_error(), want);
}
