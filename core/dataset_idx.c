/*
 * MNIST-style IDX readers (images: magic 0x00000803, count, rows, cols;
 * labels: magic 0x00000801, count; big-endian 32-bit header fields, then
 * one byte per pixel or label) and the Fashion-MNIST file layout.  Files
 * go through zlib's gz reader, which inflates a stream that starts with the
 * gzip magic 1f 8b and passes any other file through unchanged; offsets in
 * messages count bytes of that output.
 */
#include "dataset.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_DIM 4096u
#define IDX_CLASSES 10u
#define READ_CHUNK (1u << 16)

typedef struct idx_file {
  const char *path;
  gzFile gz;
  uint64_t offset; /* bytes of (decompressed) data consumed so far */
} idx_file;

/* One-line DAM_EDATA failure "PATH: offset N[ of the decompressed data]:
 * ...". */
__attribute__((format(printf, 3, 4))) static int
fail_at(const idx_file *f, uint64_t offset, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return dam_fail(DAM_EDATA, "%s: offset %llu%s: %s", f->path,
                  (unsigned long long)offset,
                  gzdirect(f->gz) ? "" : " of the decompressed data", what);
}

static int idx_open(idx_file *f, const char *path) {
  f->path = path;
  f->offset = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return dam_fail(DAM_EIO, "%s: cannot open: %s", path, strerror(errno));
  f->gz = gzdopen(fd, "rb");
  if (!f->gz) {
    close(fd);
    return dam_fail(DAM_ENOMEM, "%s: cannot set up the gzip reader", path);
  }
  return 0;
}

static void idx_close(idx_file *f) {
  if (f->gz)
    gzclose(f->gz);
  f->gz = NULL;
}

/* Why a read stopped at f->offset + got short of its goal. */
static int short_read(idx_file *f, uint64_t got, const char *what) {
  int zerr = Z_OK;
  const char *zmsg = gzerror(f->gz, &zerr);
  uint64_t at = f->offset + got;
  if (zerr == Z_ERRNO)
    return dam_fail(DAM_EIO, "%s: read error at offset %llu: %s", f->path,
                    (unsigned long long)at, strerror(errno));
  const char *sep = strstr(zmsg, ": "); /* drop zlib's "<fd:N>: " */
  if (sep)
    zmsg = sep + 2;
  if (zerr == Z_DATA_ERROR)
    return fail_at(f, at, "corrupt gzip data, noticed reading from here (%s)",
                   zmsg);
  if (zerr == Z_MEM_ERROR)
    return dam_fail(DAM_ENOMEM, "%s: inflating at offset %llu", f->path,
                    (unsigned long long)at);
  if (zerr == Z_BUF_ERROR)
    return fail_at(f, at, "truncated: the gzip stream ends early, in %s", what);
  return fail_at(f, at, "truncated: the file ends in %s", what);
}

/* Read exactly len bytes into dst, or fail naming where data ran out. */
static int read_exact(idx_file *f, void *dst, uint64_t len, const char *what) {
  uint64_t got = 0;
  while (got < len) {
    uint64_t want = len - got < READ_CHUNK ? len - got : READ_CHUNK;
    int r = gzread(f->gz, (uint8_t *)dst + got, (unsigned)want);
    if (r <= 0)
      return short_read(f, got, what);
    got += (uint64_t)r;
  }
  f->offset += len;
  return 0;
}

/* Read len bytes into a new buffer grown as data arrives, so that a header
 * claiming more than the file holds costs no more memory than the file. */
