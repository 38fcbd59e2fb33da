/*
 * safetensors on files in a temporary directory: a set round-trips
 * (dtypes, shapes, scalars, empty tensors, metadata with escapes), the
 * layout is the reference one (8-byte aligned data, tensors by element
 * size then name), hand-written files from other writers load, every
 * malformed file is refused with the file and byte offset in the message,
 * and a failed write leaves the old file and no temporary behind.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "error.h"
#include "safetensors.h"
#include "tmpdir.h"

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, *n, f), *n);
  b[*n] = 0;
  fclose(f);
  return b;
}

static void spill(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* A file of header `json` (as given: no padding) and `data`. */
static const char *handmade(const char *name, const char *json,
                            const void *data, size_t n_data) {
  const char *path = tmpdir_path(name);
  size_t hlen = strlen(json);
  uint8_t *b = malloc(8 + hlen + n_data + 1);
  assert_non_null(b);
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
  memcpy(b + 8, json, hlen);
  if (n_data)
    memcpy(b + 8 + hlen, data, n_data);
  spill(path, b, 8 + hlen + n_data);
  free(b);
  return path;
}

static void expect_refused(const char *path, uint64_t offset,
                           const char *what) {
  dam_safetensors *st = (dam_safetensors *)0x1;
  char want[600];
  int rc = dam_st_read(path, &st);
  snprintf(want, sizeof want, "%s: offset %llu: ", path,
           (unsigned long long)offset);
  if (rc != DAM_EDATA || strncmp(dam_last_error(), want, strlen(want)) ||
      !strstr(dam_last_error(), what))
    fail_msg("want \"%s...%s\" (DAM_EDATA), got \"%s\" (rc %d)", want, what,
             dam_last_error(), rc);
  assert_null(st);
}

/* ---- round trip -------------------------------------------------------- */

