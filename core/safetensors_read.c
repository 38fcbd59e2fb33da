/*
 * The safetensors reader (safetensors.h).  The JSON header is parsed here
 * by hand; it takes exactly what the reference implementation takes (a
 * header starting with '{', at most 100 MB of UTF-8, tensor byte ranges
 * that tile the data with no gap or overlap) and skips tensor-entry keys
 * it does not know.  Every refusal names the file and the byte offset.
 */
#include "error.h"
#include "safetensors_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DAM__ST_MAX_HEADER 100000000ull
#define DAM__ST_MAX_DEPTH 64

typedef struct dam__json {
  const char *s; /* the header */
  size_t len, pos;
  const char *path;
} dam__json;

/* DAM_EDATA "PATH: offset N: why", N counted from the start of the file. */
static int dam__bad(const dam__json *j, size_t pos, const char *why,
                    const char *detail) {
  return dam_fail(DAM_EDATA, "%s: offset %zu: %s%s%s", j->path, 8 + pos, why,
                  detail ? " " : "", detail ? detail : "");
}

static void dam__ws(dam__json *j) {
  while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]) && j->s[j->pos])
    j->pos++;
}

static int dam__peek(dam__json *j) {
  dam__ws(j);
  return j->pos < j->len ? (unsigned char)j->s[j->pos] : -1;
}

static int dam__expect(dam__json *j, char c, const char *what) {
  if (dam__peek(j) != c)
    return dam__bad(j, j->pos, "bad header: expected", what);
  j->pos++;
  return 0;
}

static void dam__utf8_put(dam__st_buf *b, uint32_t cp) {
  char u[4];
  size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  static const uint8_t lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
  for (size_t i = n - 1; i > 0; i--, cp >>= 6)
    u[i] = (char)(0x80 | (cp & 0x3f));
  u[0] = (char)(lead[n] | cp);
  dam__st_put(b, u, n);
}

static int dam__hex4(dam__json *j, uint32_t *out) {
  *out = 0;
  for (int i = 0; i < 4; i++, j->pos++) {
    char c = j->pos < j->len ? j->s[j->pos] : 0;
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0)
      return dam__bad(j, j->pos, "bad header: bad \\u escape", NULL);
    *out = *out << 4 | (uint32_t)v;
  }
  return 0;
}

/* A JSON string into *out (malloc'd; NULL: skipped). */
static int dam__string(dam__json *j, char **out) {
  dam__st_buf b = {0};
  int rc = dam__expect(j, '"', "a string");
  dam__st_put(&b, "", 0);
  while (rc == 0) {
    if (j->pos >= j->len) {
      rc = dam__bad(j, j->pos, "bad header: unterminated string", NULL);
      break;
    }
    unsigned char c = (unsigned char)j->s[j->pos++];
    if (c == '"')
      break;
    if (c < 0x20) {
      rc = dam__bad(j, j->pos - 1, "bad header: control character in a string",
                    NULL);
    } else if (c != '\\') {
      dam__st_put(&b, (const char *)&c, 1);
    } else {
      char e = j->pos < j->len ? j->s[j->pos++] : 0;
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
      const char *at = e ? strchr(from, e) : NULL;
      uint32_t cp, lo;
      if (at) {
        dam__st_put(&b, &to[at - from], 1);
      } else if (e != 'u') {
        rc =
            dam__bad(j, j->pos - 1, "bad header: bad escape in a string", NULL);
      } else if ((rc = dam__hex4(j, &cp)) == 0) {
        if (cp >= 0xd800 && cp < 0xdc00) {
          if (j->pos + 1 < j->len && j->s[j->pos] == '\\' &&
              j->s[j->pos + 1] == 'u') {
            j->pos += 2;
            rc = dam__hex4(j, &lo);
          } else {
            lo = 0;
          }
          if (rc == 0 && !(lo >= 0xdc00 && lo < 0xe000))
            rc = dam__bad(j, j->pos, "bad header: unpaired surrogate", NULL);
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          rc = dam__bad(j, j->pos, "bad header: unpaired surrogate", NULL);
        }
        if (rc == 0 && cp == 0)
          rc = dam__bad(j, j->pos, "bad header: NUL in a string", NULL);
        if (rc == 0)
          dam__utf8_put(&b, cp);
      }
    }
  }
  if (rc == 0 && b.failed)
    rc = dam_fail(DAM_ENOMEM, "out of memory");
  if (rc == 0 && out)
    *out = b.s;
  else
    free(b.s);
  return rc;
}

