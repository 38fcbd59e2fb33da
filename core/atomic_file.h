/*
 * Atomic replacement of a file: write a temporary file in the same
 * directory, then flush, fsync and rename it over the target, so readers
 * see either the old content or the complete new one.
 */
#ifndef DAM_ATOMIC_FILE_H
#define DAM_ATOMIC_FILE_H

#include <stdbool.h>
#include <stdio.h>

/* Create "PATH.tmp.XXXXXX" (mkstemp, mode 0666 less the umask) next to path
 * and open it for writing; *tmp receives its name, malloc'd, to pass to
 * dam_atomic_close.  NULL (and *tmp NULL) on failure, with DAM_EIO naming
 * path recorded. */
FILE *dam_atomic_open(const char *path, char **tmp);

/* Finish a dam_atomic_open.  ok: flush, fsync, close and rename tmp over
 * path, then fsync the directory; 0, or DAM_EIO naming path when any step
 * fails (a write error caught by ferror included), path then unchanged.
 * !ok: the caller's write failed; close and unlink tmp, leave path as it
 * was and return DAM_EIO without replacing the error the caller recorded.
 * Always frees tmp and closes f. */
int dam_atomic_close(FILE *f, char *tmp, const char *path, bool ok);

#endif
