/* PNG output through libpng, written atomically. */
#include "png_write.h"
#include "error.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpng reports errors by longjmp; this keeps the setjmp in one frame. */
static int write_rows(FILE *f, const uint8_t *pixels, uint32_t width,
                      uint32_t height, uint32_t channels) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return DAM_ENOMEM;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return DAM_EIO;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (uint32_t y = 0; y < height; y++)
    png_write_row(png, pixels + (size_t)y * width * channels);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return DAM_OK;
}

int dam_png_write(const char *path, const uint8_t *pixels, uint32_t width,
                  uint32_t height, uint32_t channels) {
  if (channels != 1 && channels != 3)
    return dam_fail(DAM_EINVAL, "png: %u channels (1 or 3)", channels);
  size_t len = strlen(path) + 8;
  char *tmp = malloc(len);
  if (!tmp)
    return dam_fail(DAM_ENOMEM, "out of memory");
  snprintf(tmp, len, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  int err = f ? write_rows(f, pixels, width, height, channels) : DAM_EIO;
  if (f && fclose(f) && !err)
    err = DAM_EIO;
  if (!err && rename(tmp, path))
    err = DAM_EIO;
  if (err) {
    int e = errno;
    remove(tmp);
    dam_fail(err, "%s: cannot write the PNG (%s)", path,
             err == DAM_EIO ? strerror(e) : "out of memory");
  }
  free(tmp);
  return err;
}