static int dam__uint(dam__json *j, uint64_t *out) {
  size_t start = (dam__ws(j), j->pos);
  uint64_t v = 0;
  while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
    unsigned d = (unsigned)(j->s[j->pos] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return dam__bad(j, start, "bad header: integer too large", NULL);
    v = v * 10 + d;
    j->pos++;
  }
  if (j->pos == start || (j->pos - start > 1 && j->s[start] == '0') ||
      (j->pos < j->len && strchr(".eE", j->s[j->pos]) && j->s[j->pos]))
    return dam__bad(j, start, "bad header: expected a non-negative integer",
                    NULL);
  *out = v;
  return 0;
}

/* Skip any JSON value (unknown keys of a tensor entry). */
static int dam__skip(dam__json *j, int depth) {
  int c = dam__peek(j), rc = 0;
  if (depth > DAM__ST_MAX_DEPTH)
    return dam__bad(j, j->pos, "bad header: nested too deeply", NULL);
  if (c == '"')
    return dam__string(j, NULL);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->pos++;
    if (dam__peek(j) == close) {
      j->pos++;
      return 0;
    }
    for (;;) {
      if (c == '{' &&
          ((rc = dam__string(j, NULL)) || (rc = dam__expect(j, ':', "':'"))))
        return rc;
      if ((rc = dam__skip(j, depth + 1)))
        return rc;
      if (dam__peek(j) == ',') {
        j->pos++;
        continue;
      }
      return dam__expect(j, close, close == '}' ? "',' or '}'" : "',' or ']'");
    }
  }
  size_t start = j->pos;
  while (j->pos < j->len &&
         (strchr("+-.eE", j->s[j->pos]) ||
          (j->s[j->pos] >= '0' && j->s[j->pos] <= '9') ||
          (j->s[j->pos] >= 'a' && j->s[j->pos] <= 'z')) &&
         j->s[j->pos])
    j->pos++;
  size_t n = j->pos - start;
  const char *w = j->s + start;
  bool literal = (n == 4 && (!memcmp(w, "true", 4) || !memcmp(w, "null", 4))) ||
                 (n == 5 && !memcmp(w, "false", 5));
  bool number = n && (w[0] == '-' || (w[0] >= '0' && w[0] <= '9'));
  return literal || number
             ? 0
             : dam__bad(j, start, "bad header: expected a value", NULL);
}

/* [n, n, ...] into v (at most max); *count receives how many. */
static int dam__uint_array(dam__json *j, uint64_t *v, uint32_t max,
                           uint32_t *count, const char *what) {
  int rc = dam__expect(j, '[', what);
  *count = 0;
  if (rc == 0 && dam__peek(j) == ']') {
    j->pos++;
    return 0;
  }
  while (rc == 0) {
    if (*count == max)
      return dam__bad(j, j->pos, "bad header: too many values in", what);
    if ((rc = dam__uint(j, &v[(*count)++])))
      return rc;
    if (dam__peek(j) == ',') {
      j->pos++;
      continue;
    }
    rc = dam__expect(j, ']', "',' or ']'");
    break;
  }
  return rc;
}

typedef struct dam__entry {
  uint64_t begin, end;
  size_t at; /* header position of the entry */
} dam__entry;

