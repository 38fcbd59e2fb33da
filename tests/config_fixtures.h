/*
 * Helpers shared by the config tests: config files written into the
 * test's temporary directory (tmpdir.h), and the check every failing load shares (DAM_ECONFIG,
 * the exact one-line message, the config left zeroed).
 */
#ifndef DAM_TEST_CONFIG_FIXTURES_H
#define DAM_TEST_CONFIG_FIXTURES_H

#include <stdint.h>

#include "config.h"
#include "tmpdir.h"

/* Write text to DIR/name (creating subdirectories) and return the path,
 * valid for the next three calls. */
const char *cfg_write(const char *name, const char *text);

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
