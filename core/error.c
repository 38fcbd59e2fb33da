/* Error code table and the per-thread message of the last failure. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];

const char *dam_strerror(int code) {
  switch (code) {
#define DAM__ERR_CASE(name, value, msg) \
  case value:                           \
    return msg;
    DAM_ERRORS(DAM__ERR_CASE)
#undef DAM__ERR_CASE
  }
  return "unknown error";
}

/* Formats into a local buffer first, so the previous message may be one
 * of the arguments (wrapping an error with more context). */
int dam_fail(int code, const char *fmt, ...) {
  char buf[sizeof last_message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  memcpy(last_message, buf, sizeof buf);
  return code;
}

const char *dam_last_error(void) { return last_message; }

void dam_clear_error(void) { last_message[0] = '\0'; }
