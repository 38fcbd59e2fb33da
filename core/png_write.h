/*
 * Writing 8-bit grayscale or RGB images as PNG files (libpng).
 */
#ifndef DAM_PNG_WRITE_H
#define DAM_PNG_WRITE_H

#include <stdint.h>

/* Write a width x height image of `channels` (1: gray, 3: RGB) interleaved
 * bytes per pixel, rows top to bottom, to `path` through a temporary file
 * renamed into place (an existing file survives a failure).  DAM_EINVAL
 * for other channel counts, DAM_EIO with the path on a write failure. */
int dam_png_write(const char *path, const uint8_t *pixels, uint32_t width,
                  uint32_t height, uint32_t channels);

#endif
