/*
 * The safetensors format (what PyTorch's `safetensors` package reads and
 * writes): an 8-byte little-endian header length N, N bytes of JSON
 * naming each tensor's dtype, shape and [begin, end) byte range in the
 * data, plus an optional "__metadata__" map of strings, then the raw
 * little-endian data.  A dam_safetensors is a set of named host tensors
 * and metadata, built by hand to be written (model weights, checkpoints)
 * or read back from a file.  Writes are atomic; reads check everything
 * and name the file and byte offset of the first problem.
 */
#ifndef DAM_SAFETENSORS_H
#define DAM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The dtypes of the format, with their names there. */
#define DAM_ST_DTYPES(X)                                                       \
  X(BOOL, 1)                                                                   \
  X(U8, 1)                                                                     \
  X(I8, 1)                                                                     \
  X(F8_E4M3, 1)                                                                \
  X(F8_E5M2, 1)                                                                \
  X(I16, 2)                                                                    \
  X(U16, 2)                                                                    \
  X(F16, 2)                                                                    \
  X(BF16, 2)                                                                   \
  X(I32, 4)                                                                    \
  X(U32, 4)                                                                    \
  X(F32, 4)                                                                    \
  X(F64, 8)                                                                    \
  X(I64, 8)                                                                    \
  X(U64, 8)

enum dam_st_dtype {
#define DAM__ST_ENUM(name, size) DAM_ST_##name,
  DAM_ST_DTYPES(DAM__ST_ENUM)
#undef DAM__ST_ENUM
      DAM_ST_N_DTYPES
};

#define DAM_ST_MAX_DIMS 8

typedef struct dam_st_tensor {
  char *name;
  int dtype;     /* enum dam_st_dtype */
  uint32_t ndim; /* 0: a scalar */
  uint64_t shape[DAM_ST_MAX_DIMS];
  void *data; /* nbytes in host byte order, malloc'd (aligned) */
  uint64_t nbytes;
} dam_st_tensor;

typedef struct dam_st_meta {
  char *key, *value;
} dam_st_meta;

typedef struct dam_safetensors {
  dam_st_tensor *t;
  uint32_t n, cap;
  dam_st_meta *meta;
  uint32_t n_meta, cap_meta;
  char *path; /* the file it was read from, or NULL */
} dam_safetensors;

/* "F32", ... or "?" for an unknown dtype. */
const char *dam_st_dtype_name(int dtype);

/* Bytes per element (0 for an unknown dtype). */
size_t dam_st_dtype_size(int dtype);

/* An empty set; NULL when out of memory. */
dam_safetensors *dam_st_new(void);

/* Free the set and everything it holds (NULL is fine). */
void dam_st_free(dam_safetensors *st);

/* Add a tensor: name and the data (the product of shape[0..ndim) elements
 * of dtype, host byte order) are copied.  DAM_EINVAL for an empty or
 * repeated name, "__metadata__", an unknown dtype or more than
 * DAM_ST_MAX_DIMS dims; DAM_ERANGE when the byte size overflows;
 * DAM_ENOMEM. */
int dam_st_add(dam_safetensors *st, const char *name, int dtype, uint32_t ndim,
               const uint64_t *shape, const void *data);

/* Set metadata key to value (both copied; an existing key is replaced).
 * DAM_ENOMEM. */
int dam_st_set_meta(dam_safetensors *st, const char *key, const char *value);

/* The tensor called name, or NULL. */
const dam_st_tensor *dam_st_find(const dam_safetensors *st, const char *name);

/* The metadata value of key, or NULL. */
const char *dam_st_get_meta(const dam_safetensors *st, const char *key);

/* Write the set to path atomically: a temporary file in the same
 * directory, written, synced and renamed over path, so a failure leaves
 * whatever path held before.  The data follows the header at an 8-byte
 * aligned offset, tensors ordered by element size (largest first), then
 * name, as the reference writer does.  DAM_EIO naming the file. */
int dam_st_write(const dam_safetensors *st, const char *path);

/* Read and check path into a new set (*out, freed with dam_st_free).
 * DAM_EIO when it can't be read; DAM_EDATA "PATH: offset N: ..." for a
 * malformed file (truncated, a bad header length, bad JSON, an unknown
 * dtype, a shape that does not match the byte range, byte ranges that
 * overlap or leave holes, a repeated name); DAM_ENOMEM. */
int dam_st_read(const char *path, dam_safetensors **out);

#endif
