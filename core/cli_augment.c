/*
 * `diffautoml augment --preview`: what each augment plugin does, as a PNG
 * grid (rows: transforms, columns: magnitudes 0..8) over real training
 * images, computed on the selected device through the plugins themselves.
 */
#include "cli.h"

#include "augment.h"
#include "dataset.h"
#include "device.h"
#include "error.h"
#include "gather.h"
#include "plugin.h"
#include "png_write.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEVELS 9 /* magnitudes 0..8 */
#define GAP 2

typedef struct preview_opts {
  const char *out, *data;
  uint32_t images, scale;
  float fill;
} preview_opts;

static void usage(FILE *out) {
  fprintf(out,
          "usage: diffautoml augment --preview [-o FILE] [--data DIR] "
          "[--images N]\n"
          "                          [--scale S] [--fill F] [NAME...]\n"
          "  rows: the named augment plugins (default: every loaded one);\n"
          "  columns: magnitudes 0..8; row r shows training image r mod N\n"
          "  -o, --out FILE   output PNG (default augment_preview.png)\n"
          "  --data DIR       Fashion-MNIST IDX dir (default: the Debian "
          "package's)\n"
          "  --images N       distinct images used, 1..64 (default 4)\n"
          "  --scale S        pixels per image pixel, 1..16 (default 3)\n"
          "  --fill F         intensity geometric transforms bring in "
          "(default 0)\n");
}

/* The rows: the named augment descriptors, or every loaded one. */
static int pick(const dam_registry *reg, int argc, char **argv,
                const dam_augment_desc ***out, uint32_t *n) {
  uint32_t cap = 0;
  for (uint32_t i = 0; i < reg->n_plugins; i++)
    for (const dam_desc_header *const *d = reg->plugins[i].module->descs; *d;
         d++)
      cap++;
  const dam_augment_desc **v = calloc(cap + (uint32_t)argc + 1, sizeof *v);
  if (!v)
    return dam_fail(DAM_ENOMEM, "out of memory");
  *n = 0;
  for (int a = 0; a < argc; a++) {
    v[*n] = (const dam_augment_desc *)dam_registry_find(reg, DAM_KIND_AUGMENT,
                                                        argv[a], NULL);
    if (!v[(*n)++]) {
      free(v);
      return dam_fail(DAM_ENOTFOUND, "augment: no augment plugin named '%s' "
                      "(see `diffautoml plugins`)", argv[a]);
    }
  }
  for (uint32_t i = 0; i < reg->n_plugins && !argc; i++)
    for (const dam_desc_header *const *d = reg->plugins[i].module->descs; *d;
         d++)
      if ((*d)->kind == DAM_KIND_AUGMENT)
        v[(*n)++] = (const dam_augment_desc *)*d;
  if (!*n) {
    free(v);
    return dam_fail(DAM_ENOTFOUND, "augment: no augment plugin loaded "
                    "(see `diffautoml plugins`)");
  }
  *out = v;
  return DAM_OK;
}

/* One row: image `img` of d at magnitudes 0..8 (one seed, so one random
 * sign for the row), as floats [LEVELS, C, H, W] in out. */
static int transform_row(dam_exec *ex, const dam_augment_desc *desc,
                         const dam_dataset *d, uint32_t img, uint32_t seed,
                         float fill, float *out) {
  uint32_t c = d->channels, hw = d->height * d->width, len = c * hw;
  float *x = malloc((size_t)LEVELS * len * sizeof *x), mag[LEVELS];
  uint32_t seeds[LEVELS];
  if (!x)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t m = 0; m < LEVELS; m++) {
    for (uint32_t i = 0; i < len; i++)
      x[m * len + i] = d->images[(size_t)img * len + i] / 255.0f;
    mag[m] = (float)m;
    seeds[m] = seed;
  }
  dam_augment *aug = NULL;
  dam_shape s = dam_shape4(LEVELS, c, d->height, d->width),
            ms = dam_shape4(LEVELS, 0, 0, 0);
  dam_tensor *tx = dam_tensor_new(ex, &s, false);
  dam_tensor *tm = tx ? dam_tensor_new(ex, &ms, false) : NULL;
  dam_tensor *ts = tm ? dam_uint_tensor(ex, seeds, LEVELS) : NULL;
  int err = ts ? dam_augment_create(desc, NULL, &aug) : DAM_ENOMEM;
  if (!err && !(err = dam_tensor_upload(ex, tx, x)) &&
      !(err = dam_tensor_upload(ex, tm, mag))) {
    dam_augment_group g = {aug, 0, LEVELS};
    dam_tensor *y = dam_augment_stage(ex, &g, 1, tx, tm, ts, fill);
    err = y ? dam_tensor_download(ex, y, out) : DAM_EPLUGIN;
  }
  int end = dam_exec_end_step(ex);
  dam_augment_destroy(aug);
  free(x);
  return err ? err : end;
}

