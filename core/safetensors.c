/*
 * safetensors (safetensors.h): the set of named tensors and metadata, and
 * the atomic writer with its hand-written JSON header.  The reader is in
 * safetensors_read.c.
 */
#include "error.h"
#include "safetensors_internal.h"

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  const char *name;
  size_t size;
} dam__st_types[] = {
#define DAM__ST_INFO(name, size) {#name, size},
    DAM_ST_DTYPES(DAM__ST_INFO)
#undef DAM__ST_INFO
};

const char *dam_st_dtype_name(int dtype) {
  return dtype >= 0 && dtype < DAM_ST_N_DTYPES ? dam__st_types[dtype].name
                                               : "?";
}

size_t dam_st_dtype_size(int dtype) {
  return dtype >= 0 && dtype < DAM_ST_N_DTYPES ? dam__st_types[dtype].size : 0;
}

bool dam__st_big_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 0;
}

void dam__st_swap(uint8_t *p, uint64_t nbytes, size_t size) {
  for (uint64_t i = 0; size > 1 && i + size <= nbytes; i += size)
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      uint8_t t = p[i + a];
      p[i + a] = p[i + b];
      p[i + b] = t;
    }
}

size_t dam__st_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t k = c < 0x80             ? 0
               : (c & 0xe0) == 0xc0 ? 1
               : (c & 0xf0) == 0xe0 ? 2
               : (c & 0xf8) == 0xf0 ? 3
                                    : 9;
    if (k == 9 || (k == 1 && c < 0xc2) || (k == 3 && c > 0xf4) ||
        (k && i + k >= n))
      return i;
    uint32_t cp = k ? c & (0x3f >> k) : c;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        return i;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return i;
    i += k + 1;
  }
  return n;
}

static bool dam__utf8(const char *s) {
  size_t n = strlen(s);
  return dam__st_utf8_valid((const uint8_t *)s, n) == n;
}

/* ---- the set ----------------------------------------------------------- */

dam_safetensors *dam_st_new(void) { return calloc(1, sizeof(dam_safetensors)); }

void dam_st_free(dam_safetensors *st) {
  if (!st)
    return;
  for (uint32_t i = 0; i < st->n; i++) {
    free(st->t[i].name);
    free(st->t[i].data);
  }
  for (uint32_t i = 0; i < st->n_meta; i++) {
    free(st->meta[i].key);
    free(st->meta[i].value);
  }
  free(st->t);
  free(st->meta);
  free(st->path);
  free(st);
}

const dam_st_tensor *dam_st_find(const dam_safetensors *st, const char *name) {
  for (uint32_t i = 0; i < st->n; i++)
    if (strcmp(st->t[i].name, name) == 0)
      return &st->t[i];
  return NULL;
}

const char *dam_st_get_meta(const dam_safetensors *st, const char *key) {
  for (uint32_t i = 0; i < st->n_meta; i++)
    if (strcmp(st->meta[i].key, key) == 0)
      return st->meta[i].value;
  return NULL;
}

bool dam__st_nbytes(int dtype, uint32_t ndim, const uint64_t *shape,
                    uint64_t *out) {
  uint64_t n = dam_st_dtype_size(dtype);
  for (uint32_t i = 0; i < ndim; i++) {
    if (shape[i] && n > UINT64_MAX / shape[i])
      return false;
    n *= shape[i];
  }
  *out = n;
  return true;
}

dam_st_tensor *dam__st_push(dam_safetensors *st, char *name) {
  if (st->n == st->cap) {
    uint32_t cap = st->cap ? 2 * st->cap : 8;
    dam_st_tensor *t = realloc(st->t, cap * sizeof *t);
    if (!t)
      return NULL;
    st->t = t;
    st->cap = cap;
  }
  dam_st_tensor *t = memset(&st->t[st->n++], 0, sizeof *st->t);
  t->name = name;
  return t;
}

