/* Convolution kernels (forward, gradient to the input, gradient to the
 * weights) against a plain C reference in double, in every variant, over
 * odd sizes, strides, dilations, groups and batches 1 to 7; the
 * reference's gradients against finite differences; bad shapes. */
#include "harness.h"
#include "conv.h"
#include "error.h"
#include "kernel_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_case {
  uint32_t n, c, h, w, k, kh, kw;
  dam_conv2d_geom g;
} conv_case;

#define GEOM(...) {__VA_ARGS__}

static const conv_case cases[] = {
    {7, 16, 9, 9, 24, 1, 1, GEOM(.groups = 1)},                              /* 1x1 */
    {1, 5, 11, 13, 7, 3, 3, GEOM(.pad = {1, 1})},                  /* odd */
    {7, 6, 9, 10, 10, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1})},
    {2, 4, 12, 11, 9, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2})},
    {7, 12, 13, 9, 12, 3, 3, GEOM(.pad = {1, 1}, .groups = 12)},   /* dw */
    {1, 9, 15, 16, 9, 5, 5,
     GEOM(.stride = {2, 2}, .pad = {4, 4}, .dilation = {2, 2}, .groups = 9)},
    {3, 6, 10, 9, 9, 3, 3,
     GEOM(.stride = {2, 2}, .pad = {1, 2}, .dilation = {2, 1}, .groups = 3)},
    {2, 4, 7, 8, 8, 3, 3, GEOM(.pad = {1, 1}, .groups = 4)}, /* multiplier */
    {2, 3, 12, 12, 20, 3, 3, GEOM(.pad = {1, 1})},           /* stem-like */
    {7, 16, 16, 16, 16, 3, 3, GEOM(.pad = {1, 1})},
    {1, 8, 9, 9, 8, 1, 3, GEOM(.stride = {1, 2}, .pad = {0, 1})},
    {2, 8, 6, 7, 8, 5, 5,
     GEOM(.stride = {3, 2}, .pad = {2, 2}, .groups = 8)},
    /* depthwise at width stride 1 (the sliding paths): sep_conv 5x5,
     * dil_conv 3x3, a height stride, a kernel wider than they take */
    {7, 5, 11, 19, 5, 5, 5, GEOM(.pad = {2, 2}, .groups = 5)},
    {2, 6, 9, 13, 6, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2}, .groups = 6)},
    {3, 4, 10, 9, 4, 3, 3, GEOM(.stride = {2, 1}, .pad = {1, 0}, .groups = 4)},
    {1, 3, 12, 17, 3, 7, 7, GEOM(.pad = {3, 3}, .groups = 3)},
    /* sep_conv 5x5 on rows of 7 (TW 8) and of two 4-pixel classes (TW 4) */
    {2, 4, 7, 7, 4, 5, 5, GEOM(.pad = {2, 2}, .groups = 4)},
    {1, 2, 5, 7, 2, 5, 5, GEOM(.pad = {2, 4}, .dilation = {1, 2}, .groups = 2)},
    /* depthwise at stride 1 over flat vec4s (the _flat paths): rows of
     * 4k + 1, 4k + 2, 4k + 3 and 4k pixels, rows narrower than the kernel
     * and of 1 pixel, several chunks per plane, 1, 3, 64 channels, batch 1
     * and 7; a 7x7 plane (49 pixels: the _odd variants) */
    {7, 3, 4, 5, 3, 3, 3, GEOM(.pad = {1, 1}, .groups = 3)},
    {1, 64, 2, 6, 64, 3, 3, GEOM(.pad = {1, 1}, .groups = 64)},
    {2, 1, 4, 7, 1, 5, 5, GEOM(.pad = {2, 2}, .groups = 1)},
    {7, 1, 8, 8, 1, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2}, .groups = 1)},
    {3, 3, 4, 3, 3, 5, 5, GEOM(.pad = {2, 2}, .groups = 3)},
    {2, 5, 12, 1, 5, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2}, .groups = 5)},
    {1, 4, 6, 10, 4, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2}, .groups = 4)},
    {2, 6, 14, 14, 6, 5, 5, GEOM(.pad = {2, 2}, .groups = 6)},
    {3, 16, 28, 28, 16, 3, 3, GEOM(.pad = {1, 1}, .groups = 16)},
    {1, 3, 7, 7, 3, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2}, .groups = 3)},
    /* 5x5 dilated by 2 (dil_conv_5x5): rows of 4k, 4k + 1 and 4k + 3,
     * narrower than the dilated kernel, several chunks */
    {2, 3, 12, 12, 3, 5, 5, GEOM(.pad = {4, 4}, .dilation = {2, 2}, .groups = 3)},
    {1, 4, 4, 5, 4, 5, 5, GEOM(.pad = {4, 4}, .dilation = {2, 2}, .groups = 4)},
    {3, 2, 4, 3, 2, 5, 5, GEOM(.pad = {4, 4}, .dilation = {2, 2}, .groups = 2)},
    {1, 16, 28, 28, 16, 5, 5,
     GEOM(.pad = {4, 4}, .dilation = {2, 2}, .groups = 16)},
    /* the _odd variants: planes of 4k + 3 pixels in a tensor of an odd
     * size, of 4k + 2, and of 289 (several chunks) starting at each float
     * of a vec4; 5x5 dilated by 2 on 7x7 */
    {1, 3, 5, 3, 3, 3, 3, GEOM(.pad = {1, 1}, .groups = 3)},
    {2, 3, 5, 6, 3, 5, 5, GEOM(.pad = {2, 2}, .groups = 3)},
    {2, 3, 17, 17, 3, 3, 3,
     GEOM(.pad = {2, 2}, .dilation = {2, 2}, .groups = 3)},
    {1, 5, 7, 7, 5, 5, 5, GEOM(.pad = {4, 4}, .dilation = {2, 2}, .groups = 5)},
    /* strided depthwise as the _flat stride-1 pass storing every second
     * pixel (_keep2), or then keeping every stride-th (CPU devices):
     * sep_conv 3x3 and 5x5 and dil_conv 3x3 at stride 2 on even and odd
     * sizes, stride 3, planes of 4k + 2 and 4k + 1 pixels */
    {3, 5, 8, 8, 5, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1}, .groups = 5)},
    {2, 4, 12, 11, 4, 5, 5, GEOM(.stride = {2, 2}, .pad = {2, 2}, .groups = 4)},
    {2, 6, 7, 12, 6, 3, 3,
     GEOM(.stride = {2, 2}, .pad = {2, 2}, .dilation = {2, 2}, .groups = 6)},
    {2, 3, 9, 8, 3, 3, 3, GEOM(.stride = {3, 3}, .pad = {1, 1}, .groups = 3)},
    {1, 4, 10, 9, 4, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1}, .groups = 4)},
    {2, 4, 7, 7, 4, 5, 5, GEOM(.stride = {2, 2}, .pad = {2, 2}, .groups = 4)},
    /* the dilated kernels on planes of 4k + 1 and 4k + 3 pixels */
    {2, 3, 9, 9, 3, 3, 3,
     GEOM(.stride = {2, 2}, .pad = {2, 2}, .dilation = {2, 2}, .groups = 3)},
    {1, 5, 11, 7, 5, 5, 5,
     GEOM(.stride = {2, 2}, .pad = {4, 4}, .dilation = {2, 2}, .groups = 5)},
    /* a channel multiplier (one input channel per group) on the depthwise
     * _flat shaders: a stem on one-channel images, on a 7x7 plane, two
     * groups of three outputs at 5x5, dilated by 2 on 9x9 */
    {3, 1, 12, 12, 24, 3, 3, GEOM(.pad = {1, 1})},
    {2, 1, 7, 7, 6, 3, 3, GEOM(.pad = {1, 1})},
    {2, 2, 8, 8, 6, 5, 5, GEOM(.pad = {2, 2}, .groups = 2)},
    {1, 1, 9, 9, 4, 3, 3, GEOM(.pad = {2, 2}, .dilation = {2, 2})},
    {2, 1, 10, 10, 8, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1})},
    /* and at stride 2 (conv2d_fwd_c1s2 on CPU devices): the quick start's
     * stem, odd sizes with two groups of two outputs, no padding, rows
     * of more than one tile of outputs */
    {3, 1, 28, 28, 24, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1})},
    {2, 2, 9, 11, 4, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1}, .groups = 2)},
    {2, 1, 9, 9, 4, 3, 3, GEOM(.stride = {2, 2})},
    {1, 1, 5, 40, 3, 3, 3, GEOM(.stride = {2, 2}, .pad = {1, 1})},
    /* the packed forward's edges: K past a 16-row tile, 1 to 3 channels
     * per group (one partly filled vec4), 7x7 images (49 pixels, tiles
     * across images), 4k + 1 and 4k + 2 channels */
    {3, 64, 7, 7, 40, 1, 1, GEOM(.groups = 1)},
    {5, 32, 7, 7, 17, 3, 3, GEOM(.pad = {1, 1})},
    {2, 6, 7, 5, 9, 3, 3, GEOM(.pad = {1, 0}, .groups = 3)},
    {3, 3, 9, 7, 6, 1, 1, GEOM(.groups = 3)},
    {2, 9, 5, 9, 33, 2, 3, GEOM(.stride = {1, 2}, .pad = {1, 1})},
    {1, 10, 11, 6, 3, 3, 3, GEOM(.pad = {2, 1}, .dilation = {2, 1})},
    /* 1x1 on planes of 4k pixels, read in place: a partial last pixel
     * tile, 4k + 2 and 3 channels, K past a tile, groups */
    {3, 6, 4, 5, 19, 1, 1, GEOM(.groups = 1)},
    {2, 3, 4, 4, 5, 1, 1, GEOM(.groups = 1)},
    {2, 8, 6, 6, 6, 1, 1, GEOM(.groups = 2)},
    {2, 32, 8, 8, 32, 1, 1, GEOM(.groups = 1)},
    /* and on planes of 8k pixels, stored in pairs of vec4s: a last pixel
     * tile of one pair, K past a tile, groups */
    {3, 6, 4, 6, 19, 1, 1, GEOM(.groups = 1)},
    {2, 8, 4, 10, 6, 1, 1, GEOM(.groups = 2)},
    /* 1x1 on planes of 4k + 1 pixels and 4k channels, read in place at a
     * shift: 25, 9, 21 and 1 pixels (tiles across several images), groups,
     * K past a tile; 4k + 2 channels still packed */
    {2, 8, 5, 5, 20, 1, 1, GEOM(.groups = 2)},
    {5, 4, 3, 3, 7, 1, 1, GEOM(.groups = 1)},
    {1, 8, 3, 7, 16, 1, 1, GEOM(.groups = 1)},
    {3, 12, 1, 1, 5, 1, 1, GEOM(.groups = 1)},
    {2, 6, 5, 5, 6, 1, 1, GEOM(.groups = 1)},
    /* its transposed pass (the gradient to the input) on 8-output tiles */
    {2, 8, 7, 7, 12, 1, 1, GEOM(.groups = 1)},
    /* rows of 4k pixels and 4k + 2 channels per group, packed a row at a
     * time from vec4s; padding per axis */
    {2, 12, 5, 8, 10, 3, 3, GEOM(.pad = {1, 2}, .groups = 2)},
    /* planes of 4k + 1 pixels and 4k channels per group, packed from
     * shifted vec4s: 25, 21 and 1 pixels, padding per axis, stride,
     * groups */
    {3, 8, 5, 5, 12, 3, 3, GEOM(.stride = {2, 1}, .pad = {2, 1}, .groups = 2)},
    {2, 4, 3, 7, 5, 3, 3, GEOM(.pad = {0, 2})},
    {2, 8, 1, 1, 4, 3, 3, GEOM(.pad = {1, 1}, .groups = 2)},
    /* and of 4m pixels in rows of 4k + 2 */
    {2, 8, 6, 6, 10, 3, 3, GEOM(.pad = {2, 1}, .groups = 2)},
};
#define N_CASES (sizeof cases / sizeof *cases)

