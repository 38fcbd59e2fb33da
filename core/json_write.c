/* The streaming JSON writer (json_write.h). */
#include "json_write.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

void dam_json_init(dam_json *j, FILE *f, bool pretty) {
  *j = (dam_json){.f = f, .pretty = pretty};
}

static bool is_inline(const dam_json *j, uint32_t depth) {
  return j->inline_depth && depth >= j->inline_depth;
}

static void put_string(FILE *f, const char *s) {
  static const char hex[] = "0123456789abcdef";
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc(c, f);
    } else if (c >= 0x20) {
      fputc(c, f);
    } else if (c == '\n') {
      fputs("\\n", f);
    } else if (c == '\t') {
      fputs("\\t", f);
    } else if (c == '\r') {
      fputs("\\r", f);
    } else {
      fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
    }
  }
  fputc('"', f);
}

/* The separator, newline and indent before a value, then its key. */
static void begin_value(dam_json *j, const char *key) {
  uint32_t d = j->depth;
  assert(d > 0 || j->count[0] == 0);
  assert(d == 0 ? key == NULL : (key != NULL) == (j->close[d] == '}'));
  if (d > 0) {
    if (j->count[d])
      fputc(',', j->f);
    if (j->pretty && !is_inline(j, d))
      fprintf(j->f, "\n%*s", (int)(2 * d), "");
    else if (j->pretty && j->count[d])
      fputc(' ', j->f);
  }
  j->count[d]++;
  if (key) {
    put_string(j->f, key);
    fputs(j->pretty ? ": " : ":", j->f);
  }
}

/* After a complete value: the pretty output's final newline. */
static void end_value(dam_json *j) {
  if (j->depth == 0 && j->pretty)
    fputc('\n', j->f);
}

static void open_container(dam_json *j, const char *key, char open,
                           char close) {
  begin_value(j, key);
  assert(j->depth < DAM_JSON_MAX_DEPTH);
  fputc(open, j->f);
  j->depth++;
  j->count[j->depth] = 0;
  j->close[j->depth] = close;
}

void dam_json_object(dam_json *j, const char *key) {
  open_container(j, key, '{', '}');
}

void dam_json_array(dam_json *j, const char *key) {
  open_container(j, key, '[', ']');
}

void dam_json_end(dam_json *j) {
  assert(j->depth > 0);
  uint32_t d = j->depth--;
  if (j->pretty && j->count[d] && !is_inline(j, d))
    fprintf(j->f, "\n%*s", (int)(2 * j->depth), "");
  fputc(j->close[d], j->f);
  end_value(j);
}

/* The shortest %.*g of v that strtod (then `narrow`) reads back as v. */
static void put_shortest(FILE *f, double v, bool narrow) {
  char buf[32];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    double back = strtod(buf, NULL);
    if (narrow ? (float)back == (float)v : back == v)
      break;
  }
  fputs(buf, f);
}

void dam_json_number(dam_json *j, const char *key, double v) {
  begin_value(j, key);
  if (isfinite(v))
    put_shortest(j->f, v, false);
  else
    fputs("null", j->f);
  end_value(j);
}

void dam_json_float(dam_json *j, const char *key, float v) {
  begin_value(j, key);
  if (isfinite(v))
    put_shortest(j->f, v, true);
  else
    fputs("null", j->f);
  end_value(j);
}

void dam_json_int(dam_json *j, const char *key, int64_t v) {
  begin_value(j, key);
  fprintf(j->f, "%" PRId64, v);
  end_value(j);
}

void dam_json_bool(dam_json *j, const char *key, bool v) {
  begin_value(j, key);
  fputs(v ? "true" : "false", j->f);
  end_value(j);
}

void dam_json_null(dam_json *j, const char *key) {
  begin_value(j, key);
  fputs("null", j->f);
  end_value(j);
}

void dam_json_string(dam_json *j, const char *key, const char *s) {
  begin_value(j, key);
  if (s)
    put_string(j->f, s);
  else
    fputs("null", j->f);
  end_value(j);
}
