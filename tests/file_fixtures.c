/* File helpers shared by the file-based tests (file_fixtures.h). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_fixtures.h"
#include "tmpdir.h"

#define PYTHON "/usr/bin/python3"

char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = 0;
  fclose(f);
  return b;
}

void spill(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

int count_entries(const char *part) {
  DIR *d = opendir(tmpdir_get());
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strstr(e->d_name, part) != NULL;
  closedir(d);
  return n;
}

char *python_dump(const char *path) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           PYTHON " -c 'import json,sys; print(json.dumps(json.load("
                  "open(sys.argv[1], encoding=\"utf-8\")), sort_keys=True))' "
                  "'%s' 2>&1",
           path);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char *out = calloc(1, 4096);
  assert_non_null(out);
  size_t n = fread(out, 1, 4095, p);
  out[n] = 0;
  int status = pclose(p);
  if (status != 0)
    fail_msg("python3 refused %s: %s", path, out);
  return out;
}

bool python_found(void) { return access(PYTHON, X_OK) == 0; }
