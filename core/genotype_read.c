/*
 * The genotype JSON reader (genotype.h): a recursive-descent parser for
 * exactly the format genotype.c writes, every refusal naming the source and
 * the byte offset.
 */
#include "genotype.h"
#include "error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "diffautoml-genotype-1"
#define MAX_FILE (16u << 20)
#define MAX_NESTING 64

static const char *const cell_names[2] = {"normal", "reduce"};

typedef struct parser {
  const char *s;
  size_t pos;
  const char *source;
} parser;

__attribute__((format(printf, 3, 4))) static int
fail_at(const parser *p, size_t pos, const char *fmt, ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return dam_fail(DAM_EDATA, "%s: offset %zu: %s", p->source, pos, why);
}

/* Skip whitespace; the next byte. */
static char peek(parser *p) {
  while (p->s[p->pos] && strchr(" \t\r\n", p->s[p->pos]))
    p->pos++;
  return p->s[p->pos];
}

/* Skip whitespace; the offset of the next byte. */
static size_t here(parser *p) {
  peek(p);
  return p->pos;
}

static int unexpected(parser *p, const char *wanted) {
  unsigned char c = (unsigned char)peek(p);
  if (!c)
    return fail_at(p, p->pos, "unexpected end of text, expected %s", wanted);
  if (c < 0x20 || c >= 0x7f)
    return fail_at(p, p->pos, "byte 0x%02x, expected %s", c, wanted);
  return fail_at(p, p->pos, "'%c', expected %s", c, wanted);
}

static int expect(parser *p, char c, const char *wanted) {
  if (peek(p) != c)
    return unexpected(p, wanted);
  p->pos++;
  return 0;
}

/* Open a container: 1 when it has members, 0 when it is empty (and now
 * closed), else an error. */
static int open_container(parser *p, char open, const char *wanted) {
  if (expect(p, open, wanted))
    return DAM_EDATA;
  if (peek(p) != open + 2) /* '{' + 2 == '}', '[' + 2 == ']' */
    return 1;
  p->pos++;
  return 0;
}

/* After a member or element: 1 on ',', 0 on `close`, else an error. */
static int next_or_close(parser *p, char close) {
  char c = peek(p);
  if (c == ',' || c == close) {
    p->pos++;
    return c == ',';
  }
  return unexpected(p, close == '}' ? "',' or '}'" : "',' or ']'");
}

static int hex4(parser *p, size_t at, uint32_t *out) {
  *out = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0)
      return fail_at(p, at, "bad \\u escape");
    *out = *out << 4 | (uint32_t)d;
    p->pos++;
  }
  return 0;
}