static uint32_t geom1(uint32_t v) { return v ? v : 1; }

static dam_shape x_shape(const conv_case *cc) {
  return dam_shape4(cc->n, cc->c, cc->h, cc->w);
}

static dam_shape w_shape(const conv_case *cc) {
  return dam_shape4(cc->k, cc->c / geom1(cc->g.groups), cc->kh, cc->kw);
}

static dam_shape y_shape(const conv_case *cc) {
  dam_shape xs = x_shape(cc), ws = w_shape(cc), ys;
  assert_int_equal(dam_conv2d_out_shape(&xs, &ws, &cc->g, &ys), 0);
  return ys;
}

/* ---- reference ----------------------------------------------------------
 * Every product of the forward sum is one (y, x, w) index triple; the
 * three passes are the three ways of contracting over them. */
/* FWD_RELU, GRAD_INPUT_RELU (into x's gradient), GRAD_WEIGHT_RELU: those
 * of a conv whose input was relu(x); GRAD_WEIGHT_GROUPS: GRAD_WEIGHT into
 * a tensor per group; GRAD_INPUT_NEW, GRAD_INPUT_RELU_NEW: into a new
 * gradient, its zeros not yet written (dam_tensor_grad). */
enum pass {
  FWD, GRAD_INPUT, GRAD_WEIGHT, FWD_RELU, GRAD_INPUT_RELU, GRAD_WEIGHT_RELU,
  GRAD_WEIGHT_GROUPS, GRAD_INPUT_NEW, GRAD_INPUT_RELU_NEW
};

