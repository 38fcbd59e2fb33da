/*
 * File helpers shared by the tests of the JSON writer, atomic files and
 * genotype files (test_json_write.c, test_genotype.c).
 */
#ifndef DAM_TEST_FILE_FIXTURES_H
#define DAM_TEST_FILE_FIXTURES_H

#include <stdbool.h>

/* The whole file as a malloc'd string; fails the test when unreadable. */
char *slurp(const char *path);

/* Write text to path, replacing it. */
void spill(const char *path, const char *text);

/* Entries of the temporary directory whose name contains `part`. */
int count_entries(const char *part);

/* Python's reading of the JSON file `path`, re-dumped with sorted keys
 * (malloc'd); fails the test when Python refuses it. */
char *python_dump(const char *path);

/* Whether /usr/bin/python3 can run (python_dump needs it). */
bool python_found(void);

#endif