static void round_trip(void **state) {
  (void)state;
  const float f32[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const double f64[4] = {0.025, -1e300, 3.0, 12345.0};
  const int64_t i64[3] = {-1, 1ll << 62, 7};
  const uint8_t u8[5] = {0, 1, 127, 128, 255};
  const float scalar = 42.0f;
  const uint64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s5[1] = {5},
                 s0[2] = {0, 7};
  const char *path = tmpdir_path("rt.safetensors");
  dam_safetensors *st = dam_st_new(), *back = NULL;
  assert_non_null(st);
  assert_int_equal(dam_st_add(st, "weights.f32", DAM_ST_F32, 2, s23, f32), 0);
  assert_int_equal(dam_st_add(st, "u8", DAM_ST_U8, 1, s5, u8), 0);
  assert_int_equal(dam_st_add(st, "hpo.learning_rate", DAM_ST_F64, 1, s4, f64),
                   0);
  assert_int_equal(dam_st_add(st, "steps", DAM_ST_I64, 1, s3, i64), 0);
  assert_int_equal(dam_st_add(st, "scalar", DAM_ST_F32, 0, NULL, &scalar), 0);
  assert_int_equal(dam_st_add(st, "empty", DAM_ST_F32, 2, s0, NULL), 0);
  assert_int_equal(
      dam_st_add(st, "odd \"name\"\\\t\xc3\xbc", DAM_ST_U8, 1, s3, u8), 0);
  assert_int_equal(dam_st_set_meta(st, "format", "pt"), 0);
  assert_int_equal(dam_st_set_meta(st, "note", "line\nbreak \"q\" \xc3\xbc"),
                   0);
  assert_int_equal(dam_st_set_meta(st, "format", "dam"), 0); /* replaced */
  assert_int_equal(dam_st_write(st, path), 0);

  assert_int_equal(dam_st_read(path, &back), 0);
  assert_int_equal(back->n, st->n);
  assert_string_equal(back->path, path);
  for (uint32_t i = 0; i < st->n; i++) {
    const dam_st_tensor *a = &st->t[i], *b = dam_st_find(back, a->name);
    assert_non_null(b);
    assert_int_equal(b->dtype, a->dtype);
    assert_int_equal(b->ndim, a->ndim);
    assert_memory_equal(b->shape, a->shape, a->ndim * sizeof *a->shape);
    assert_int_equal(b->nbytes, a->nbytes);
    if (a->nbytes)
      assert_memory_equal(b->data, a->data, a->nbytes);
  }
  assert_int_equal(back->n_meta, 2);
  assert_string_equal(dam_st_get_meta(back, "format"), "dam");
  assert_string_equal(dam_st_get_meta(back, "note"),
                      "line\nbreak \"q\" \xc3\xbc");
  assert_null(dam_st_get_meta(back, "nothing"));
  assert_null(dam_st_find(back, "nothing"));
  assert_true(*(const double *)dam_st_find(back, "hpo.learning_rate")->data ==
              0.025);
  dam_st_free(back);

  /* The layout: data 8-byte aligned, 8-byte elements first, then by name. */
  size_t n;
  uint8_t *raw = slurp(path, &n);
  uint64_t hlen = 0;
  for (int i = 0; i < 8; i++)
    hlen |= (uint64_t)raw[i] << (8 * i);
  assert_int_equal((8 + hlen) % 8, 0);
  assert_int_equal(raw[8], '{');
  const char *h = (const char *)raw + 8;
  assert_non_null(strstr(h, "\"__metadata__\":{\"format\":\"dam\",\"note\":"
                            "\"line\\nbreak \\\"q\\\" \xc3\xbc\"}"));
  assert_non_null(strstr(h, "\"hpo.learning_rate\":{\"dtype\":\"F64\","
                            "\"shape\":[4],\"data_offsets\":[0,32]}"));
  assert_non_null(strstr(h, "\"steps\":{\"dtype\":\"I64\",\"shape\":[3],"
                            "\"data_offsets\":[32,56]}"));
  assert_non_null(strstr(h, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],"));
  assert_non_null(strstr(h, "\"odd \\\"name\\\"\\\\\\t\xc3\xbc\""));
  assert_memory_equal(raw + 8 + hlen, f64, sizeof f64);
  free(raw);
  dam_st_free(st);
}

static void api_errors(void **state) {
  (void)state;
  const uint64_t s[1] = {2};
  const float v[2] = {1, 2};
  dam_safetensors *st = dam_st_new();
  assert_int_equal(dam_st_add(st, "a", DAM_ST_F32, 1, s, v), 0);
  assert_int_equal(dam_st_add(st, "a", DAM_ST_F32, 1, s, v), DAM_EINVAL);
  assert_non_null(strstr(dam_last_error(), "'a' added twice"));
  assert_int_equal(dam_st_add(st, "__metadata__", DAM_ST_F32, 1, s, v),
                   DAM_EINVAL);
  assert_int_equal(dam_st_add(st, "", DAM_ST_F32, 1, s, v), DAM_EINVAL);
  assert_int_equal(dam_st_add(st, "\xff", DAM_ST_F32, 1, s, v), DAM_EINVAL);
  assert_int_equal(dam_st_add(st, "b", DAM_ST_N_DTYPES, 1, s, v), DAM_EINVAL);
  const uint64_t huge[2] = {1ull << 40, 1ull << 40};
  assert_int_equal(dam_st_add(st, "c", DAM_ST_F64, 2, huge, v), DAM_ERANGE);
  assert_int_equal(st->n, 1);
  assert_string_equal(dam_st_dtype_name(DAM_ST_BF16), "BF16");
  assert_int_equal(dam_st_dtype_size(DAM_ST_I16), 2);
  assert_string_equal(dam_st_dtype_name(-1), "?");
  dam_st_free(st);
  dam_st_free(NULL);
}

/* ---- files from other writers -------------------------------------------- */

static void reads_other_writers(void **state) {
  (void)state;
  const float data[3] = {1, 2, 3};
  const uint16_t half[2] = {0x3c00, 0xc000};
  uint8_t both[16];
  memcpy(both, data, 12);
  memcpy(both + 12, half, 4);
  /* unpadded, spaces inside, an unknown entry key, metadata last */
  const char *p = handmade(
      "other.safetensors",
      "{ \"w\" : { \"shape\" : [ 3 ], \"dtype\" : \"F32\", \"extra\": "
      "{\"x\": [1, -2.5e3, true, null]}, \"data_offsets\": [0, 12] },\n"
      "\"h\\u00e9\\ud83d\\ude00\":{\"dtype\":\"F16\",\"shape\":[2],"
      "\"data_offsets\":[12,16]},\"__metadata__\":{\"k\":\"v\\/\"}}   ",
      both, 16);
  dam_safetensors *st;
  assert_int_equal(dam_st_read(p, &st), 0);
  assert_int_equal(st->n, 2);
  const dam_st_tensor *w = dam_st_find(st, "w");
  assert_non_null(w);
  assert_int_equal(w->dtype, DAM_ST_F32);
  assert_memory_equal(w->data, data, 12);
  const dam_st_tensor *e = dam_st_find(st, "h\xc3\xa9\xf0\x9f\x98\x80");
  assert_non_null(e);
  assert_int_equal(e->dtype, DAM_ST_F16);
  assert_memory_equal(e->data, half, 4);
  assert_string_equal(dam_st_get_meta(st, "k"), "v/");
  dam_st_free(st);
  /* no tensors at all */
  p = handmade("empty.safetensors", "{}", NULL, 0);
  assert_int_equal(dam_st_read(p, &st), 0);
  assert_int_equal(st->n + st->n_meta, 0);
  dam_st_free(st);
}

/* ---- malformed files ------------------------------------------------------
 */

static void malformed_refused(void **state) {
  (void)state;
  const uint8_t data[16] = {0};
  const char *p = handmade("short.safetensors", "", NULL, 0);
  spill(p, "abc", 3);
  expect_refused(p, 0, "truncated: 3 bytes");

  p = tmpdir_path("long.safetensors");
  const uint8_t big[12] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
  spill(p, big, sizeof big);
  expect_refused(p, 0, "header length 65535 runs past the end of the file");

  p = handmade("start.safetensors", "[]", NULL, 0);
  expect_refused(p, 8, "it must start with '{'");

  /* cut in the middle of the header: the length runs past the end */
  const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                     "\"data_offsets\":[0,8]}}";
  p = handmade("cut.safetensors", good, data, 8);
  size_t n;
  uint8_t *raw = slurp(p, &n);
  spill(p, raw, 20);
  free(raw);
  expect_refused(p, 0, "runs past the end of the file (20 bytes)");

  /* truncated data */
  p = handmade("data.safetensors", good, data, 6);
  expect_refused(p, 8 + strlen(good),
                 "data size does not match the header (6 bytes of data, "
                 "tensors cover 8)");
  /* extra data */
  p = handmade("extra.safetensors", good, data, 12);
  expect_refused(p, 8 + strlen(good), "(12 bytes of data, tensors cover 8)");

  /* JSON errors, offsets counted from the start of the file */
  const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                     "\"data_offsets\":[0,8]}";
  p = handmade("open.safetensors", json, data, 8);
  expect_refused(p, 8 + strlen(json), "expected ',' or '}'");
  json = "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  p = handmade("dtype.safetensors", json, data, 8);
  expect_refused(p, 8 + 14, "unknown dtype F33");
  json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
  p = handmade("neg.safetensors", json, data, 8);
  expect_refused(p, 8 + 29, "expected a non-negative integer");
  json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
  p = handmade("shape.safetensors", json, data, 8);
  expect_refused(p, 8 + 1,
                 "shape does not match the byte range (a F32: 8 "
                 "bytes of data_offsets [0, 8])");
  json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}";
  p = handmade("noofs.safetensors", json, NULL, 0);
  expect_refused(p, 8 + 1, "tensor entry has no data_offsets");
  json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}";
  p = handmade("overlap.safetensors", json, data, 10);
  expect_refused(p, 8 + 54, "data_offsets overlap another tensor's");
  json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
  p = handmade("gap.safetensors", json, data, 12);
  expect_refused(p, 8 + 54, "leave a gap before this tensor");
  json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  p = handmade("twice.safetensors", json, data, 8);
  expect_refused(p, 8 + 54, "repeated tensor name a");
  json = "{\"__metadata__\":{\"k\":1}}";
  p = handmade("meta.safetensors", json, NULL, 0);
  expect_refused(p, 8 + 21, "__metadata__ values must be strings");
  json = "{\"a\\q\":{}}";
  p = handmade("escape.safetensors", json, NULL, 0);
  expect_refused(p, 8 + 4, "bad escape");
  json = "{\"\xc3\x28\":{}}";
  p = handmade("utf8.safetensors", json, NULL, 0);
  expect_refused(p, 8 + 2, "not UTF-8");
  json = "{} x";
  p = handmade("after.safetensors", json, NULL, 0);
  expect_refused(p, 8 + 3, "text after the closing '}'");

  dam_safetensors *st = (dam_safetensors *)0x1;
  assert_int_equal(dam_st_read(tmpdir_path("missing.safetensors"), &st),
                   DAM_EIO);
  assert_non_null(strstr(dam_last_error(), "missing.safetensors: cannot read"));
  assert_null(st);
}

