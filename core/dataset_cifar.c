/*
 * CIFAR-10/100 binary readers.  A file is a sequence of fixed-size records:
 * CIFAR-10 has a label byte then 3072 pixel bytes (the 32x32 red plane,
 * then green, then blue, row-major: already CHW); CIFAR-100 has a coarse
 * and a fine label byte before the pixels.  Sizes are checked for every
 * file before anything is allocated, then the records are read in order.
 */
#include "dataset.h"

#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_SIDE 32u
#define CIFAR_PIXELS (3u * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR100_COARSE 20u

typedef struct cifar_format {
  uint32_t label_bytes, record, classes;
} cifar_format;

static FILE *open_file(const char *path, uint64_t *size, int *rc) {
  struct stat st;
  FILE *f = fopen(path, "rb");
  if (!f) {
    *rc = dam_fail(DAM_EIO, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fileno(f), &st) != 0) {
    *rc = dam_fail(DAM_EIO, "%s: cannot stat: %s", path, strerror(errno));
    fclose(f);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    *rc = dam_fail(DAM_EIO, "%s: cannot open: not a regular file", path);
    fclose(f);
    return NULL;
  }
  *size = (uint64_t)st.st_size;
  *rc = 0;
  return f;
}

/* Records in the file at path, checking that its size is a whole, non-zero
 * number of records. */
static int count_records(const char *path, const cifar_format *fmt,
                         uint64_t *records) {
  uint64_t size;
  int rc;
  FILE *f = open_file(path, &size, &rc);
  if (!f)
    return rc;
  fclose(f);
  if (size == 0)
    return dam_fail(DAM_EDATA, "%s: empty file (expected records of %u bytes)",
                    path, fmt->record);
  if (size % fmt->record != 0)
    return dam_fail(DAM_EDATA,
                    "%s: offset %llu: partial record of %llu bytes (the "
                    "file size %llu is not a multiple of %u)",
                    path, (unsigned long long)(size - size % fmt->record),
                    (unsigned long long)(size % fmt->record),
                    (unsigned long long)size, fmt->record);
  *records = size / fmt->record;
  return 0;
}

/* Read `records` records of path into d from image index `first`. */
static int read_records(const char *path, const cifar_format *fmt,
                        uint64_t records, dam_dataset *d, uint32_t first) {
  uint8_t rec[2 + CIFAR_PIXELS];
  uint64_t size;
  int rc;
  FILE *f = open_file(path, &size, &rc);
  if (!f)
    return rc;
  for (uint64_t r = 0; r < records; r++) {
    uint64_t at = r * fmt->record;
    if (fread(rec, 1, fmt->record, f) != fmt->record) {
      rc = ferror(f) ? dam_fail(DAM_EIO, "%s: read error at offset %llu: %s",
                                path, (unsigned long long)at, strerror(errno))
                     : dam_fail(DAM_EDATA,
                                "%s: offset %llu: truncated: the file "
                                "shrank while being read",
                                path, (unsigned long long)at);
      goto close_file;
    }
    uint8_t coarse = rec[0], label = rec[fmt->label_bytes - 1];
    if (fmt->label_bytes == 2 && coarse >= CIFAR100_COARSE) {
      rc = dam_fail(DAM_EDATA,
                    "%s: offset %llu: coarse label %u of record %llu is not "
                    "in 0..%u",
                    path, (unsigned long long)at, coarse, (unsigned long long)r,
                    CIFAR100_COARSE - 1);
      goto close_file;
    }
    if (label >= fmt->classes) {
      rc = dam_fail(DAM_EDATA,
                    "%s: offset %llu: label %u of record %llu is not in "
                    "0..%u",
                    path, (unsigned long long)(at + fmt->label_bytes - 1),
                    label, (unsigned long long)r, fmt->classes - 1);
      goto close_file;
    }
    d->labels[first + r] = label;
    memcpy(d->images + (size_t)(first + r) * CIFAR_PIXELS,
           rec + fmt->label_bytes, CIFAR_PIXELS);
  }

close_file:
  fclose(f);
  return rc;
}

int dam_cifar_load(const char *const *paths, uint32_t n_paths, int cifar100,
                   dam_dataset *out) {
  const cifar_format fmt = cifar100 ? (cifar_format){2, 2 + CIFAR_PIXELS, 100}
                                    : (cifar_format){1, 1 + CIFAR_PIXELS, 10};
  dam_dataset d = {0};
  uint64_t *records = NULL, total = 0;
  uint32_t first = 0;
  int rc;
  memset(out, 0, sizeof *out);
  if (!paths || n_paths == 0)
    return dam_fail(DAM_EINVAL, "CIFAR: no files given");

  records = calloc(n_paths, sizeof *records);
  if (!records)
    return dam_fail(DAM_ENOMEM, "CIFAR: %u file sizes", n_paths);
  for (uint32_t i = 0; i < n_paths; i++) {
    if ((rc = count_records(paths[i], &fmt, &records[i])))
      goto free_records;
    total += records[i];
  }
  if (total > UINT32_MAX) {
    rc = dam_fail(DAM_EDATA, "CIFAR: %llu records in %u files, over %u",
                  (unsigned long long)total, n_paths, UINT32_MAX);
    goto free_records;
  }

  d.n = (uint32_t)total;
  d.channels = 3;
  d.height = d.width = CIFAR_SIDE;
  d.classes = fmt.classes;
  d.images = malloc((size_t)total * CIFAR_PIXELS);
  d.labels = malloc((size_t)total);
  if (!d.images || !d.labels) {
    rc = dam_fail(DAM_ENOMEM, "CIFAR: %llu images", (unsigned long long)total);
    goto free_data;
  }
  for (uint32_t i = 0; i < n_paths; i++) {
    if ((rc = read_records(paths[i], &fmt, records[i], &d, first)))
      goto free_data;
    first += (uint32_t)records[i];
  }

  free(records);
  *out = d;
  return 0;

free_data:
  dam_dataset_free(&d);
free_records:
  free(records);
  return rc;
}
