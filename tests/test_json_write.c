/*
 * The JSON writer and atomic files, on files in a temporary directory: the
 * writer's output is exact, compact and pretty, numbers round-trip, and
 * Python's json reads it back; a failed atomic write leaves the old file
 * and no temporary behind.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "atomic_file.h"
#include "error.h"
#include "file_fixtures.h"
#include "json_write.h"
#include "tmpdir.h"

/* ---- JSON writer ----------------------------------------------------------
 */

/* What a writer function writes through a memory stream. */
typedef void (*json_fn)(dam_json *j);

static char *json_text(json_fn fn, bool pretty, uint32_t inline_depth) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  dam_json j;
  dam_json_init(&j, f, pretty);
  j.inline_depth = inline_depth;
  fn(&j);
  assert_int_equal(j.depth, 0);
  assert_int_equal(fclose(f), 0);
  return buf;
}

static void write_mixed(dam_json *j) {
  dam_json_object(j, NULL);
  dam_json_string(j, "s", "q\"b\\s/\n\t\r\x01\x1f\xc3\xa9");
  dam_json_number(j, "n", 1.5);
  dam_json_number(j, "nan", NAN);
  dam_json_number(j, "inf", -INFINITY);
  dam_json_float(j, "f", 0.1f);
  dam_json_float(j, "fnan", NAN);
  dam_json_int(j, "i", -42);
  dam_json_int(j, "big", INT64_MAX);
  dam_json_bool(j, "t", true);
  dam_json_bool(j, "no", false);
  dam_json_null(j, "z");
  dam_json_string(j, "null string", NULL);
  dam_json_array(j, "a");
  dam_json_int(j, NULL, 1);
  dam_json_object(j, NULL);
  dam_json_array(j, "x");
  dam_json_end(j);
  dam_json_object(j, "key \"with\" quotes");
  dam_json_end(j);
  dam_json_end(j);
  dam_json_array(j, NULL);
  dam_json_array(j, NULL);
  dam_json_string(j, NULL, "deep");
  dam_json_end(j);
  dam_json_end(j);
  dam_json_end(j);
  dam_json_end(j);
}

static void json_compact_exact(void **state) {
  (void)state;
  char *s = json_text(write_mixed, false, 0);
  assert_string_equal(
      s, "{\"s\":\"q\\\"b\\\\s/\\n\\t\\r\\u0001\\u001f\xc3\xa9\",\"n\":1.5,"
         "\"nan\":null,\"inf\":null,\"f\":0.1,\"fnan\":null,\"i\":-42,"
         "\"big\":9223372036854775807,\"t\":true,\"no\":false,\"z\":null,"
         "\"null string\":null,\"a\":[1,{\"x\":[],\"key \\\"with\\\" "
         "quotes\":{}},[[\"deep\"]]]}");
  free(s);
}

static void write_small(dam_json *j) {
  dam_json_object(j, NULL);
  dam_json_int(j, "n", 2);
  dam_json_array(j, "empty");
  dam_json_end(j);
  dam_json_array(j, "rows");
  dam_json_array(j, NULL);
  dam_json_object(j, NULL);
  dam_json_string(j, "op", "a");
  dam_json_int(j, "from", 0);
  dam_json_end(j);
  dam_json_int(j, NULL, 7);
  dam_json_end(j);
  dam_json_end(j);
  dam_json_end(j);
}

static void json_pretty_exact(void **state) {
  (void)state;
  char *s = json_text(write_small, true, 0);
  assert_string_equal(s, "{\n"
                         "  \"n\": 2,\n"
                         "  \"empty\": [],\n"
                         "  \"rows\": [\n"
                         "    [\n"
                         "      {\n"
                         "        \"op\": \"a\",\n"
                         "        \"from\": 0\n"
                         "      },\n"
                         "      7\n"
                         "    ]\n"
                         "  ]\n"
                         "}\n");
  free(s);
  s = json_text(write_small, true, 3);
  assert_string_equal(s, "{\n"
                         "  \"n\": 2,\n"
                         "  \"empty\": [],\n"
                         "  \"rows\": [\n"
                         "    [{\"op\": \"a\", \"from\": 0}, 7]\n"
                         "  ]\n"
                         "}\n");
  free(s);
  s = json_text(write_small, false, 0);
  assert_string_equal(
      s, "{\"n\":2,\"empty\":[],\"rows\":[[{\"op\":\"a\",\"from\":0},7]]}");
  free(s);
}

