/*
 * Fully connected layer kernels: shape checks and the dispatch of one
 * barrier-free, register-tiled shader per direction.  The DARTS classifier
 * is small (N 64, I 256, O 10), so one variant serves every device.
 */
#include "linear.h"
#include "kernel_util.h"

#include <stdio.h>

#include "linear.spv.h"
#include "linear_grad_input.spv.h"
#include "linear_grad_weight.spv.h"

DAM_SHADER(linear, 4, 0x8, 16);
DAM_SHADER(linear_grad_input, 3, 0x4, 12);
DAM_SHADER(linear_grad_weight, 4, 0xc, 16);

/* Tile sizes of the shaders: TN x TO in linear.comp; the gradient shaders
 * give each workgroup GRAD_TILE_ROWS rows by 64 * GRAD_TILE_COLS columns
 * (TN or TO, and TC). */
#define FWD_TILE_N 8
#define FWD_TILE_O 8
#define GRAD_TILE_ROWS 8
#define GRAD_TILE_COLS 4
#define WORKGROUP 64

typedef struct dims {
  uint32_t n, i, o;
} dims;

typedef struct shape_text {
  char s[64];
} shape_text;

static shape_text shape_of(const dam_tensor *t) {
  shape_text r;
  int at = snprintf(r.s, sizeof r.s, "[");
  for (uint32_t d = 0; d < t->shape.ndim && at < (int)sizeof r.s; d++)
    at += snprintf(r.s + at, sizeof r.s - at, d ? ",%u" : "%u",
                   t->shape.dim[d]);
  if (at < (int)sizeof r.s)
    snprintf(r.s + at, sizeof r.s - at, "]");
  return r;
}

/* NULL and layout checks of t[0..n), then the 32-bit limit of each. */
static int check_tensors(const char *op, const dam_tensor *const *t,
                         uint32_t n) {
  int err = dam__k_check(op, t, n, 0);
  for (uint32_t k = 1; k < n && !err; k++)
    err = dam__k_check(op, t + k, 1, 0);
  return err;
}

/* O and I from the weights, N and the check of a [N, I] activation x
 * (trailing dims flattened) against them. */
static int layer_dims(const char *op, const dam_tensor *x,
                      const dam_tensor *w, dims *d) {
  if (w->shape.ndim != 2)
    return dam_fail(DAM_ESHAPE, "%s: weights %s are not 2-D [O, I]", op,
                    shape_of(w).s);
  d->o = w->shape.dim[0];
  d->i = w->shape.dim[1];
  d->n = x->shape.dim[0];
  if (x->shape.ndim < 2 || x->numel != (uint64_t)d->n * d->i)
    return dam_fail(DAM_ESHAPE, "%s: input %s does not hold %u features "
                    "per sample for weights %s", op, shape_of(x).s, d->i,
                    shape_of(w).s);
  return DAM_OK;
}

/* y must be 2-D [n, o]. */
static int check_out(const char *op, const char *what, const dam_tensor *y,
                     const dims *d) {
  if (y->shape.ndim != 2 || y->shape.dim[0] != d->n ||
      y->shape.dim[1] != d->o)
    return dam_fail(DAM_ESHAPE, "%s: %s %s, expected [%u,%u]", op, what,
                    shape_of(y).s, d->n, d->o);
  return DAM_OK;
}

static int check_bias(const char *op, const char *what, const dam_tensor *b,
                      const dims *d) {
  int err = check_tensors(op, &b, 1);
  if (!err && b->numel != d->o)
    err = dam_fail(DAM_ESHAPE, "%s: %s %s, expected %u elements", op, what,
                   shape_of(b).s, d->o);
  return err;
}

static uint32_t tiles(uint32_t n, uint32_t tile) {
  return (n + tile - 1) / tile;
}

/* Invocations of a gradient shader whose output has `rows` rows of
 * `cols` columns. */
static uint64_t grad_invocations(uint32_t rows, uint32_t cols) {
  return (uint64_t)tiles(rows, GRAD_TILE_ROWS) *
         tiles(cols, WORKGROUP * GRAD_TILE_COLS) * WORKGROUP;
}

int dam_k_linear(dam_exec *ex, const dam_tensor *x, const dam_tensor *w,
                 const dam_tensor *b, dam_tensor *y) {
  const dam_tensor *t[] = {x, w, b ? b : w, y};
  dims d;
  int err = check_tensors("linear", (const dam_tensor *[]){x, w, y}, 3);
  if (!err)
    err = layer_dims("linear", x, w, &d);
  if (!err)
    err = check_out("linear", "output", y, &d);
  if (!err && b)
    err = check_bias("linear", "bias", b, &d);
  if (err)
    return err;
  struct { uint32_t n, i, o, has_b; } push = {d.n, d.i, d.o, b != NULL};
  return dam__k_run(ex, &shader_linear, t, &push,
                    (uint64_t)tiles(d.n, FWD_TILE_N) *
                        tiles(d.o, FWD_TILE_O));
}

int dam_k_linear_grad_input(dam_exec *ex, const dam_tensor *gy,
                            const dam_tensor *w, dam_tensor *gx) {
  const dam_tensor *t[] = {gy, w, gx};
  dims d;
  int err = check_tensors("linear_grad_input", t, 3);
  if (!err)
    err = layer_dims("linear_grad_input", gx, w, &d);
  if (!err)
    err = check_out("linear_grad_input", "output gradient", gy, &d);
  if (err)
    return err;
  struct { uint32_t n, i, o; } push = {d.n, d.i, d.o};
  return dam__k_run(ex, &shader_linear_grad_input, t, &push,
                    grad_invocations(d.n, d.i));
}

int dam_k_linear_grad_weight(dam_exec *ex, const dam_tensor *x,
                             const dam_tensor *gy, dam_tensor *gw,
                             dam_tensor *gb) {
  const dam_tensor *t[] = {x, gy, gw, gb ? gb : gw};
  dims d;
  int err = check_tensors("linear_grad_weight", t, 3);
  if (!err)
    err = layer_dims("linear_grad_weight", x, gw, &d);
  if (!err)
    err = check_out("linear_grad_weight", "output gradient", gy, &d);
  if (!err && gb)
    err = check_bias("linear_grad_weight", "bias gradient", gb, &d);
  if (err)
    return err;
  struct { uint32_t n, i, o, has_b; } push = {d.n, d.i, d.o, gb != NULL};
  return dam__k_run(ex, &shader_linear_grad_weight, t, &push,
                    grad_invocations(d.o, d.i));
}
