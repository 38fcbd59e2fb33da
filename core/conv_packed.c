/*
 * The packed forward of core/conv.c (CPU devices): x and w repacked
 * channels-last in vec4s with the padding written out (conv2d_pack_x*,
 * conv2d_pack_w), so the inner loop of conv2d_fwd_packed loads four
 * channels at a time without bounds checks; 1x1 convolutions at stride 1
 * read x in NCHW in place as vec4 texels of pixels (conv2d_fwd_1x1,
 * conv2d_fwd_1x1_8k storing pairs of vec4s on planes of 8k pixels, and
 * conv2d_fwd_1x1_odd on planes of 4k + 1 pixels), and their gradient to
 * the input runs as the forward of the transposed convolution.
 * docs/CONV.md has the reasons and the measurements.
 */
#include "conv_internal.h"
#include "error.h"

#include "conv2d_fwd_1x1.spv.h"
#include "conv2d_fwd_1x1_8k.spv.h"
#include "conv2d_fwd_1x1_8k_set.spv.h"
#include "conv2d_fwd_1x1_8k_tm8.spv.h"
#include "conv2d_fwd_1x1_8k_tm8_set.spv.h"
#include "conv2d_fwd_1x1_8k_wt.spv.h"
#include "conv2d_fwd_1x1_8k_wt_set.spv.h"
#include "conv2d_fwd_1x1_8k_wt_tm8.spv.h"
#include "conv2d_fwd_1x1_8k_wt_tm8_set.spv.h"
#include "conv2d_fwd_1x1_odd.spv.h"
#include "conv2d_fwd_1x1_odd_set.spv.h"
#include "conv2d_fwd_1x1_odd_tm8.spv.h"
#include "conv2d_fwd_1x1_odd_tm8_set.spv.h"
#include "conv2d_fwd_1x1_odd_wt.spv.h"
#include "conv2d_fwd_1x1_odd_wt_set.spv.h"
#include "conv2d_fwd_1x1_odd_wt_tm8.spv.h"
#include "conv2d_fwd_1x1_odd_wt_tm8_set.spv.h"
#include "conv2d_fwd_1x1_set.spv.h"
#include "conv2d_fwd_1x1_tm8.spv.h"
#include "conv2d_fwd_1x1_tm8_set.spv.h"
#include "conv2d_fwd_1x1_wt.spv.h"
#include "conv2d_fwd_1x1_wt_set.spv.h"
#include "conv2d_fwd_1x1_wt_tm8.spv.h"
#include "conv2d_fwd_1x1_wt_tm8_set.spv.h"
#include "conv2d_fwd_packed.spv.h"
#include "conv2d_pack_w.spv.h"
#include "conv2d_pack_x.spv.h"
#include "conv2d_pack_x4.spv.h"
#include "conv2d_pack_x_odd.spv.h"
#include "conv2d_pack_x_planes.spv.h"

DAM_SHADER_TEXEL(conv2d_fwd_1x1, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_tm8, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_tm8_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_wt, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_wt_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_wt_tm8, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_8k_wt_tm8_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_tm8, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_tm8_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_wt, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_wt_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_wt_tm8, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_odd_wt_tm8_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_tm8, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_tm8_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_wt, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_wt_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_wt_tm8, 5, 0x4, 0x1b, sizeof(conv_push));
DAM_SHADER_TEXEL(conv2d_fwd_1x1_wt_tm8_set, 5, 0x4, 0x13, sizeof(conv_push));
DAM_SHADER(conv2d_fwd_packed, 3, 0x4, sizeof(conv_push));
DAM_SHADER(conv2d_pack_w, 2, 0x2, sizeof(conv_push));
DAM_SHADER(conv2d_pack_x, 2, 0x2, sizeof(conv_push));
DAM_SHADER(conv2d_pack_x4, 2, 0x2, sizeof(conv_push));
DAM_SHADER(conv2d_pack_x_odd, 2, 0x2, sizeof(conv_push));
DAM_SHADER(conv2d_pack_x_planes, 2, 0x2, sizeof(conv_push));


/* Register tiles of the packed forwards (their PK_TM, TN; TV of the _odd
 * 1x1); keep in step with them. */