/* A \uXXXX escape (pos past the 'u'), surrogate pairs joined, as UTF-8. */
static int unicode_escape(parser *p, size_t at, char utf8[4], size_t *n) {
  uint32_t cp, lo;
  if (hex4(p, at, &cp))
    return DAM_EDATA;
  if (cp >= 0xdc00 && cp < 0xe000)
    return fail_at(p, at, "lone low surrogate \\u%04x", cp);
  if (cp >= 0xd800 && cp < 0xdc00) {
    if (p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
      return fail_at(p, at, "high surrogate \\u%04x without its pair", cp);
    p->pos += 2;
    if (hex4(p, at, &lo))
      return DAM_EDATA;
    if (lo < 0xdc00 || lo >= 0xe000)
      return fail_at(p, at, "high surrogate \\u%04x without its pair", cp);
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  if (cp == 0)
    return fail_at(p, at, "\\u0000 in a string");
  if (cp < 0x80) {
    utf8[0] = (char)cp;
    *n = 1;
  } else if (cp < 0x800) {
    utf8[0] = (char)(0xc0 | cp >> 6);
    utf8[1] = (char)(0x80 | (cp & 0x3f));
    *n = 2;
  } else if (cp < 0x10000) {
    utf8[0] = (char)(0xe0 | cp >> 12);
    utf8[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    utf8[2] = (char)(0x80 | (cp & 0x3f));
    *n = 3;
  } else {
    utf8[0] = (char)(0xf0 | cp >> 18);
    utf8[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    utf8[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    utf8[3] = (char)(0x80 | (cp & 0x3f));
    *n = 4;
  }
  return 0;
}

/* A string, unescaped: its first cap - 1 bytes into out (NUL-terminated),
 * its whole length into *len. */
static int parse_string(parser *p, char *out, size_t cap, size_t *len) {
  static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
  if (peek(p) != '"')
    return unexpected(p, "a string");
  size_t n = 0;
  p->pos++;
  for (;;) {
    size_t at = p->pos;
    unsigned char c = (unsigned char)p->s[p->pos++];
    char buf[4] = {(char)c};
    size_t k = 1;
    if (c == '"')
      break;
    if (c == 0)
      return fail_at(p, at, "unterminated string");
    if (c < 0x20)
      return fail_at(p, at, "control character 0x%02x in a string", c);
    if (c == '\\') {
      char e = p->s[p->pos++];
      const char *simple = e ? strchr(esc_in, e) : NULL;
      if (simple)
        buf[0] = esc_out[simple - esc_in];
      else if (e != 'u')
        return fail_at(p, at, "bad escape in a string");
      else if (unicode_escape(p, at, buf, &k))
        return DAM_EDATA;
    }
    for (size_t i = 0; i < k; i++, n++)
      if (n + 1 < cap)
        out[n] = buf[i];
  }
  out[n < cap ? n : cap - 1] = '\0';
  *len = n;
  return 0;
}

static size_t skip_digits(const char *s, size_t i) {
  while (s[i] >= '0' && s[i] <= '9')
    i++;
  return i;
}

/* A number in JSON's grammar. */
static int parse_number(parser *p, double *v) {
  const char *s = p->s;
  size_t at = here(p), i = at + (s[at] == '-');
  if (!(s[i] >= '0' && s[i] <= '9'))
    return i == at ? unexpected(p, "a number") : fail_at(p, at, "bad number");
  i = s[i] == '0' ? i + 1 : skip_digits(s, i);
  if (s[i] == '.') {
    if (!(s[i + 1] >= '0' && s[i + 1] <= '9'))
      return fail_at(p, at, "bad number");
    i = skip_digits(s, i + 1);
  }
  if (s[i] == 'e' || s[i] == 'E') {
    i += s[i + 1] == '+' || s[i + 1] == '-' ? 2 : 1;
    if (!(s[i] >= '0' && s[i] <= '9'))
      return fail_at(p, at, "bad number");
    i = skip_digits(s, i);
  }
  char *end;
  *v = strtod(s + at, &end);
  if (end != s + i)
    return fail_at(p, at, "bad number");
  p->pos = i;
  return 0;
}

/* A whole number, for "nodes", "multiplier" and "from". */
static int parse_int(parser *p, const char *key, long *v) {
  double d;
  size_t at = here(p);
  if (parse_number(p, &d))
    return DAM_EDATA;
  if (d != floor(d))
    return fail_at(p, at, "\"%s\" is not a whole number", key);
  if (fabs(d) > 1e9)
    return fail_at(p, at, "\"%s\" is %g, out of range", key, d);
  *v = (long)d;
  return 0;
}

static int skip_literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (strncmp(p->s + p->pos, word, n) != 0)
    return unexpected(p, "a value");
  p->pos += n;
  return 0;
}

/* Any JSON value (an unknown key's). */
static int skip_value(parser *p, int nesting) {
  char c = peek(p), ignored[1];
  size_t len;
  double d;
  if (nesting > MAX_NESTING)
    return fail_at(p, p->pos, "nested more than %d deep", MAX_NESTING);
  switch (c) {
  case '"':
    return parse_string(p, ignored, sizeof ignored, &len);
  case 't':
    return skip_literal(p, "true");
  case 'f':
    return skip_literal(p, "false");
  case 'n':
    return skip_literal(p, "null");
  case '{':
  case '[': {
    int more = open_container(p, c, "a value");
    while (more > 0) {
      if (c == '{' && (parse_string(p, ignored, sizeof ignored, &len) ||
                       expect(p, ':', "':'")))
        return DAM_EDATA;
      if (skip_value(p, nesting + 1))
        return DAM_EDATA;
      more = next_or_close(p, (char)(c + 2));
    }
    return more;
  }
  default:
    return parse_number(p, &d);
  }
}

/* An object member's key and ':'.  *which: its index in known[], or -1;
 * a known key already in *seen is refused. */
static int member_key(parser *p, char *key, size_t cap, unsigned *seen,
                      const char *const *known, int n_known, int *which) {
  size_t at = here(p), len;
  if (parse_string(p, key, cap, &len) || expect(p, ':', "':'"))
    return DAM_EDATA;
  *which = -1;
  for (int i = 0; i < n_known && len < cap; i++)
    if (strcmp(key, known[i]) == 0)
      *which = i;
  if (*which >= 0 && (*seen & 1u << *which))
    return fail_at(p, at, "duplicate key \"%s\"", key);
  if (*which >= 0)
    *seen |= 1u << *which;
  return 0;
}

static int parse_edge_value(parser *p, int which, dam_genotype_edge *ed,
                            const char *cell, uint32_t node) {
  size_t at = here(p), len;
  long from;
  double w;
  switch (which) {
  case 0:
    if (parse_string(p, ed->op, sizeof ed->op, &len))
      return DAM_EDATA;
    if (len == 0 || len >= DAM_GENOTYPE_OP_NAME)
      return fail_at(p, at, "%s node %u: op name of %zu bytes (1..%d)", cell,
                     node, len, DAM_GENOTYPE_OP_NAME - 1);
    return 0;
  case 1:
    if (parse_int(p, "from", &from))
      return DAM_EDATA;
    if (from < 0 || from >= 2 + (long)node)
      return fail_at(p, at, "%s node %u: from %ld (0..%u)", cell, node, from,
                     1 + node);
    ed->from = (uint32_t)from;
    return 0;
  default:
    if (p->s[at] != '-' && !(p->s[at] >= '0' && p->s[at] <= '9'))
      return fail_at(p, at, "%s node %u: weight is not a number", cell, node);
    if (parse_number(p, &w))
      return DAM_EDATA;
    ed->weight = (float)w;
    if (!isfinite(ed->weight))
      return fail_at(p, at, "%s node %u: weight %g out of float range", cell,
                     node, w);
    return 0;
  }
}

static int parse_edge(parser *p, dam_genotype_edge *ed, const char *cell,
                      uint32_t node) {
  static const char *const keys[] = {"op", "from", "weight"};
  char key[16];
  unsigned seen = 0;
  size_t at = here(p);
  int more = open_container(p, '{', "an edge object");
  while (more > 0) {
    int which;
    size_t key_at = here(p);
    if (member_key(p, key, sizeof key, &seen, keys, 3, &which))
      return DAM_EDATA;
    if (which < 0)
      return fail_at(p, key_at, "%s node %u: unknown edge key \"%s\"", cell,
                     node, key);
    if (parse_edge_value(p, which, ed, cell, node))
      return DAM_EDATA;
    more = next_or_close(p, '}');
  }
  if (more < 0)
    return more;
  for (int k = 0; k < 3; k++)
    if (!(seen & 1u << k))
      return fail_at(p, at, "%s node %u: edge without \"%s\"", cell, node,
                     keys[k]);
  return 0;
}

/* A cell: an array of nodes, each an array of 1 or 2 edges. */
static int parse_cell(parser *p, dam_genotype_cell *c, const char *cell,
                      uint32_t *nodes) {
  *nodes = 0;
  int more = open_container(p, '[', "an array of nodes");
  while (more > 0) {
    uint32_t i = *nodes;
    size_t at = here(p);
    if (i == DAM_GENOTYPE_MAX_NODES)
      return fail_at(p, at, "%s: more than %d nodes", cell,
                     DAM_GENOTYPE_MAX_NODES);
    int edges = open_container(p, '[', "an array of edges");
    if (edges == 0)
      return fail_at(p, at, "%s node %u: no edges", cell, i);
    while (edges > 0) {
      if (c->n_in[i] == DAM_GENOTYPE_NODE_INPUTS)
        return fail_at(p, here(p), "%s node %u: more than %d edges", cell, i,
                       DAM_GENOTYPE_NODE_INPUTS);
      if (parse_edge(p, &c->in[i][c->n_in[i]], cell, i))
        return DAM_EDATA;
      c->n_in[i]++;
      edges = next_or_close(p, ']');
    }
    if (edges < 0)
      return edges;
    (*nodes)++;
    more = next_or_close(p, ']');
  }
  return more;
}

static int parse_genotype(parser *p, dam_genotype *g) {
  enum { FORMAT_KEY, NODES, MULTIPLIER, NORMAL, REDUCE, N_KEYS };
  static const char *const keys[N_KEYS] = {"format", "nodes", "multiplier",
                                           "normal", "reduce"};
  size_t at[N_KEYS] = {0}, len;
  uint32_t cell_nodes[2] = {0};
  unsigned seen = 0;
  char key[32], format[64];
  long v;
  int more = open_container(p, '{', "'{'");
  while (more > 0) {
    int which;
    if (member_key(p, key, sizeof key, &seen, keys, N_KEYS, &which))
      return DAM_EDATA;
    if (which < 0) {
      if (skip_value(p, 1))
        return DAM_EDATA;
    } else if (which == FORMAT_KEY) {
      at[which] = here(p);
      if (parse_string(p, format, sizeof format, &len))
        return DAM_EDATA;
      if (len >= sizeof format || strcmp(format, FORMAT) != 0)
        return fail_at(p, at[which], "unknown format \"%s\" (want \"%s\")",
                       format, FORMAT);
    } else if (which == NODES || which == MULTIPLIER) {
      at[which] = here(p);
      if (parse_int(p, keys[which], &v))
        return DAM_EDATA;
      if (v < 1 || v > DAM_GENOTYPE_MAX_NODES)
        return fail_at(p, at[which], "\"%s\" is %ld (1..%d)", keys[which], v,
                       DAM_GENOTYPE_MAX_NODES);
      *(which == NODES ? &g->nodes : &g->multiplier) = (uint32_t)v;
    } else {
      int k = which - NORMAL;
      at[which] = here(p);
      if (parse_cell(p, &g->cell[k], cell_names[k], &cell_nodes[k]))
        return DAM_EDATA;
    }
    more = next_or_close(p, '}');
  }
  if (more < 0)
    return more;
  size_t end = p->pos - 1;
  if (peek(p))
    return fail_at(p, p->pos, "text after the genotype");
  for (int k = 0; k < N_KEYS; k++)
    if (!(seen & 1u << k))
      return fail_at(p, end, "no \"%s\"", keys[k]);
  if (g->multiplier > g->nodes)
    return fail_at(p, at[MULTIPLIER], "\"multiplier\" is %u (1..nodes = %u)",
                   g->multiplier, g->nodes);
  for (int k = 0; k < 2; k++)
    if (cell_nodes[k] != g->nodes)
      return fail_at(p, at[NORMAL + k], "\"%s\" has %u nodes, \"nodes\" is %u",
                     cell_names[k], cell_nodes[k], g->nodes);
  return 0;
}

int dam_genotype_from_json(const char *text, const char *source,
                           dam_genotype *g) {
  parser p = {text, 0, source ? source : "genotype"};
  dam_genotype local;
  memset(&local, 0, sizeof local);
  int rc = parse_genotype(&p, &local);
  if (rc)
    return rc;
  *g = local;
  return 0;
}

int dam_genotype_read_json(const char *path, dam_genotype *g) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return dam_fail(DAM_EIO, "%s: cannot read: %s", path, strerror(errno));
  char *buf = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (n + 1 >= cap) {
      if (cap >= MAX_FILE) {
        rc = dam_fail(DAM_EDATA, "%s: larger than %u bytes", path, MAX_FILE);
        break;
      }
      cap = cap ? 2 * cap : 4096;
      char *grown = realloc(buf, cap);
      if (!grown) {
        rc = dam_fail(DAM_ENOMEM, "%s: out of memory", path);
        break;
      }
      buf = grown;
    }
    size_t got = fread(buf + n, 1, cap - 1 - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f))
        rc = dam_fail(DAM_EIO, "%s: cannot read: %s", path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (rc == 0) {
    buf[n] = '\0';
    size_t nul = strlen(buf);
    rc = nul < n ? dam_fail(DAM_EDATA, "%s: offset %zu: NUL byte", path, nul)
                 : dam_genotype_from_json(buf, path, g);
  }
  free(buf);
  return rc;
}

