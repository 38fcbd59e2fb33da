/*
 * A private temporary directory for one test executable: made by
 * tmpdir_setup, removed with everything in it by tmpdir_teardown (both
 * CMocka group fixtures).
 */
#ifndef DAM_TEST_TMPDIR_H
#define DAM_TEST_TMPDIR_H

int tmpdir_setup(void **state);
int tmpdir_teardown(void **state);

/* The directory. */
const char *tmpdir_get(void);

/* "DIR/name" in one of 4 rotating static buffers. */
const char *tmpdir_path(const char *name);

#endif