static void reference(const conv_case *cc, enum pass ps, const double *a,
                      const double *b, double *out) {
  uint32_t groups = geom1(cc->g.groups), cg = cc->c / groups,
           kg = cc->k / groups;
  uint32_t sh = geom1(cc->g.stride[0]), sw = geom1(cc->g.stride[1]);
  uint32_t dh = geom1(cc->g.dilation[0]), dw = geom1(cc->g.dilation[1]);
  dam_shape ys = y_shape(cc);
  uint32_t oh_n = ys.dim[2], ow_n = ys.dim[3];
  for (uint32_t n = 0; n < cc->n; n++)
    for (uint32_t k = 0; k < cc->k; k++)
      for (uint32_t oh = 0; oh < oh_n; oh++)
        for (uint32_t ow = 0; ow < ow_n; ow++) {
          size_t yi = (((size_t)n * cc->k + k) * oh_n + oh) * ow_n + ow;
          for (uint32_t ci = 0; ci < cg; ci++)
            for (uint32_t r = 0; r < cc->kh; r++)
              for (uint32_t s = 0; s < cc->kw; s++) {
                long ih = (long)(oh * sh + r * dh) - (long)cc->g.pad[0];
                long iw = (long)(ow * sw + s * dw) - (long)cc->g.pad[1];
                if (ih < 0 || ih >= cc->h || iw < 0 || iw >= cc->w)
                  continue;
                uint32_t c = (k / kg) * cg + ci;
                size_t xi = (((size_t)n * cc->c + c) * cc->h + (size_t)ih) *
                                cc->w + (size_t)iw;
                size_t wi = (((size_t)k * cg + ci) * cc->kh + r) * cc->kw + s;
                switch (ps) { /* a, b: (x, w), (gy, w), (x, gy) */
                case FWD: /* a through relu for FWD_RELU */
                case FWD_RELU: out[yi] += a[xi] * b[wi]; break;
                case GRAD_INPUT:
                case GRAD_INPUT_RELU:
                case GRAD_INPUT_NEW:
                case GRAD_INPUT_RELU_NEW: out[xi] += a[yi] * b[wi]; break;
                case GRAD_WEIGHT: /* a through relu for GRAD_WEIGHT_RELU */
                case GRAD_WEIGHT_RELU:
                case GRAD_WEIGHT_GROUPS: out[wi] += a[xi] * b[yi]; break;
                }
              }
        }
}

static double *to_double(const float *v, size_t n) {
  double *d = malloc(n * sizeof *d);
  assert_non_null(d);
  for (size_t i = 0; i < n; i++)
    d[i] = v[i];
  return d;
}

/* ---- the device against the reference ---------------------------------- */

/* dam_k_conv2d_grad_weight_groups_acc into a tensor per group, each
 * holding its slice of prior first; their contents one after another. */
static float *run_grad_weight_groups(harness *h, const conv_case *cc,
                                     const dam_tensor *x,
                                     const dam_tensor *gy,
                                     const float *prior, int *err) {
  uint32_t groups = geom1(cc->g.groups);
  dam_shape gs = w_shape(cc);
  gs.dim[0] /= groups;
  size_t per = dam_shape_numel(&gs);
  dam_tensor **gw = malloc(groups * sizeof *gw);
  float *got = malloc(groups * per * sizeof *got);
  assert_true(gw && got);
  for (uint32_t i = 0; i < groups; i++)
    gw[i] = harness_tensor(h, gs, prior + i * per);
  *err = dam_k_conv2d_grad_weight_groups_acc(h->ex, x, gy, &cc->g, gw);
  for (uint32_t i = 0; i < groups && !*err; i++) {
    float *part = harness_read(h, gw[i]);
    memcpy(got + i * per, part, per * sizeof *part);
    free(part);
  }
  free(gw);
  return got;
}

/* Run pass `ps` of case `cc` on the device, with the output holding
 * random prior content for the accumulating passes, and compare. */