/* ---- atomic writes ----------------------------------------------------------
 */

static bool leftovers(void) {
  DIR *d = opendir(tmpdir_get());
  struct dirent *e;
  bool found = false;
  assert_non_null(d);
  while ((e = readdir(d)))
    found = found || strstr(e->d_name, ".tmp") != NULL;
  closedir(d);
  return found;
}

static void failed_write_keeps_old_file(void **state) {
  (void)state;
  const char *path = tmpdir_path("keep.safetensors");
  const uint64_t s1[1] = {1}, sbig[1] = {1 << 18};
  const double old = 1.25;
  dam_safetensors *st = dam_st_new(), *big = dam_st_new(), *back;
  assert_int_equal(dam_st_add(st, "old", DAM_ST_F64, 1, s1, &old), 0);
  assert_int_equal(dam_st_write(st, path), 0);
  size_t n_before;
  uint8_t *before = slurp(path, &n_before);

  /* a file size limit makes the write itself fail half way */
  float *zeros = calloc(sbig[0], sizeof *zeros);
  assert_int_equal(dam_st_add(big, "big", DAM_ST_F32, 1, sbig, zeros), 0);
  struct rlimit saved, small;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
  small = saved;
  small.rlim_cur = 65536;
  signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  int rc = dam_st_write(big, path);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
  assert_int_equal(rc, DAM_EIO);
  assert_non_null(strstr(dam_last_error(), "keep.safetensors: cannot write"));
  size_t n_after;
  uint8_t *after = slurp(path, &n_after);
  assert_int_equal(n_after, n_before);
  assert_memory_equal(after, before, n_before);
  assert_false(leftovers());
  assert_int_equal(dam_st_read(path, &back), 0);
  assert_true(*(const double *)dam_st_find(back, "old")->data == 1.25);
  dam_st_free(back);

  /* renaming over a directory fails after the data is written */
  const char *dir = tmpdir_path("a_dir");
  assert_int_equal(mkdir(dir, 0700), 0);
  assert_int_equal(dam_st_write(st, dir), DAM_EIO);
  assert_non_null(strstr(dam_last_error(), "a_dir: cannot write"));
  assert_false(leftovers());
  /* nowhere to put the temporary file */
  assert_int_equal(dam_st_write(st, tmpdir_path("no/such/dir.safetensors")),
                   DAM_EIO);
  assert_non_null(strstr(dam_last_error(), "no/such/dir.safetensors: cannot"));

  free(before);
  free(after);
  free(zeros);
  dam_st_free(st);
  dam_st_free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),
      cmocka_unit_test(api_errors),
      cmocka_unit_test(reads_other_writers),
      cmocka_unit_test(malformed_refused),
      cmocka_unit_test(failed_write_keeps_old_file),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