static void json_numbers_round_trip(void **state) {
  (void)state;
  static const double d[] = {0.1,
                             1.0 / 3,
                             -2.5e-300,
                             1e300,
                             123456789012.5,
                             -0.0,
                             5e-324,
                             1.7976931348623157e308,
                             100,
                             0};
  static const float f[] = {0.61f,    1.0f / 3, 1e-45f,       3.4028235e38f,
                            16777217, -7.5f,    0.123456789f, 1e-8f};
  char *buf = NULL;
  size_t len = 0;
  for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
    FILE *m = open_memstream(&buf, &len);
    dam_json j;
    dam_json_init(&j, m, false);
    dam_json_number(&j, NULL, d[i]);
    fclose(m);
    double back = strtod(buf, NULL);
    if (back != d[i] || signbit(back) != signbit(d[i]))
      fail_msg("%.17g written as %s", d[i], buf);
    free(buf);
  }
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    FILE *m = open_memstream(&buf, &len);
    dam_json j;
    dam_json_init(&j, m, false);
    dam_json_float(&j, NULL, f[i]);
    fclose(m);
    if ((float)strtod(buf, NULL) != f[i] || strlen(buf) > 15)
      fail_msg("%.9g written as %s", (double)f[i], buf);
    free(buf);
  }
  FILE *m = open_memstream(&buf, &len);
  dam_json j;
  dam_json_init(&j, m, false);
  dam_json_float(&j, NULL, 0.61f);
  fclose(m);
  assert_string_equal(buf, "0.61");
  free(buf);
}

static void json_python_reads(void **state) {
  (void)state;
  if (!python_found())
    skip();
  static const char want[] =
      "{\"a\": [1, {\"key \\\"with\\\" quotes\": {}, \"x\": []}, "
      "[[\"deep\"]]], \"big\": 9223372036854775807, \"f\": 0.1, "
      "\"fnan\": null, \"i\": -42, \"inf\": null, \"n\": 1.5, "
      "\"nan\": null, \"no\": false, \"null string\": null, "
      "\"s\": \"q\\\"b\\\\s/\\n\\t\\r\\u0001\\u001f\\u00e9\", \"t\": true, "
      "\"z\": null}\n";
  for (int pretty = 0; pretty < 2; pretty++)
    for (uint32_t inl = 0; inl < 4; inl++) {
      const char *path = tmpdir_path("mixed.json");
      char *s = json_text(write_mixed, pretty, inl);
      spill(path, s);
      free(s);
      char *out = python_dump(path);
      assert_string_equal(out, want);
      free(out);
    }
}

/* ---- atomic files ----------------------------------------------------------
 */

static void atomic_replace_or_keep(void **state) {
  (void)state;
  const char *path = tmpdir_path("atomic.txt");
  spill(path, "old\n");
  char *tmp = NULL;
  FILE *f = dam_atomic_open(path, &tmp);
  assert_non_null(f);
  assert_non_null(tmp);
  assert_int_equal(strncmp(tmp, path, strlen(path)), 0);
  assert_non_null(strstr(tmp, ".tmp."));
  fputs("new, abandoned\n", f);
  dam_clear_error();
  assert_int_equal(dam_atomic_close(f, tmp, path, false), DAM_EIO);
  assert_string_equal(dam_last_error(), "");
  char *s = slurp(path);
  assert_string_equal(s, "old\n");
  free(s);
  assert_int_equal(count_entries("atomic.txt.tmp"), 0);

  f = dam_atomic_open(path, &tmp);
  assert_non_null(f);
  fputs("new\n", f);
  assert_int_equal(dam_atomic_close(f, tmp, path, true), 0);
  s = slurp(path);
  assert_string_equal(s, "new\n");
  free(s);
  assert_int_equal(count_entries("atomic.txt"), 1);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  mode_t mask = umask(0);
  umask(mask);
  assert_int_equal(st.st_mode & 0777, 0666 & ~mask);

  const char *bad = tmpdir_path("no/such/dir/file.json");
  tmp = (char *)"untouched";
  assert_null(dam_atomic_open(bad, &tmp));
  assert_null(tmp);
  assert_non_null(strstr(dam_last_error(), bad));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(json_compact_exact),
      cmocka_unit_test(json_pretty_exact),
      cmocka_unit_test(json_numbers_round_trip),
      cmocka_unit_test(json_python_reads),
      cmocka_unit_test(atomic_replace_or_keep),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
