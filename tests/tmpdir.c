/* The per-executable temporary directory of the file-based tests. */
#define _XOPEN_SOURCE 700
#include "tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[] = "/tmp/dam_test_XXXXXX";

int tmpdir_setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int tmpdir_teardown(void **state) {
  (void)state;
  return nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

const char *tmpdir_get(void) { return dir; }

const char *tmpdir_path(const char *name) {
  static char bufs[4][512];
  static int next;
  char *p = bufs[next++ % 4];
  snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
  return p;
}