static int dam__dtype(const char *name) {
  for (int i = 0; i < DAM_ST_N_DTYPES; i++)
    if (strcmp(dam_st_dtype_name(i), name) == 0)
      return i;
  return -1;
}

/* One tensor entry {"dtype": ..., "shape": [...], "data_offsets": [b, e]}
 * into t and e. */
static int dam__tensor_entry(dam__json *j, dam_st_tensor *t, dam__entry *e) {
  bool have[3] = {false, false, false};
  uint64_t offsets[2];
  uint32_t n;
  int rc = dam__expect(j, '{', "'{' (a tensor entry)");
  if (rc == 0 && dam__peek(j) == '}')
    j->pos++;
  else
    while (rc == 0) {
      char *key = NULL, *dtype = NULL;
      if ((rc = dam__string(j, &key)) || (rc = dam__expect(j, ':', "':'"))) {
        free(key);
        return rc;
      }
      size_t value_at = (dam__ws(j), j->pos);
      if (strcmp(key, "dtype") == 0) {
        if ((rc = dam__string(j, &dtype)) == 0 &&
            (t->dtype = dam__dtype(dtype)) < 0)
          rc = dam__bad(j, value_at, "unknown dtype", dtype);
        free(dtype);
        have[0] = true;
      } else if (strcmp(key, "shape") == 0) {
        rc = dam__uint_array(j, t->shape, DAM_ST_MAX_DIMS, &t->ndim,
                             "a shape of at most 8 dims");
        have[1] = true;
      } else if (strcmp(key, "data_offsets") == 0) {
        rc = dam__uint_array(j, offsets, 2, &n, "'[' (data_offsets)");
        if (rc == 0 && n != 2)
          rc = dam__bad(j, value_at, "data_offsets needs [begin, end]", NULL);
        have[2] = true;
      } else {
        rc = dam__skip(j, 1);
      }
      free(key);
      if (rc)
        return rc;
      if (dam__peek(j) == ',') {
        j->pos++;
        continue;
      }
      rc = dam__expect(j, '}', "',' or '}'");
      break;
    }
  if (rc)
    return rc;
  const char *missing = !have[0]   ? "dtype"
                        : !have[1] ? "shape"
                        : !have[2] ? "data_offsets"
                                   : NULL;
  if (missing)
    return dam__bad(j, e->at, "tensor entry has no", missing);
  if (offsets[1] < offsets[0])
    return dam__bad(j, e->at, "data_offsets end before they begin", NULL);
  if (!dam__st_nbytes(t->dtype, t->ndim, t->shape, &t->nbytes) ||
      t->nbytes != offsets[1] - offsets[0]) {
    char detail[160];
    snprintf(detail, sizeof detail,
             "(%s %s: %llu bytes of data_offsets [%llu, %llu])", t->name,
             dam_st_dtype_name(t->dtype),
             (unsigned long long)(offsets[1] - offsets[0]),
             (unsigned long long)offsets[0], (unsigned long long)offsets[1]);
    return dam__bad(j, e->at, "shape does not match the byte range", detail);
  }
  e->begin = offsets[0];
  e->end = offsets[1];
  return 0;
}

/* {"k": "v", ...} into st's metadata. */
static int dam__metadata(dam__json *j, dam_safetensors *st) {
  int rc = dam__expect(j, '{', "'{' (__metadata__)");
  if (rc == 0 && dam__peek(j) == '}') {
    j->pos++;
    return 0;
  }
  while (rc == 0) {
    char *k = NULL, *v = NULL;
    size_t at = (dam__ws(j), j->pos);
    if ((rc = dam__string(j, &k)) == 0 &&
        (rc = dam__expect(j, ':', "':'")) == 0) {
      if (dam__peek(j) != '"')
        rc = dam__bad(j, j->pos, "__metadata__ values must be strings", NULL);
      else if ((rc = dam__string(j, &v)) == 0 && dam_st_get_meta(st, k))
        rc = dam__bad(j, at, "repeated __metadata__ key", k);
      else if (rc == 0)
        rc = dam_st_set_meta(st, k, v);
    }
    free(k);
    free(v);
    if (rc)
      return rc;
    if (dam__peek(j) == ',') {
      j->pos++;
      continue;
    }
    rc = dam__expect(j, '}', "',' or '}'");
    break;
  }
  return rc;
}