/* Paste a [C, H, W] float image at cell (row, col) of the grid. */
static void paste(uint8_t *grid, uint32_t grid_w, const float *img,
                  const dam_dataset *d, uint32_t row, uint32_t col,
                  uint32_t scale) {
  uint32_t c = d->channels, h = d->height, w = d->width;
  uint32_t x0 = GAP + col * (w * scale + GAP), y0 = GAP + row * (h * scale + GAP);
  for (uint32_t y = 0; y < h * scale; y++)
    for (uint32_t x = 0; x < w * scale; x++)
      for (uint32_t k = 0; k < c; k++) {
        float v = img[(k * h + y / scale) * w + x / scale];
        v = fminf(1.0f, fmaxf(0.0f, v));
        grid[((size_t)(y0 + y) * grid_w + x0 + x) * c + k] =
            (uint8_t)lrintf(v * 255.0f);
      }
}

static int preview(dam_exec *ex, const preview_opts *o,
                   const dam_augment_desc *const *rows, uint32_t n_rows,
                   const dam_dataset *d) {
  uint32_t c = d->channels, len = c * d->height * d->width;
  uint32_t gw = GAP + LEVELS * (d->width * o->scale + GAP);
  uint32_t gh = GAP + n_rows * (d->height * o->scale + GAP);
  uint8_t *grid = malloc((size_t)gw * gh * c);
  float *cells = malloc((size_t)LEVELS * len * sizeof *cells);
  int err = grid && cells ? 0 : dam_fail(DAM_ENOMEM, "out of memory");
  if (grid)
    memset(grid, 128, (size_t)gw * gh * c);
  for (uint32_t r = 0; r < n_rows && !err; r++) {
    err = transform_row(ex, rows[r], d, r % o->images, 0x9e3779b9u * (r + 1),
                        o->fill, cells);
    for (uint32_t m = 0; m < LEVELS && !err; m++)
      paste(grid, gw, cells + (size_t)m * len, d, r, m, o->scale);
    if (!err)
      printf("row %2u: %-12s %s\n", r + 1, rows[r]->hdr.name,
             rows[r]->hdr.summary ? rows[r]->hdr.summary : "");
  }
  if (!err)
    err = dam_png_write(o->out, grid, gw, gh, c);
  if (!err)
    printf("wrote %s (%ux%u: %u transforms x magnitudes 0..8)\n", o->out, gw,
           gh, n_rows);
  free(grid);
  free(cells);
  return err;
}

/* Parse the options; 0, or DAM_EXIT_USAGE (+1 for --help: exit 0). */
static int parse(int argc, char **argv, preview_opts *o, bool *asked) {
  static const struct option longs[] = {
      {"preview", no_argument, NULL, 'P'}, {"out", required_argument, NULL, 'o'},
      {"data", required_argument, NULL, 'D'},
      {"images", required_argument, NULL, 'n'},
      {"scale", required_argument, NULL, 's'},
      {"fill", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int ch;
  char *end;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
    long v = 0;
    if (ch == 'n' || ch == 's') {
      v = strtol(optarg, &end, 10);
      if (*end || v < 1 || v > (ch == 'n' ? 64 : 16)) {
        fprintf(stderr, "diffautoml: augment: bad --%s '%s'\n",
                ch == 'n' ? "images" : "scale", optarg);
        return DAM_EXIT_USAGE;
      }
    }
    switch (ch) {
    case 'P': *asked = true; break;
    case 'o': o->out = optarg; break;
    case 'D': o->data = optarg; break;
    case 'n': o->images = (uint32_t)v; break;
    case 's': o->scale = (uint32_t)v; break;
    case 'f':
      o->fill = strtof(optarg, &end);
      if (*end || !(o->fill >= 0 && o->fill <= 1)) {
        fprintf(stderr, "diffautoml: augment: --fill must be in [0, 1]\n");
        return DAM_EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return DAM_EXIT_USAGE + 1;
    default: usage(stderr); return DAM_EXIT_USAGE;
    }
  }
  if (!*asked) {
    usage(stderr);
    return DAM_EXIT_USAGE;
  }
  return 0;
}

int dam_cmd_augment(const dam_cli_opts *opts, int argc, char **argv) {
  preview_opts o = {"augment_preview.png", NULL, 4, 3, 0.0f};
  bool asked = false;
  int rc = parse(argc, argv, &o, &asked);
  if (rc)
    return rc == DAM_EXIT_USAGE + 1 ? DAM_EXIT_OK : rc;
  dam_registry *reg = dam_registry_new();
  const dam_augment_desc **rows = NULL;
  uint32_t n_rows = 0;
  dam_dataset d = {0};
  dam_device *dev = NULL;
  dam_exec *ex = NULL;
  int err = reg ? dam_registry_discover(reg, opts->plugin_path) : DAM_ENOMEM;
  if (err >= 0)
    err = pick(reg, argc - optind, argv + optind, &rows, &n_rows);
  if (!err)
    err = dam_fashion_mnist_load(o.data, 0, &d);
  if (!err && d.n < o.images)
    o.images = d.n;
  rc = err ? DAM_EXIT_USAGE : 0;
  if (!err && (dam_device_open(dam_device_spec(opts->device, NULL), &dev) ||
               dam_exec_create(dev, &ex)))
    err = DAM_EVULKAN;
  if (!err)
    err = preview(ex, &o, rows, n_rows, &d);
  if (err) {
    fprintf(stderr, "diffautoml: %s\n", dam_last_error());
    if (!rc)
      rc = DAM_EXIT_RUNTIME;
  }
  dam_exec_destroy(ex);
  dam_device_close(dev);
  dam_dataset_free(&d);
  free(rows);
  dam_registry_free(reg);
  return rc;
}