int dam_st_add(dam_safetensors *st, const char *name, int dtype, uint32_t ndim,
               const uint64_t *shape, const void *data) {
  uint64_t nbytes;
  if (!name || !*name || !dam__utf8(name) || strcmp(name, "__metadata__") == 0)
    return dam_fail(DAM_EINVAL, "safetensors: bad tensor name '%s'",
                    name ? name : "(null)");
  if (dam_st_find(st, name))
    return dam_fail(DAM_EINVAL, "safetensors: tensor '%s' added twice", name);
  if (!dam_st_dtype_size(dtype) || ndim > DAM_ST_MAX_DIMS || (ndim && !shape))
    return dam_fail(DAM_EINVAL,
                    "safetensors: tensor '%s': dtype %d, %u dims (at most %d)",
                    name, dtype, ndim, DAM_ST_MAX_DIMS);
  if (!dam__st_nbytes(dtype, ndim, shape, &nbytes) || nbytes > SIZE_MAX / 2)
    return dam_fail(DAM_ERANGE, "safetensors: tensor '%s' is too large", name);
  if (nbytes && !data)
    return dam_fail(DAM_EINVAL, "safetensors: tensor '%s' has no data", name);
  char *copy = strdup(name);
  void *bytes = malloc(nbytes ? nbytes : 1);
  dam_st_tensor *t = copy && bytes ? dam__st_push(st, copy) : NULL;
  if (!t) {
    free(copy);
    free(bytes);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  t->dtype = dtype;
  t->ndim = ndim;
  if (ndim)
    memcpy(t->shape, shape, ndim * sizeof *shape);
  if (nbytes)
    memcpy(bytes, data, nbytes);
  t->data = bytes;
  t->nbytes = nbytes;
  return 0;
}

int dam_st_set_meta(dam_safetensors *st, const char *key, const char *value) {
  if (!dam__utf8(key) || !dam__utf8(value))
    return dam_fail(DAM_EINVAL, "safetensors: metadata '%s' is not UTF-8", key);
  char *v = strdup(value);
  if (!v)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < st->n_meta; i++)
    if (strcmp(st->meta[i].key, key) == 0) {
      free(st->meta[i].value);
      st->meta[i].value = v;
      return 0;
    }
  char *k = strdup(key);
  if (k && st->n_meta == st->cap_meta) {
    uint32_t cap = st->cap_meta ? 2 * st->cap_meta : 8;
    dam_st_meta *m = realloc(st->meta, cap * sizeof *m);
    if (m) {
      st->meta = m;
      st->cap_meta = cap;
    }
  }
  if (!k || st->n_meta == st->cap_meta) {
    free(k);
    free(v);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  st->meta[st->n_meta++] = (dam_st_meta){k, v};
  return 0;
}

/* ---- writing ----------------------------------------------------------- */

void dam__st_put(dam__st_buf *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->s, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->s = grown;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void dam__putf(dam__st_buf *b, const char *fmt, unsigned long long v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, fmt, v);
  dam__st_put(b, tmp, (size_t)n);
}

static const char dam__escaped[] = "\"\\\b\f\n\r\t";

static void dam__put_json_string(dam__st_buf *b, const char *s) {
  dam__st_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    const char *shortcut = c ? strchr(dam__escaped, c) : NULL;
    if (shortcut) {
      char esc[2] = {'\\', "\"\\bfnrt"[shortcut - dam__escaped]};
      dam__st_put(b, esc, 2);
    } else if (c < 0x20) {
      dam__putf(b, "\\u%04llx", c);
    } else {
      dam__st_put(b, (const char *)&c, 1);
    }
  }
  dam__st_put(b, "\"", 1);
}

static const dam_safetensors *dam__sort_set;

/* Larger elements first, then by name. */
static int dam__write_order(const void *a, const void *b) {
  const dam_st_tensor *x = &dam__sort_set->t[*(const uint32_t *)a];
  const dam_st_tensor *y = &dam__sort_set->t[*(const uint32_t *)b];
  size_t sx = dam_st_dtype_size(x->dtype), sy = dam_st_dtype_size(y->dtype);
  return sx != sy ? (sx < sy) - (sx > sy) : strcmp(x->name, y->name);
}