static int dam__entry_order(const void *a, const void *b) {
  const dam__entry *x = a, *y = b;
  return x->begin != y->begin ? (x->begin > y->begin) - (x->begin < y->begin)
                              : (x->end > y->end) - (x->end < y->end);
}

/* Parse the whole header into st; e[i] gets tensor i's byte range. */
static int dam__parse(dam__json *j, dam_safetensors *st, dam__entry **entries) {
  dam__entry *e = NULL;
  uint32_t cap = 0;
  bool seen_meta = false;
  int rc = 0;
  if (j->len == 0 || j->s[0] != '{')
    return dam__bad(j, 0, "bad header: it must start with '{'", NULL);
  j->pos = 1;
  if (dam__peek(j) == '}')
    j->pos++;
  else
    while (rc == 0) {
      char *name = NULL;
      size_t at = (dam__ws(j), j->pos);
      if ((rc = dam__string(j, &name)) || (rc = dam__expect(j, ':', "':'"))) {
        free(name);
        break;
      }
      if (strcmp(name, "__metadata__") == 0) {
        rc = seen_meta ? dam__bad(j, at, "repeated __metadata__", NULL)
                       : dam__metadata(j, st);
        seen_meta = true;
        free(name);
      } else if (dam_st_find(st, name)) {
        rc = dam__bad(j, at, "repeated tensor name", name);
        free(name);
      } else {
        dam_st_tensor *t = dam__st_push(st, name);
        if (t && st->n > cap) {
          cap = st->cap;
          dam__entry *grown = realloc(e, cap * sizeof *e);
          if (grown)
            e = grown;
          else
            t = NULL;
        }
        if (!t) {
          if (!st->n || st->t[st->n - 1].name != name)
            free(name);
          rc = dam_fail(DAM_ENOMEM, "out of memory");
          break;
        }
        e[st->n - 1] = (dam__entry){0, 0, at};
        rc = dam__tensor_entry(j, t, &e[st->n - 1]);
      }
      if (rc)
        break;
      if (dam__peek(j) == ',') {
        j->pos++;
        continue;
      }
      rc = dam__expect(j, '}', "',' or '}'");
      break;
    }
  if (rc == 0 && dam__peek(j) != -1)
    rc = dam__bad(j, j->pos, "bad header: text after the closing '}'", NULL);
  *entries = e;
  return rc;
}

/* The byte ranges must tile [0, data) in some order. */
static int dam__check_ranges(const dam__json *j, dam__entry *e, uint32_t n,
                             uint64_t data) {
  uint64_t expected = 0;
  if (n)
    qsort(e, n, sizeof *e, dam__entry_order);
  for (uint32_t i = 0; i < n; i++) {
    if (e[i].begin != expected)
      return dam__bad(j, e[i].at,
                      e[i].begin < expected
                          ? "data_offsets overlap another tensor's"
                          : "data_offsets leave a gap before this tensor",
                      NULL);
    expected = e[i].end;
  }
  if (expected != data) {
    char detail[96];
    snprintf(detail, sizeof detail, "(%llu bytes of data, tensors cover %llu)",
             (unsigned long long)data, (unsigned long long)expected);
    return dam_fail(DAM_EDATA,
                    "%s: offset %llu: data size does not match "
                    "the header %s",
                    j->path, (unsigned long long)(8 + j->len), detail);
  }
  return 0;
}

