/*
 * Helpers shared by the config tests: config files written into a
 * temporary directory, and the check every failing load shares (DAM_ECONFIG,
 * the exact one-line message, the config left zeroed).
 */
#ifndef DAM_TEST_CONFIG_FIXTURES_H
#define DAM_TEST_CONFIG_FIXTURES_H

#include <stdint.h>

#include "config.h"

/* Group setup and teardown: create and remove the temporary directory. */
int cfg_fixtures_setup(void **state);
int cfg_fixtures_teardown(void **state);

/* The temporary directory. */
const char *cfg_tmpdir(void);

/* Write text to DIR/name (creating subdirectories) and return the path,
 * valid for the next three calls. */
const char *cfg_write(const char *name, const char *text);

/* DIR/name, valid for the next three calls. */
const char *cfg_path(const char *name);

/* Load path with the overrides and check it fails with DAM_ECONFIG and
 * exactly the printf-formatted message, leaving the config zeroed. */
void cfg_expect_error(const char *path, const char *const *overrides,
                      uint32_t n_overrides, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Load and assert success. */
void cfg_load_ok(const char *path, const char *const *overrides,
                 uint32_t n_overrides, dam_config *cfg);

/* The whole file as a malloc'd string. */
char *cfg_read_all(const char *path);

#endif
