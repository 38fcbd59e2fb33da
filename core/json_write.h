/*
 * A small streaming JSON writer to a FILE*: objects, arrays, numbers,
 * integers, strings, booleans and null, compact (one line, no spaces) or
 * pretty (2-space indent, a member per line).  Used for genotype.json,
 * summary.json and the lines of metrics.jsonl.
 *
 * Inside an object every value takes a key; at the top level and inside
 * an array the key is NULL.  The writer records no errors: a failed write
 * sets the stream's error flag, which dam_atomic_close (or the caller's
 * ferror) reports.
 */
#ifndef DAM_JSON_WRITE_H
#define DAM_JSON_WRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define DAM_JSON_MAX_DEPTH 32

typedef struct dam_json {
  FILE *f;
  bool pretty;
  /* Pretty only: containers opened at this nesting depth or deeper (the
   * top-level value is depth 1) go on one line, as [1, 2] and {"a": 1};
   * 0, the default, for none. */
  uint32_t inline_depth;
  uint32_t depth;                         /* open containers */
  uint32_t count[DAM_JSON_MAX_DEPTH + 1]; /* values written at each depth */
  char close[DAM_JSON_MAX_DEPTH + 1];     /* '}' or ']' of each open one */
} dam_json;

/* Start writing one JSON value to f.  Pretty output ends with a newline
 * once the top-level value is complete; compact output has none. */
void dam_json_init(dam_json *j, FILE *f, bool pretty);

/* Open an object / an array (at most DAM_JSON_MAX_DEPTH deep); close the
 * innermost one with dam_json_end. */
void dam_json_object(dam_json *j, const char *key);
void dam_json_array(dam_json *j, const char *key);
void dam_json_end(dam_json *j);

/* A double in the shortest form that reads back to the same value; NaN
 * and infinities are written as null. */
void dam_json_number(dam_json *j, const char *key, double v);

/* A float in the shortest form that reads back (as a float) to v, so that
 * 0.1f is written 0.1; NaN and infinities as null. */
void dam_json_float(dam_json *j, const char *key, float v);

void dam_json_int(dam_json *j, const char *key, int64_t v);
void dam_json_bool(dam_json *j, const char *key, bool v);
void dam_json_null(dam_json *j, const char *key);

/* A UTF-8 string, passed through except for '"', '\\' and control
 * characters, which are escaped; NULL is written as null. */
void dam_json_string(dam_json *j, const char *key, const char *s);

#endif
