// Layouts of the packed forward (CPU devices), shared by conv2d_pack_x,
// conv2d_pack_w and conv2d_fwd_packed.  Channels of a group are padded to
// C4 vec4s, so one vec4 load brings four channels of one pixel or weight:
//  - xp [N][groups][H + 2 ph][W + 2 pw][C4] vec4: the input, channels last,
//    with the zero padding written out (no bounds checks when reading);
//  - wp [groups][tiles_m][KH * KW][C4][PK_TM] vec4: the weights of one
//    output-channel tile, in the order the forward reads them (zeros past
//    Kg and Cg).
#ifndef DAM_CONV2D_PACKED_GLSL
#define DAM_CONV2D_PACKED_GLSL

// 16 output channels per tile; the _tm8 variants of the in-place 1x1
// forwards take 8 (groups of 8k + 1..8 outputs: core/conv.c).
#ifndef PK_TM
#define PK_TM 16
#endif
#ifndef W_TRANSPOSED
#define W_TRANSPOSED 0
#endif

uint pk_c4() { return (p.Cg + 3u) / 4u; }
uint pk_hp() { return p.H + 2u * p.ph; }
uint pk_wp() { return p.W + 2u * p.pw; }

// The 1x1 forwards read the weights of output channel mt * PK_TM + i from
// vec4 pk_w_first(g, mt, i) on, pk_w_step() apart per four input
// channels: in wp, or with raw_w set (groups of 4k channels) in w itself,
// [K, Cg] read as texels (channels past Kg repeat the last; their results
// are dropped).
uint pk_w_first(uint g, uint mt, uint i) {
  return p.raw_w != 0u ? (g * p.Kg + min(mt * PK_TM + i, p.Kg - 1u)) * pk_c4()
                       : (g * p.tiles_m + mt) * pk_c4() * PK_TM + i;
}
uint pk_w_step() { return p.raw_w != 0u ? 1u : PK_TM; }

#if W_TRANSPOSED
// The _wt variants of the 1x1 forwards run the gradient to the input of a
// 1x1 convolution as the forward of its transpose, reading the original
// weights in place: [Cg, Kg] per group in the transpose's terms (input
// channel ci's row holds its Kg outputs, a multiple of 4, as texels).
// a[i] = the weights of output mt * PK_TM + i for inputs 4c .. 4c + 3:
// four row texels per input, transposed in registers (inputs past Cg
// weigh 0; outputs past Kg repeat the last texel, their results dropped).
void pk_w_transposed(samplerBuffer w, uint g, uint mt, uint c,
                     out vec4 a[PK_TM]) {
  uint k4 = p.Kg / 4u, t0 = min(mt * (PK_TM / 4u), k4 - 1u);
  for (uint q = 0u; q < 4u; q++) {
    uint ci = 4u * c + q;
    int row = int((g * p.Cg + min(ci, p.Cg - 1u)) * k4);
    float live = ci < p.Cg ? 1.0 : 0.0;
    for (uint t = 0u; t < PK_TM / 4u; t++) {
      vec4 v = live * texelFetch(w, row + int(min(t0 + t, k4 - 1u)));
      for (uint e = 0u; e < 4u; e++) a[4u * t + e][q] = v[e];
    }
  }
}
#endif

#endif
