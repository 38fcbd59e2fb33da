/* Config files in a temporary directory for the config tests (see the
 * header). */
#include "config_fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "error.h"
#include "tmpdir.h"

const char *cfg_write(const char *name, const char *text) {
  const char *path = tmpdir_path(name);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *p = dir + strlen(tmpdir_get()) + 1; (p = strchr(p, '/')); p++) {
    *p = '\0';
    mkdir(dir, 0777);
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
  return path;
}

void cfg_expect_error(const char *path, const char *const *overrides,
                      uint32_t n_overrides, const char *fmt, ...) {
  char want[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(want, sizeof want, fmt, ap);
  va_end(ap);
  dam_config cfg;
  memset(&cfg, 0xab, sizeof cfg);
  int rc = dam_config_load(path, overrides, n_overrides, &cfg);
  if (rc != DAM_ECONFIG || strcmp(dam_last_error(), want) != 0)
    print_error("want: %s\n got: %s (rc %d)\n", want, dam_last_error(), rc);
  assert_int_equal(rc, DAM_ECONFIG);
  assert_string_equal(dam_last_error(), want);
  dam_config zero;
  memset(&zero, 0, sizeof zero);
  assert_memory_equal(&cfg, &zero, sizeof cfg);
}

void cfg_load_ok(const char *path, const char *const *overrides,
                 uint32_t n_overrides, dam_config *cfg) {
  int rc = dam_config_load(path, overrides, n_overrides, cfg);
  if (rc)
    print_error("load %s: %s\n", path ? path : "(defaults)", dam_last_error());
  assert_int_equal(rc, 0);
}

char *cfg_read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}