static int read_alloc(idx_file *f, uint64_t len, const char *what,
                      uint8_t **out) {
  uint64_t cap = len < READ_CHUNK ? len : READ_CHUNK, have = 0;
  uint8_t *buf = malloc(cap), *grown;
  int rc = 0;
  if (!buf)
    goto oom;
  while (have < len) {
    if (have == cap) {
      cap = cap * 2 < len ? cap * 2 : len;
      if (!(grown = realloc(buf, cap)))
        goto oom;
      buf = grown;
    }
    rc = read_exact(f, buf + have, cap - have, what);
    if (rc)
      goto free_buf;
    have = cap;
  }
  *out = buf;
  return 0;

oom:
  rc = dam_fail(DAM_ENOMEM, "%s: %llu bytes of %s", f->path,
                (unsigned long long)len, what);
free_buf:
  free(buf);
  return rc;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Check the magic, then read the `count` big-endian header fields after
 * it. */
static int read_header(idx_file *f, uint32_t magic, uint32_t *fields,
                       int count) {
  uint8_t raw[12];
  int rc = read_exact(f, raw, 4, "the magic number");
  if (rc)
    return rc;
  if (be32(raw) != magic)
    return fail_at(f, 0, "magic 0x%08x, expected 0x%08x (IDX %s)", be32(raw),
                   magic, magic == IDX_IMAGES_MAGIC ? "images" : "labels");
  if ((rc = read_exact(f, raw, 4 * (uint64_t)count, "the header")))
    return rc;
  for (int i = 0; i < count; i++)
    fields[i] = be32(raw + 4 * i);
  return 0;
}

/* Fail unless the data ends here. */
static int expect_end(idx_file *f) {
  uint8_t extra;
  int r = gzread(f->gz, &extra, 1);
  if (r > 0)
    return fail_at(f, f->offset, "data past the %llu bytes the header declares",
                   (unsigned long long)f->offset);
  if (r < 0)
    return short_read(f, 0, "the gzip trailer");
  return 0;
}

static int check_dim(const idx_file *f, uint64_t offset, const char *name,
                     uint32_t v) {
  if (v == 0 || v > IDX_MAX_DIM)
    return fail_at(f, offset, "%s %u is not in 1..%u", name, v, IDX_MAX_DIM);
  return 0;
}

int dam_idx_load(const char *images_path, const char *labels_path,
                 dam_dataset *out) {
  dam_dataset d = {0};
  idx_file im = {0}, lb = {0};
  uint32_t ih[3], n_labels;
  memset(out, 0, sizeof *out);

  int rc = idx_open(&im, images_path);
  if (rc)
    return rc;
  if ((rc = read_header(&im, IDX_IMAGES_MAGIC, ih, 3)))
    goto close_images;
  if (ih[0] == 0) {
    rc = fail_at(&im, 4, "no images");
    goto close_images;
  }
  if ((rc = check_dim(&im, 8, "rows", ih[1])) ||
      (rc = check_dim(&im, 12, "columns", ih[2])))
    goto close_images;

  if ((rc = idx_open(&lb, labels_path)))
    goto close_images;
  if ((rc = read_header(&lb, IDX_LABELS_MAGIC, &n_labels, 1)))
    goto close_labels;
  if (n_labels != ih[0]) {
    rc = dam_fail(DAM_EDATA, "%s holds %u images but %s holds %u labels",
                  images_path, ih[0], labels_path, n_labels);
    goto close_labels;
  }

  d.n = ih[0];
  d.channels = 1;
  d.height = ih[1];
  d.width = ih[2];
  d.classes = IDX_CLASSES;
  if ((rc = read_alloc(&im, (uint64_t)d.n * d.height * d.width, "the pixels",
                       &d.images)) ||
      (rc = expect_end(&im)))
    goto free_data;
  if ((rc = read_alloc(&lb, d.n, "the labels", &d.labels)) ||
      (rc = expect_end(&lb)))
    goto free_data;
  for (uint32_t i = 0; i < d.n; i++)
    if (d.labels[i] >= IDX_CLASSES) {
      rc = fail_at(&lb, 8 + (uint64_t)i, "label %u of image %u is not in 0..%u",
                   d.labels[i], i, IDX_CLASSES - 1);
      goto free_data;
    }

  idx_close(&lb);
  idx_close(&im);
  *out = d;
  return 0;

free_data:
  dam_dataset_free(&d);
close_labels:
  idx_close(&lb);
close_images:
  idx_close(&im);
  return rc;
}

const char *dam_fashion_mnist_dir(void) {
  return "/usr/share/datasets/fashion-mnist";
}

/* DIR/STEM.gz when that exists, else DIR/STEM when that does, else
 * DIR/STEM.gz (whose open will then fail naming it). */
static char *pick_file(const char *dir, const char *stem) {
  size_t len = strlen(dir) + strlen(stem) + 5;
  char *p = malloc(len);
  if (!p)
    return NULL;
  snprintf(p, len, "%s/%s.gz", dir, stem);
  if (access(p, F_OK) != 0) {
    p[len - 4] = '\0';
    if (access(p, F_OK) != 0)
      p[len - 4] = '.';
  }
  return p;
}

int dam_fashion_mnist_load(const char *dir, int test_set, dam_dataset *out) {
  struct stat st;
  const char *prefix = test_set ? "t10k" : "train";
  char stem[64];
  int rc;
  memset(out, 0, sizeof *out);
  if (!dir)
    dir = dam_fashion_mnist_dir();
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return dam_fail(DAM_ENOTFOUND,
                    "%s: not found (install the Debian package "
                    "dataset-fashion-mnist)",
                    dir);

  snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix);
  char *images = pick_file(dir, stem);
  snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix);
  char *labels = pick_file(dir, stem);
  if (!images || !labels)
    rc = dam_fail(DAM_ENOMEM, "%s: file names", dir);
  else
    rc = dam_idx_load(images, labels, out);
  free(labels);
  free(images);
  return rc;
}