#define PACKED_TM 16
#define PACKED_1X1_NARROW_TM 8
#define PACKED_TN 16
#define PACKED_1X1_TN 16
#define PACKED_1X1_ODD_TV 4

/* 1x1, stride 1, no padding, planes of 4k pixels: conv2d_fwd_1x1 reads x
 * in place, so only the weights are packed. */
static bool use_1x1(const conv_push *d) {
  return is_1x1(d) && (d->H * d->W) % 4 == 0;
}

/* The same with planes of 4k + 1 pixels and 4k channels per group:
 * conv2d_fwd_1x1_odd reads x in place at a per-channel shift. */
static bool use_1x1_odd(const conv_push *d) {
  return is_1x1(d) && (d->H * d->W) % 4 == 1 && d->Cg % 4 == 0;
}

/* x into the packed layout.  Where a group has 4k channels and a plane 4m
 * or 4m + 1 pixels, a plane per invocation from vec4s (shifted for 4m + 1);
 * else a padded row per invocation, from vec4s where rows have 4k pixels,
 * else by floats. */
static int pack_x(dam_exec *ex, const dam_tensor *x, dam_tensor *xp,
                  conv_push *d, uint32_t c4) {
  const dam_tensor *t[] = {x, xp};
  uint64_t planes = (uint64_t)d->N * d->groups * c4;
  uint32_t hw4 = (d->H * d->W) % 4;
  if (d->Cg % 4 == 0 && hw4 <= 1)
    return run_counted(ex, hw4 ? &shader_conv2d_pack_x_odd
                               : &shader_conv2d_pack_x_planes,
                       t, d, planes);
  return run_counted(ex, d->W % 4 ? &shader_conv2d_pack_x
                                  : &shader_conv2d_pack_x4,
                     t, d, planes * (d->H + 2ull * d->ph));
}

bool dam__conv_packed_fits(const conv_push *d) {
  uint64_t c = 4ull * div_up(d->Cg, 4);
  uint64_t xp = (uint64_t)d->N * d->groups * (d->H + 2ull * d->ph) *
                (d->W + 2ull * d->pw) * c;
  uint64_t wp = (uint64_t)d->groups * div_up(d->Kg, PACKED_TM) * PACKED_TM *
                d->KH * d->KW * c;
  return xp <= UINT32_MAX && wp <= UINT32_MAX;
}

bool dam__conv_1x1_in_place(const conv_push *d) {
  return use_1x1(d) || use_1x1_odd(d);
}

