/*
 * What safetensors.c and safetensors_read.c share: a growable text buffer
 * and the helpers of the set.
 */
#ifndef DAM_SAFETENSORS_INTERNAL_H
#define DAM_SAFETENSORS_INTERNAL_H

#include <stdbool.h>

#include "safetensors.h"

typedef struct dam__st_buf {
  char *s; /* NUL-terminated */
  size_t len, cap;
  bool failed; /* out of memory: later appends do nothing */
} dam__st_buf;

/* Append s[0..n) to b. */
void dam__st_put(dam__st_buf *b, const char *s, size_t n);

/* True on a big-endian host (the file is little-endian). */
bool dam__st_big_endian(void);

/* Reverse the bytes of each size-byte element of p[0..nbytes). */
void dam__st_swap(uint8_t *p, uint64_t nbytes, size_t size);

/* Length of the valid UTF-8 prefix of s[0..n). */
size_t dam__st_utf8_valid(const uint8_t *s, size_t n);

/* *out = bytes of a tensor; false on overflow. */
bool dam__st_nbytes(int dtype, uint32_t ndim, const uint64_t *shape,
                    uint64_t *out);

/* Append an empty tensor named `name` (taken over) to st; NULL when out of
 * memory (name not taken). */
dam_st_tensor *dam__st_push(dam_safetensors *st, char *name);

#endif