static int dam__read_file(const char *path, uint8_t **out, uint64_t *size) {
  FILE *f = fopen(path, "rb");
  struct stat sb;
  int err = !f                      ? errno
            : fstat(fileno(f), &sb) ? errno
            : !S_ISREG(sb.st_mode)  ? EISDIR
                                    : 0;
  if (err) {
    if (f)
      fclose(f);
    return dam_fail(DAM_EIO, "%s: cannot read: %s", path, strerror(err));
  }
  uint8_t *bytes = malloc(sb.st_size ? (size_t)sb.st_size : 1);
  if (!bytes) {
    fclose(f);
    return dam_fail(DAM_ENOMEM, "%s: out of memory (%lld bytes)", path,
                    (long long)sb.st_size);
  }
  size_t got = fread(bytes, 1, (size_t)sb.st_size, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || got != (size_t)sb.st_size) {
    free(bytes);
    return dam_fail(DAM_EIO, "%s: cannot read: %s", path,
                    failed ? strerror(errno) : "file changed while read");
  }
  *out = bytes;
  *size = (uint64_t)sb.st_size;
  return 0;
}

int dam_st_read(const char *path, dam_safetensors **out) {
  uint8_t *bytes = NULL;
  uint64_t size = 0, hlen = 0;
  dam__entry *e = NULL;
  dam_safetensors *st = NULL;
  *out = NULL;
  int rc = dam__read_file(path, &bytes, &size);
  if (rc)
    return rc;
  for (int i = 0; i < 8 && size >= 8; i++)
    hlen |= (uint64_t)bytes[i] << (8 * i);
  dam__json j = {(const char *)bytes + 8, (size_t)hlen, 0, path};
  if (size < 8)
    rc = dam_fail(DAM_EDATA,
                  "%s: offset 0: truncated: %llu bytes, too short for the "
                  "8-byte header length",
                  path, (unsigned long long)size);
  else if (hlen > size - 8 || hlen > DAM__ST_MAX_HEADER)
    rc = dam_fail(DAM_EDATA,
                  "%s: offset 0: header length %llu runs past the end of the "
                  "file (%llu bytes) or the 100 MB limit: truncated or not "
                  "safetensors",
                  path, (unsigned long long)hlen, (unsigned long long)size);
  else if (dam__st_utf8_valid(bytes + 8, (size_t)hlen) != hlen)
    rc = dam__bad(&j, dam__st_utf8_valid(bytes + 8, (size_t)hlen),
                  "bad header: not UTF-8", NULL);
  else if (!(st = dam_st_new()) || !(st->path = strdup(path)))
    rc = dam_fail(DAM_ENOMEM, "out of memory");
  if (rc == 0)
    rc = dam__parse(&j, st, &e);
  if (rc == 0) {
    dam__entry *sorted = st->n ? malloc(st->n * sizeof *sorted) : NULL;
    if (st->n && !sorted)
      rc = dam_fail(DAM_ENOMEM, "out of memory");
    else if (st->n)
      memcpy(sorted, e, st->n * sizeof *sorted);
    if (rc == 0)
      rc = dam__check_ranges(&j, sorted ? sorted : e, st->n, size - 8 - hlen);
    free(sorted);
  }
  const uint8_t *data = bytes + 8 + hlen;
  for (uint32_t i = 0; rc == 0 && i < st->n; i++) {
    dam_st_tensor *t = &st->t[i];
    if (!(t->data = malloc(t->nbytes ? (size_t)t->nbytes : 1))) {
      rc = dam_fail(DAM_ENOMEM, "%s: out of memory", path);
      break;
    }
    memcpy(t->data, data + e[i].begin, (size_t)t->nbytes);
    if (dam__st_big_endian())
      dam__st_swap(t->data, t->nbytes, dam_st_dtype_size(t->dtype));
  }
  free(e);
  free(bytes);
  if (rc)
    dam_st_free(st);
  else
    *out = st;
  return rc;
}
