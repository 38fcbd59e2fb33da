// 1x1 convolution forward at stride 1 without padding, when an image plane
// has a multiple of 4 pixels (CPU devices): x and y are read and written in
// NCHW directly as vec4s of 4 pixels (x as texels, like the weights:
// conv2d_packed.glsl).  Each invocation keeps a PK_TM x TN register tile
// of y: output channels of one group by TN pixels of one image (the last
// tile of an image repeats its last vec4, whose results are dropped).
// y += the result (core/conv.c takes these with accumulate set; binding 3
// is y's range again, as texels); the _set variants write y over and never
// read it (set_or_add.glsl).  y is stored a vec4 at a time, or with
// PLANES_8K (the _8k variants, planes of 8k pixels) a pair of vec4s, as
// 64-bit integers where the host gains (store8.glsl): every plane then
// starts at an even vec4, and a tile's vec4s inside its plane come in
// whole pairs.  The _wt variants' results pass through a relu's backward
// with RELU_GX (conv2d_1x1_key.glsl), as conv2d_fwd_1x1_odd.comp's.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer wp;
#define DAM_WIDE_STORES 1
#include "store8.glsl"
#ifndef PLANES_8K
#define PLANES_8K 0
#endif
DAM_OUT_BUFFER(2, Y, y);
#include "conv2d_1x1_key.glsl"

#include "set_or_add.glsl"
#if !SET
layout(binding = 3) uniform samplerBuffer y_old;  // binding 2 as texels
#endif
#define TM PK_TM
#define TN 16
#define TV (TN / 4)

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint pt = id % p.tiles_n, rest = id / p.tiles_n;
  uint mt = rest % p.tiles_m, ng = rest / p.tiles_m;
  uint g = ng % p.groups, n = ng / p.groups;
  uint k0 = mt * TM, hw4 = p.H * p.W / 4u, c4 = pk_c4();
  uint q0 = pt * TV;

  uint xo[TV];
  for (uint v = 0u; v < TV; v++)
    xo[v] = (n * p.C + g * p.Cg) * hw4 + min(q0 + v, hw4 - 1u);
  uint cmax = p.Cg - 1u;
#if !W_TRANSPOSED
  uint wb[TM], ws = pk_w_step();
  for (uint i = 0u; i < TM; i++) wb[i] = pk_w_first(g, mt, i);
#endif

  vec4 acc[TM][TV];
  for (uint i = 0u; i < TM; i++)
    for (uint v = 0u; v < TV; v++) acc[i][v] = vec4(0.0);

  for (uint c = 0u; c < c4; c++) {
    vec4 b[4][TV];
    for (uint q = 0u; q < 4u; q++) {
      uint co = min(4u * c + q, cmax) * hw4;
      for (uint v = 0u; v < TV; v++) b[q][v] = conv_x(texelFetch(x, int(xo[v] + co)));
    }
    vec4 wt[TM];
#if W_TRANSPOSED
    pk_w_transposed(wp, g, mt, c, wt);
#else
    for (uint i = 0u; i < TM; i++) wt[i] = texelFetch(wp, int(wb[i] + c * ws));
#endif
    for (uint v = 0u; v < TV; v++)
      for (uint i = 0u; i < TM; i++) {
        vec4 a = wt[i];
        vec4 s = fma(vec4(a.x), b[0][v], acc[i][v]);
        s = fma(vec4(a.y), b[1][v], s);
        s = fma(vec4(a.z), b[2][v], s);
        acc[i][v] = fma(vec4(a.w), b[3][v], s);
      }
  }
  uint yo = (n * p.K + g * p.Kg) * hw4;
  for (uint i = 0u; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    uint o = yo + (k0 + i) * hw4 + q0;
#if PLANES_8K
    for (uint v = 0u; v < TV; v += 2u)
      if (q0 + v < hw4)
        DAM_STORE8(y, (o + v) / 2u,
                   SET_OR_ADDED(texelFetch(y_old, int(o + v)),
                                relu_gx4(o + v, acc[i][v])),
                   SET_OR_ADDED(texelFetch(y_old, int(o + v + 1u)),
                                relu_gx4(o + v + 1u, acc[i][v + 1u])));
#else
    for (uint v = 0u; v < TV; v++)
      if (q0 + v < hw4)
        DAM_STORE4(y, o + v, SET_OR_ADDED(texelFetch(y_old, int(o + v)),
                                          relu_gx4(o + v, acc[i][v])));
#endif
  }
}