static void check_case(harness *h, const conv_case *cc, enum pass ps) {
  dam_shape xs = x_shape(cc), ws = w_shape(cc), ys = y_shape(cc);
  size_t nx = dam_shape_numel(&xs), nw = dam_shape_numel(&ws),
         ny = dam_shape_numel(&ys);
  float *x = harness_random(h, nx, -1, 1), *w = harness_random(h, nw, -1, 1);
  float *gy = harness_random(h, ny, -1, 1);
  dam_shape os = ps == FWD || ps == FWD_RELU ? ys
                : ps == GRAD_INPUT || ps == GRAD_INPUT_RELU ||
                        ps == GRAD_INPUT_NEW || ps == GRAD_INPUT_RELU_NEW
                    ? xs
                    : ws;
  size_t no = dam_shape_numel(&os);
  float *prior = harness_random(h, no, -1, 1);
  double *dx = to_double(x, nx), *dw = to_double(w, nw),
         *dgy = to_double(gy, ny), *want = calloc(no, sizeof *want);
  assert_non_null(want);
  dam_tensor *tx = harness_tensor(h, xs, x), *tw = harness_tensor(h, ws, w);
  dam_tensor *tgy = harness_tensor(h, ys, gy);
  dam_tensor *out = harness_tensor(h, os, prior);
  if (ps == GRAD_INPUT_NEW || ps == GRAD_INPUT_RELU_NEW) {
    /* no prior content: zeros, pending */
    memset(prior, 0, no * sizeof *prior);
    out = dam_tensor_grad(h->ex, dam_tensor_new(h->ex, &os, false));
    assert_true(out && out->zeros_pending);
  }
  int err = 0;
  switch (ps) {
  case FWD:
    reference(cc, FWD, dx, dw, want);
    err = dam_k_conv2d(h->ex, tx, tw, &cc->g, out);
    break;
  case GRAD_INPUT:
  case GRAD_INPUT_NEW:
    reference(cc, GRAD_INPUT, dgy, dw, want);
    err = dam_k_conv2d_grad_input_acc(h->ex, tgy, tw, &cc->g, out);
    break;
  case GRAD_WEIGHT:
    reference(cc, GRAD_WEIGHT, dx, dgy, want);
    err = dam_k_conv2d_grad_weight_acc(h->ex, tx, tgy, &cc->g, out);
    break;
  case GRAD_WEIGHT_GROUPS: /* on the device below */
    reference(cc, GRAD_WEIGHT, dx, dgy, want);
    break;
  case GRAD_INPUT_RELU: /* the relu's mask on top of GRAD_INPUT */
  case GRAD_INPUT_RELU_NEW:
    reference(cc, GRAD_INPUT, dgy, dw, want);
    for (size_t i = 0; i < nx; i++)
      want[i] = x[i] > 0 ? want[i] : 0;
    err = dam_k_conv2d_grad_input_relu_acc(h->ex, tgy, tw, &cc->g, tx, out);
    break;
  case FWD_RELU:
  case GRAD_WEIGHT_RELU:
    for (size_t i = 0; i < nx; i++)
      dx[i] = dx[i] > 0 ? dx[i] : 0;
    if (ps == FWD_RELU) {
      reference(cc, FWD, dx, dw, want);
      err = dam_k_conv2d_relu(h->ex, tx, tw, &cc->g, out);
    } else {
      reference(cc, GRAD_WEIGHT, dx, dgy, want);
      err = dam_k_conv2d_grad_weight_relu_acc(h->ex, tx, tgy, &cc->g, out);
    }
    break;
  }
  if (err)
    fail_msg("case %zu: %s", (size_t)(cc - cases), dam_last_error());
  if (ps != FWD && ps != FWD_RELU)
    for (size_t i = 0; i < no; i++)
      want[i] += prior[i];
  float *got = ps == GRAD_WEIGHT_GROUPS
                   ? run_grad_weight_groups(h, cc, tx, tgy, prior, &err)
                   : harness_read(h, out);
  if (err)
    fail_msg("case %zu: %s", (size_t)(cc - cases), dam_last_error());
  double e = harness_max_rel_err(got, want, no);
  if (e > 1e-4)
    fail_msg("case %zu (N%u C%u %ux%u K%u %ux%u), pass %d: max relative "
             "error %g", (size_t)(cc - cases), cc->n, cc->c, cc->h, cc->w,
             cc->k, cc->kh, cc->kw, (int)ps, e);
  free(got);
  free(x), free(w), free(gy), free(prior);
  free(dx), free(dw), free(dgy), free(want);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

static void all_cases(void **state, enum pass ps, dam__conv2d_variant v) {
  dam__conv2d_force(v, 0);
  for (size_t i = 0; i < N_CASES; i++)
    check_case(*state, &cases[i], ps);
  dam__conv2d_force(DAM__CONV2D_AUTO, 0);
}

static void forward_auto(void **s) { all_cases(s, FWD, DAM__CONV2D_AUTO); }
static void forward_register(void **s) {
  all_cases(s, FWD, DAM__CONV2D_REGISTER);
}
static void forward_shared(void **s) { all_cases(s, FWD, DAM__CONV2D_SHARED); }
static void forward_packed(void **s) { all_cases(s, FWD, DAM__CONV2D_PACKED); }
static void grad_input_auto(void **s) {
  all_cases(s, GRAD_INPUT, DAM__CONV2D_AUTO);
}
static void grad_input_register(void **s) {
  all_cases(s, GRAD_INPUT, DAM__CONV2D_REGISTER);
}
static void grad_input_shared(void **s) {
  all_cases(s, GRAD_INPUT, DAM__CONV2D_SHARED);
}
static void grad_input_packed(void **s) {
  all_cases(s, GRAD_INPUT, DAM__CONV2D_PACKED);
}
static void grad_weight_auto(void **s) {
  all_cases(s, GRAD_WEIGHT, DAM__CONV2D_AUTO);
}
static void grad_weight_register(void **s) {
  all_cases(s, GRAD_WEIGHT, DAM__CONV2D_REGISTER);
}
static void grad_weight_shared(void **s) {
  all_cases(s, GRAD_WEIGHT, DAM__CONV2D_SHARED);
}
/* Through relu, in each variant's shaders (and packing). */
static void forward_relu(void **s) {
  all_cases(s, FWD_RELU, DAM__CONV2D_AUTO);
  all_cases(s, FWD_RELU, DAM__CONV2D_REGISTER);
  all_cases(s, FWD_RELU, DAM__CONV2D_SHARED);
  all_cases(s, FWD_RELU, DAM__CONV2D_PACKED);
}
/* Folded into the depthwise and in-place 1x1 gradients to the input;
 * refused elsewhere. */
static void grad_input_relu(void **state) {
  size_t folded = 0;
  for (size_t i = 0; i < N_CASES; i++) {
    const conv_case *cc = &cases[i];
    dam_shape ws = w_shape(cc), xs = x_shape(cc), ys = y_shape(cc);
    harness *h = *state;
    if (dam_k_conv2d_folds_relu(h->ex, &xs, &ws, &cc->g)) {
      check_case(*state, cc, GRAD_INPUT_RELU);
      check_case(*state, cc, GRAD_INPUT_RELU_NEW);
      folded++;
      continue;
    }
    dam_tensor *tx = harness_tensor(h, xs, NULL);
    assert_int_equal(dam_k_conv2d_grad_input_relu_acc(
                         h->ex, harness_tensor(h, ys, NULL),
                         harness_tensor(h, ws, NULL), &cc->g, tx,
                         harness_tensor(h, xs, NULL)),
                     DAM_EINVAL);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
  assert_true(folded > 0 && folded < N_CASES);
}
static void grad_input_new(void **s) {
  all_cases(s, GRAD_INPUT_NEW, DAM__CONV2D_AUTO);
}
static void grad_weight_groups(void **s) {
  all_cases(s, GRAD_WEIGHT_GROUPS, DAM__CONV2D_AUTO);
  all_cases(s, GRAD_WEIGHT_GROUPS, DAM__CONV2D_SHARED);
}
static void grad_weight_relu(void **s) {
  all_cases(s, GRAD_WEIGHT_RELU, DAM__CONV2D_AUTO);
  all_cases(s, GRAD_WEIGHT_RELU, DAM__CONV2D_REGISTER);
  all_cases(s, GRAD_WEIGHT_RELU, DAM__CONV2D_SHARED);
}

/* Both gradients in one call (dam_k_conv2d_backward_acc: a strided
 * depthwise conv spreads gy once for the two) against the reference, and
 * through the relu where it folds. */
static void backward_both(void **state) {
  harness *h = *state;
  for (size_t i = 0; i < N_CASES; i++) {
    const conv_case *cc = &cases[i];
    dam_shape xs = x_shape(cc), ws = w_shape(cc), ys = y_shape(cc);
    size_t nx = dam_shape_numel(&xs), nw = dam_shape_numel(&ws),
           ny = dam_shape_numel(&ys);
    int relus = dam_k_conv2d_folds_relu(h->ex, &xs, &ws, &cc->g) ? 2 : 1;
    for (int relu = 0; relu < relus; relu++) {
      float *x = harness_random(h, nx, -1, 1);
      float *w = harness_random(h, nw, -1, 1);
      float *gy = harness_random(h, ny, -1, 1);
      float *px = harness_random(h, nx, -1, 1); /* prior gradients */
      float *pw = harness_random(h, nw, -1, 1);
      double *dx = to_double(x, nx), *dw = to_double(w, nw),
             *dgy = to_double(gy, ny);
      double *want_x = calloc(nx, sizeof *want_x),
             *want_w = calloc(nw, sizeof *want_w);
      assert_true(want_x && want_w);
      for (size_t k = 0; relu && k < nx; k++)
        dx[k] = dx[k] > 0 ? dx[k] : 0;
      reference(cc, GRAD_INPUT, dgy, dw, want_x);
      reference(cc, GRAD_WEIGHT, dx, dgy, want_w);
      for (size_t k = 0; k < nx; k++)
        want_x[k] = (relu && x[k] <= 0 ? 0 : want_x[k]) + px[k];
      for (size_t k = 0; k < nw; k++)
        want_w[k] += pw[k];
      dam_tensor *gx = harness_tensor(h, xs, px);
      dam_tensor *gw = harness_tensor(h, ws, pw);
      if (dam_k_conv2d_backward_acc(h->ex, harness_tensor(h, xs, x), relu,
                                    harness_tensor(h, ws, w), &cc->g,
                                    harness_tensor(h, ys, gy), gx, gw))
        fail_msg("case %zu: %s", i, dam_last_error());
      float *got_x = harness_read(h, gx), *got_w = harness_read(h, gw);
      double ex = harness_max_rel_err(got_x, want_x, nx),
             ew = harness_max_rel_err(got_w, want_w, nw);
      if (ex > 1e-4 || ew > 1e-4)
        fail_msg("case %zu, relu %d: max relative error %g (gx), %g (gw)", i,
                 relu, ex, ew);
      free(got_x), free(got_w), free(x), free(w), free(gy), free(px);
      free(pw), free(dx), free(dw), free(dgy), free(want_x), free(want_w);
      assert_int_equal(dam_exec_end_step(h->ex), 0);
    }
  }
}

/* Whether every depthwise pass of cc takes a _flat shader: a size-keeping
 * 3x3 or 5x5 kernel, dilated by 1 or 2, at stride 1, or on CPU devices at
 * equal strides (their stride-1 twin). */
static bool takes_flat(const conv_case *cc, bool cpu) {
  uint32_t sh = geom1(cc->g.stride[0]), sw = geom1(cc->g.stride[1]);
  uint32_t dh = geom1(cc->g.dilation[0]), dw = geom1(cc->g.dilation[1]);
  bool kernel = cc->kh == cc->kw && (cc->kh == 3 || cc->kh == 5) &&
                dh == dw && dh <= 2 && cc->g.pad[0] == cc->g.pad[1] &&
                2 * cc->g.pad[0] == dh * (cc->kh - 1);
  return kernel && sh == sw && (sh == 1 || cpu);
}

/* A depthwise conv whose input is relu(y), y a batch norm's output not
 * yet made (dam_tensor.bn_of, bn_coef): the forward and both gradients
 * against the reference on relu(((x - a) - b) * c + d) with channel
 * coefficients (a, b, c, d).  y stays unmade where every pass takes a
 * _flat shader (their _bn variants) and is made elsewhere. */
static void through_unmade_batchnorm(void **state) {
  harness *h = *state;
  size_t unmade = 0;
  for (size_t i = 0; i < N_CASES; i++) {
    const conv_case *cc = &cases[i];
    dam_shape xs = x_shape(cc), ws = w_shape(cc), ys = y_shape(cc);
    if (!dam_k_conv2d_folds_relu(h->ex, &xs, &ws, &cc->g))
      continue;
    size_t nx = dam_shape_numel(&xs), nw = dam_shape_numel(&ws),
           ny = dam_shape_numel(&ys), plane = (size_t)cc->h * cc->w;
    float *x = harness_random(h, nx, -1, 1), *w = harness_random(h, nw, -1, 1);
    float *gy = harness_random(h, ny, -1, 1);
    float *px = harness_random(h, nx, -1, 1);
    float *pw = harness_random(h, nw, -1, 1);
    float *coef = harness_random(h, 4 * (size_t)cc->c, -0.5f, 0.5f);
    double *v = malloc(nx * sizeof *v), *dw = to_double(w, nw),
           *dgy = to_double(gy, ny), *want_y = calloc(ny, sizeof *want_y),
           *want_x = calloc(nx, sizeof *want_x),
           *want_w = calloc(nw, sizeof *want_w);
    assert_true(v && want_y && want_x && want_w);
    bool *on = malloc(nx * sizeof *on);
    assert_non_null(on);
    for (uint32_t c = 0; c < cc->c; c++)
      coef[4 * c + 2] += 1.25f; /* scales in [0.75, 1.75] */
    for (size_t k = 0; k < nx; k++) {
      const float *a = coef + 4 * ((k / plane) % cc->c);
      float bn = ((x[k] - a[0]) - a[1]) * a[2] + a[3];
      on[k] = bn > 0;
      v[k] = on[k] ? bn : 0;
    }
    reference(cc, FWD, v, dw, want_y);
    reference(cc, GRAD_INPUT, dgy, dw, want_x);
    reference(cc, GRAD_WEIGHT, v, dgy, want_w);
    for (size_t k = 0; k < nx; k++)
      want_x[k] = (on[k] ? want_x[k] : 0) + px[k];
    for (size_t k = 0; k < nw; k++)
      want_w[k] += pw[k];
    dam_tensor *y = dam_tensor_new(h->ex, &xs, false);
    assert_non_null(y);
    dam_tensor_release(h->ex, y);
    y->bn_of = harness_tensor(h, xs, x);
    y->bn_coef = harness_tensor(h, dam_shape4(4 * cc->c, 0, 0, 0), coef);
    dam_tensor *tw = harness_tensor(h, ws, w);
    dam_tensor *out = harness_tensor(h, ys, NULL);
    dam_tensor *gx = harness_tensor(h, xs, px), *gw = harness_tensor(h, ws, pw);
    if (dam_k_conv2d_relu(h->ex, y, tw, &cc->g, out) ||
        dam_k_conv2d_backward_acc(h->ex, y, true, tw, &cc->g,
                                  harness_tensor(h, ys, gy), gx, gw))
      fail_msg("case %zu: %s", i, dam_last_error());
    bool flat = takes_flat(cc, dam__k_cpu_device(h->ex));
    if (flat == (y->mem.block != NULL))
      fail_msg("case %zu: the batch norm's output was %s", i,
               flat ? "made" : "not made");
    unmade += flat;
    float *got_y = harness_read(h, out), *got_x = harness_read(h, gx);
    float *got_w = harness_read(h, gw);
    double ey = harness_max_rel_err(got_y, want_y, ny),
           ex = harness_max_rel_err(got_x, want_x, nx),
           ew = harness_max_rel_err(got_w, want_w, nw);
    if (ey > 1e-4 || ex > 1e-4 || ew > 1e-4)
      fail_msg("case %zu: max relative error %g (y), %g (gx), %g (gw)", i, ey,
               ex, ew);
    free(got_y), free(got_x), free(got_w), free(x), free(w), free(gy);
    free(px), free(pw), free(coef), free(v), free(dw), free(dgy);
    free(want_y), free(want_x), free(want_w), free(on);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
  assert_true(unmade > 0);
}

/* The weight-gradient sum split into 1 part, a few, and more parts than
 * output rows (clamped), in each variant. */
static void grad_weight_parts(void **state) {
  static const uint32_t parts[] = {1, 2, 5, 100000};
  static const dam__conv2d_variant variants[] = {
      DAM__CONV2D_AUTO, DAM__CONV2D_REGISTER, DAM__CONV2D_SHARED};
  const conv_case *dense = &cases[2], *dw = &cases[4];
  /* 1x1 (parts over images) on planes of 4k pixels with K past a tile,
   * and on 7x7 planes, read at a shift (6 outputs per group) and at
   * constant shifts (8) */
  const conv_case pointwise = {7, 12, 4, 5, 19, 1, 1, GEOM(.groups = 1)};
  const conv_case shifted = {5, 8, 7, 7, 12, 1, 1, GEOM(.groups = 2)};
  const conv_case odd = {5, 8, 7, 7, 16, 1, 1, GEOM(.groups = 2)};
  /* a stem at stride 2 (conv2d_grad_weight_c1s2): two groups of 12
   * outputs, one and a half tiles of channels */
  const conv_case stem = {3, 2, 9, 11, 24, 3, 3,
                          GEOM(.stride = {2, 2}, .pad = {1, 1}, .groups = 2)};
  for (size_t v = 0; v < 3; v++)
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
      dam__conv2d_force(variants[v], parts[i]);
      check_case(*state, dense, GRAD_WEIGHT);
      check_case(*state, dw, GRAD_WEIGHT);
      check_case(*state, &pointwise, GRAD_WEIGHT);
      check_case(*state, &shifted, GRAD_WEIGHT);
      check_case(*state, &pointwise, GRAD_WEIGHT_RELU);
      check_case(*state, &shifted, GRAD_WEIGHT_RELU);
      check_case(*state, &odd, GRAD_WEIGHT);
      check_case(*state, &odd, GRAD_WEIGHT_RELU);
      check_case(*state, &stem, GRAD_WEIGHT);
    }
  dam__conv2d_force(DAM__CONV2D_AUTO, 0);
}

/* ---- the reference itself ---------------------------------------------- */

/* Two cases small enough to check by hand: stride 2 with padding, and
 * dilation 2; x counts up from 1 and the weights are 1, 10, 100, 1000,
 * so each output's digits say which inputs it summed. */
static void reference_known_values(void **state) {
  harness *h = *state;
  static const double want_stride[9] = {1000,  3200, 400, 9050, 12076,
                                        1208, 130,  164, 16};
  static const double want_dilated[9] = {14131, 15242, 16353,
                                         19686, 20797, 21908,
                                         25241, 26352, 27463};
  const conv_case strided = {1, 1, 4, 4, 1, 2, 2,
                             GEOM(.stride = {2, 2}, .pad = {1, 1})};
  const conv_case dilated = {1, 1, 5, 5, 1, 2, 2, GEOM(.dilation = {2, 2})};
  const conv_case *cc[2] = {&strided, &dilated};
  const double *want[2] = {want_stride, want_dilated};
  float w[4] = {1, 10, 100, 1000}, x[25];
  double dw[4] = {1, 10, 100, 1000}, dx[25];
  for (int i = 0; i < 25; i++)
    x[i] = (float)(dx[i] = i + 1);
  for (int t = 0; t < 2; t++) {
    double y[9] = {0};
    dam_shape ys = y_shape(cc[t]);
    assert_int_equal(dam_shape_numel(&ys), 9);
    reference(cc[t], FWD, dx, dw, y);
    for (int i = 0; i < 9; i++)
      assert_true(y[i] == want[t][i]);
    dam_tensor *tx = harness_tensor(h, x_shape(cc[t]), x);
    dam_tensor *tw = harness_tensor(h, w_shape(cc[t]), w);
    dam_tensor *ty = harness_tensor(h, ys, NULL);
    assert_int_equal(dam_k_conv2d(h->ex, tx, tw, &cc[t]->g, ty), 0);
    float *got = harness_read(h, ty);
    for (int i = 0; i < 9; i++)
      assert_true(got[i] == (float)want[t][i]);
    free(got);
    assert_int_equal(dam_exec_end_step(h->ex), 0);
  }
}

/* With L = <conv(x, w), gy>, the reference's GRAD_INPUT and GRAD_WEIGHT
 * are dL/dx and dL/dw: central differences in double, every element. */
static void reference_gradients_match_finite_differences(void **state) {
  harness *h = *state;
  const conv_case *fd[] = {&cases[6], &cases[11], &cases[3]};
  for (size_t t = 0; t < sizeof fd / sizeof *fd; t++) {
    const conv_case *cc = fd[t];
    dam_shape xs = x_shape(cc), ws = w_shape(cc), ys = y_shape(cc);
    size_t nx = dam_shape_numel(&xs), nw = dam_shape_numel(&ws),
           ny = dam_shape_numel(&ys);
    float *fx = harness_random(h, nx, -1, 1), *fw = harness_random(h, nw, -1, 1);
    float *fgy = harness_random(h, ny, -1, 1);
    double *x = to_double(fx, nx), *w = to_double(fw, nw),
           *gy = to_double(fgy, ny);
    double *gx = calloc(nx, sizeof *gx), *gw = calloc(nw, sizeof *gw),
           *y = malloc(ny * sizeof *y);
    assert_true(gx && gw && y);
    reference(cc, GRAD_INPUT, gy, w, gx);
    reference(cc, GRAD_WEIGHT, x, gy, gw);
    const double eps = 1e-3;
    for (int which = 0; which < 2; which++) {
      double *v = which ? w : x, *grad = which ? gw : gx;
      size_t n = which ? nw : nx;
      for (size_t i = 0; i < n; i++) {
        double keep = v[i], loss[2];
        for (int side = 0; side < 2; side++) {
          v[i] = keep + (side ? -eps : eps);
          memset(y, 0, ny * sizeof *y);
          reference(cc, FWD, x, w, y);
          loss[side] = 0;
          for (size_t j = 0; j < ny; j++)
            loss[side] += y[j] * gy[j];
        }
        v[i] = keep;
        double num = (loss[0] - loss[1]) / (2 * eps);
        if (fabs(num - grad[i]) > 1e-8 * (1 + fabs(grad[i])))
          fail_msg("fd case %zu, %s[%zu]: %g vs %g", t, which ? "w" : "x", i,
                   num, grad[i]);
      }
    }
    free(fx), free(fw), free(fgy), free(x), free(w), free(gy);
    free(gx), free(gw), free(y);
  }
}

/* ---- shapes and bad input ---------------------------------------------- */

static void out_shapes(void **state) {
  (void)state;
  dam_shape x = dam_shape4(2, 16, 32, 32), y;
  dam_shape w3 = dam_shape4(16, 1, 3, 3), w5 = dam_shape4(16, 1, 5, 5);
  dam_conv2d_geom g = {.stride = {2, 2}, .pad = {1, 1}, .groups = 16};
  assert_int_equal(dam_conv2d_out_shape(&x, &w3, &g, &y), 0);
  assert_true(dam_shape_equal(&y, &(dam_shape){4, {2, 16, 16, 16}}));
  g = (dam_conv2d_geom){.pad = {4, 4}, .dilation = {2, 2}, .groups = 16};
  assert_int_equal(dam_conv2d_out_shape(&x, &w5, &g, &y), 0);
  assert_true(dam_shape_equal(&y, &(dam_shape){4, {2, 16, 32, 32}}));
  dam_shape odd = dam_shape4(1, 3, 7, 9), w = dam_shape4(5, 3, 3, 2);
  g = (dam_conv2d_geom){.stride = {2, 3}};
  assert_int_equal(dam_conv2d_out_shape(&odd, &w, &g, &y), 0);
  assert_true(dam_shape_equal(&y, &(dam_shape){4, {1, 5, 3, 3}}));
  assert_int_equal(dam_conv2d_macs(&odd, &w, &g), 1ull * 5 * 9 * 3 * 6);
}

static void expect_fail(int got, int want) {
  assert_int_equal(got, want);
  if (!strstr(dam_last_error(), "conv2d"))
    fail_msg("message does not name the kernel: %s", dam_last_error());
}

static void bad_input_refused(void **state) {
  harness *h = *state;
  dam_exec *ex = h->ex;
  dam_conv2d_geom pad1 = {.pad = {1, 1}}, g2 = {.groups = 2};
  dam_tensor *x = harness_tensor(h, dam_shape4(2, 4, 5, 5), NULL);
  dam_tensor *w = harness_tensor(h, dam_shape4(6, 4, 3, 3), NULL);
  dam_tensor *y = harness_tensor(h, dam_shape4(2, 6, 5, 5), NULL);
  dam_tensor *y_bad = harness_tensor(h, dam_shape4(2, 6, 3, 3), NULL);
  dam_tensor *w_big = harness_tensor(h, dam_shape4(6, 4, 9, 9), NULL);
  dam_tensor *flat = harness_tensor(h, dam_shape4(100, 0, 0, 0), NULL);
  dam_tensor *x_odd = harness_tensor(h, dam_shape4(2, 5, 5, 5), NULL);
  uint64_t dispatches = ex->stats.dispatches;
  expect_fail(dam_k_conv2d(ex, x, w, &pad1, y_bad), DAM_ESHAPE);
  expect_fail(dam_k_conv2d(ex, x, w_big, &pad1, y), DAM_ESHAPE);
  expect_fail(dam_k_conv2d(ex, x, w, &g2, y), DAM_ESHAPE);     /* w's C */
  expect_fail(dam_k_conv2d(ex, x_odd, w, &pad1, y), DAM_ESHAPE);
  expect_fail(dam_k_conv2d(ex, flat, w, &pad1, y), DAM_ESHAPE);
  expect_fail(dam_k_conv2d(ex, x, NULL, &pad1, y), DAM_EINVAL);
  expect_fail(dam_k_conv2d(ex, x, w, NULL, y), DAM_EINVAL);
  expect_fail(dam_k_conv2d_grad_input_acc(ex, y_bad, w, &pad1, x),
              DAM_ESHAPE);
  expect_fail(dam_k_conv2d_grad_input_acc(ex, y, w, &pad1, NULL),
              DAM_EINVAL);
  expect_fail(dam_k_conv2d_grad_weight_acc(ex, x, y_bad, &pad1, w),
              DAM_ESHAPE);
  expect_fail(dam_k_conv2d_grad_weight_acc(ex, x, y, &pad1, w_big),
              DAM_ESHAPE);
  dam_conv2d_geom pad1_g2 = {.pad = {1, 1}, .groups = 2};
  dam_tensor *half = harness_tensor(h, dam_shape4(3, 2, 3, 3), NULL);
  dam_tensor *unlike[] = {half, w}, *missing[] = {half, NULL};
  dam_tensor *halves[] = {half, half};
  expect_fail(dam_k_conv2d_grad_weight_groups_acc(ex, x, y, &pad1_g2, unlike),
              DAM_ESHAPE);
  expect_fail(dam_k_conv2d_grad_weight_groups_acc(ex, x, y, &pad1_g2,
                                                  missing),
              DAM_ESHAPE);
  expect_fail(dam_k_conv2d_grad_weight_groups_acc(ex, x, y_bad, &pad1_g2,
                                                  halves),
              DAM_ESHAPE);
  dam_conv2d_geom huge = {.stride = {1u << 20, 1}};
  expect_fail(dam_k_conv2d(ex, x, w, &huge, y), DAM_EINVAL);
  dam_shape s, x4 = dam_shape4(1, 6, 8, 8), w4 = dam_shape4(4, 2, 3, 3);
  dam_conv2d_geom g4 = {.groups = 4}; /* 6 input channels */
  expect_fail(dam_conv2d_out_shape(&x4, &w4, &g4, &s), DAM_ESHAPE);
  assert_int_equal(dam_conv2d_macs(&x4, &w4, &g4), 0);
  assert_int_equal(ex->stats.dispatches, dispatches);
  assert_int_equal(dam_exec_end_step(ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reference_known_values),
      cmocka_unit_test(reference_gradients_match_finite_differences),
      cmocka_unit_test(out_shapes),
      cmocka_unit_test(forward_auto),
      cmocka_unit_test(forward_register),
      cmocka_unit_test(forward_shared),
      cmocka_unit_test(forward_packed),
      cmocka_unit_test(grad_input_auto),
      cmocka_unit_test(grad_input_register),
      cmocka_unit_test(grad_input_shared),
      cmocka_unit_test(grad_input_packed),
      cmocka_unit_test(grad_weight_auto),
      cmocka_unit_test(grad_weight_register),
      cmocka_unit_test(grad_weight_shared),
      cmocka_unit_test(forward_relu),
      cmocka_unit_test(grad_input_relu),
      cmocka_unit_test(grad_weight_relu),
      cmocka_unit_test(grad_weight_groups),
      cmocka_unit_test(grad_input_new),
      cmocka_unit_test(grad_weight_parts),
      cmocka_unit_test(backward_both),
      cmocka_unit_test(through_unmade_batchnorm),
      cmocka_unit_test(bad_input_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