int dam__conv_run_packed(dam_exec *ex, const dam_tensor *x,
                         const dam_tensor *w, conv_push *d,
                         const dam_tensor *relu_in, dam_tensor *y) {
  uint32_t c4 = div_up(d->Cg, 4), khw = d->KH * d->KW;
  bool odd = use_1x1_odd(d), in_place = odd || use_1x1(d);
  if (relu_in && !(in_place && d->transpose))
    return dam_fail(DAM_EINVAL, "conv2d: a relu's backward folds into the "
                    "in-place 1x1 gradients to the input only");
  d->raw_w = in_place && !d->transpose && d->Cg % 4 == 0;
  bool raw_wt = in_place && d->transpose && d->Kg % 4 == 0;
  bool packs_w = !d->raw_w && !raw_wt;
  /* 8-output tiles where 16-output ones would be part empty: 1.5x faster
   * at 8 outputs, 10 % slower at 16k (bench kernels, one thread). */
  bool narrow = !packs_w && d->Kg % PACKED_TM != 0;
  d->tiles_m = div_up(d->Kg, narrow ? PACKED_1X1_NARROW_TM : PACKED_TM);
  dam_shape xs = dam_shape4(d->N * d->groups, d->H + 2 * d->ph,
                            d->W + 2 * d->pw, 4 * c4);
  dam_shape ws = dam_shape4(d->groups * d->tiles_m, khw, c4, 4 * PACKED_TM);
  dam_tensor *wp = packs_w ? dam_tensor_new(ex, &ws, false) : NULL;
  dam_tensor *xp = in_place ? NULL : dam_tensor_new(ex, &xs, false);
  if ((packs_w && !wp) || (!in_place && !xp)) {
    dam_tensor_release(ex, wp);
    return dam_fail(DAM_ENOMEM, "conv2d: packed operands: %s",
                    dam_last_error());
  }
  const dam_tensor *pw[] = {w, wp};
  /* the adding 1x1 shaders read y again, as texels, at binding 3, and
   * relu_in at 4 (conv2d_1x1_key.glsl) */
  const dam_tensor *fwd[] = {in_place ? x : xp, packs_w ? wp : w, y, y,
                             relu_in ? relu_in : y};
  int err = packs_w ? run_counted(ex, &shader_conv2d_pack_w, pw, d,
                                  wp->numel / 4)
                    : DAM_OK;
  if (!err && !in_place)
    err = pack_x(ex, x, xp, d, c4);
  if (err)
    return err;
  uint64_t tiles;
  /* PLANE_TILES in conv2d_fwd_1x1_odd.comp: tiles of TV vec4s inside a
   * plane of a multiple of them plus one pixel */
  uint32_t hw = d->H * d->W, tile = 4 * PACKED_1X1_ODD_TV;
  bool plane_tiles = odd && hw > 1 && hw % tile == 1 && d->Kg % 4 == 0;
  if (plane_tiles) {
    d->tiles_n = d->N * (hw / tile);
    tiles = d->tiles_n;
  } else if (odd) {
    d->tiles_n = div_up((uint64_t)d->N * (hw / 4 + 1), PACKED_1X1_ODD_TV);
    tiles = d->tiles_n;
  } else if (in_place) {
    d->tiles_n = div_up(hw, PACKED_1X1_TN);
    tiles = (uint64_t)d->N * d->tiles_n;
  } else {
    d->tiles_n = div_up((uint64_t)d->N * d->OH * d->OW, PACKED_TN);
    tiles = d->tiles_n;
  }
  /* [planes of 4k, 8k or 4k + 1 pixels][raw_wt][narrow][writes y over] */
  static const dam_shader *const in_place_shaders[3][2][2][2] = {
      {{{&shader_conv2d_fwd_1x1, &shader_conv2d_fwd_1x1_set},
        {&shader_conv2d_fwd_1x1_tm8, &shader_conv2d_fwd_1x1_tm8_set}},
       {{&shader_conv2d_fwd_1x1_wt, &shader_conv2d_fwd_1x1_wt_set},
        {&shader_conv2d_fwd_1x1_wt_tm8, &shader_conv2d_fwd_1x1_wt_tm8_set}}},
      {{{&shader_conv2d_fwd_1x1_8k, &shader_conv2d_fwd_1x1_8k_set},
        {&shader_conv2d_fwd_1x1_8k_tm8, &shader_conv2d_fwd_1x1_8k_tm8_set}},
       {{&shader_conv2d_fwd_1x1_8k_wt, &shader_conv2d_fwd_1x1_8k_wt_set},
        {&shader_conv2d_fwd_1x1_8k_wt_tm8,
         &shader_conv2d_fwd_1x1_8k_wt_tm8_set}}},
      {{{&shader_conv2d_fwd_1x1_odd, &shader_conv2d_fwd_1x1_odd_set},
        {&shader_conv2d_fwd_1x1_odd_tm8, &shader_conv2d_fwd_1x1_odd_tm8_set}},
       {{&shader_conv2d_fwd_1x1_odd_wt, &shader_conv2d_fwd_1x1_odd_wt_set},
        {&shader_conv2d_fwd_1x1_odd_wt_tm8,
         &shader_conv2d_fwd_1x1_odd_wt_tm8_set}}}};
  int planes = odd ? 2 : hw % 8 == 0;
  const dam_shader *s =
      in_place ? in_place_shaders[planes][raw_wt][narrow][!d->accumulate]
               : &shader_conv2d_fwd_packed;
  /* shaders/conv2d_1x1_key.glsl */
  uint32_t key = (plane_tiles ? 1u : 0u) | (relu_in ? 2u : 0u);
  err = run_shaped(ex, s, key, fwd, d,
                   tiles * d->tiles_m * d->groups);
  dam_tensor_release(ex, wp);
  dam_tensor_release(ex, xp);
  return err;
}