/* The JSON header for tensors in `order`, padded with spaces so the data
 * starts 8-byte aligned. */
static int dam__header(const dam_safetensors *st, const uint32_t *order,
                       dam__st_buf *b) {
  uint64_t offset = 0;
  dam__st_put(b, "{", 1);
  if (st->n_meta) {
    dam__st_put(b, "\"__metadata__\":{", 16);
    for (uint32_t i = 0; i < st->n_meta; i++) {
      if (i)
        dam__st_put(b, ",", 1);
      dam__put_json_string(b, st->meta[i].key);
      dam__st_put(b, ":", 1);
      dam__put_json_string(b, st->meta[i].value);
    }
    dam__st_put(b, "}", 1);
  }
  for (uint32_t i = 0; i < st->n; i++) {
    const dam_st_tensor *t = &st->t[order[i]];
    if (i || st->n_meta)
      dam__st_put(b, ",", 1);
    dam__put_json_string(b, t->name);
    dam__st_put(b, ":{\"dtype\":\"", 11);
    dam__st_put(b, dam_st_dtype_name(t->dtype),
                strlen(dam_st_dtype_name(t->dtype)));
    dam__st_put(b, "\",\"shape\":[", 11);
    for (uint32_t d = 0; d < t->ndim; d++)
      dam__putf(b, d ? ",%llu" : "%llu", t->shape[d]);
    dam__putf(b, "],\"data_offsets\":[%llu,", offset);
    offset += t->nbytes;
    dam__putf(b, "%llu]}", offset);
  }
  dam__st_put(b, "}", 1);
  while (!b->failed && (8 + b->len) % 8)
    dam__st_put(b, " ", 1);
  return b->failed ? dam_fail(DAM_ENOMEM, "out of memory") : 0;
}

static int dam__write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int dam__write_data(int fd, const dam_st_tensor *t) {
  size_t size = dam_st_dtype_size(t->dtype);
  if (!dam__st_big_endian() || size == 1)
    return dam__write_all(fd, t->data, t->nbytes);
  uint8_t chunk[1 << 16];
  for (uint64_t at = 0; at < t->nbytes; at += sizeof chunk) {
    size_t n = t->nbytes - at < sizeof chunk ? t->nbytes - at : sizeof chunk;
    memcpy(chunk, (const uint8_t *)t->data + at, n);
    dam__st_swap(chunk, n, size);
    if (dam__write_all(fd, chunk, n))
      return -1;
  }
  return 0;
}

/* Header length, header, data into fd; -1 with errno on failure. */
static int dam__write_file(int fd, const dam_safetensors *st,
                           const uint32_t *order, const dam__st_buf *header) {
  uint8_t len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (uint8_t)((uint64_t)header->len >> (8 * i));
  if (dam__write_all(fd, len, 8) || dam__write_all(fd, header->s, header->len))
    return -1;
  for (uint32_t i = 0; i < st->n; i++)
    if (dam__write_data(fd, &st->t[order[i]]))
      return -1;
  return 0;
}

int dam_st_write(const dam_safetensors *st, const char *path) {
  dam__st_buf header = {0};
  uint32_t *order = malloc((st->n ? st->n : 1) * sizeof *order);
  if (!order)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < st->n; i++)
    order[i] = i;
  dam__sort_set = st;
  qsort(order, st->n, sizeof *order, dam__write_order);
  char *tmp = NULL;
  int rc = dam__header(st, order, &header);
  FILE *f = rc ? NULL : dam_atomic_open(path, &tmp);
  if (!rc && !f)
    rc = DAM_EIO;
  if (f) {
    errno = 0;
    bool ok = dam__write_file(fileno(f), st, order, &header) == 0;
    int err = errno ? errno : EIO;
    rc = dam_atomic_close(f, tmp, path, ok);
    if (!ok)
      rc = dam_fail(DAM_EIO, "%s: cannot write: %s", path, strerror(err));
  }
  free(header.s);
  free(order);
  return rc;
}
