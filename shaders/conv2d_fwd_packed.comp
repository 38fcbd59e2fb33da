// Convolution forward as an implicit GEMM over the packed operands of
// conv2d_packed.glsl (CPU devices): each invocation keeps a PK_TM x TN
// register tile of y (output channels of one group by consecutive pixels of
// the flattened N x OH x OW grid).  Each step of the reduction loads four
// channels at once, TN + PK_TM vec4 loads for 4 PK_TM TN FMAs, and needs no
// bounds checks: the padding is in xp and the weight tiles are zero-filled.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(std430, binding = 0) readonly buffer XP { vec4 xp[]; };
layout(std430, binding = 1) readonly buffer WP { vec4 wp[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

#define TM PK_TM
#define TN 16

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint pt = id % p.tiles_n, rest = id / p.tiles_n;
  uint mt = rest % p.tiles_m, g = rest / p.tiles_m;
  uint k0 = mt * TM;
  uint ohw = p.OH * p.OW, khw = p.KH * p.KW, npix = p.N * ohw;
  uint c4 = pk_c4(), hp = pk_hp(), wpad = pk_wp();

  // Pixels past the end repeat the last one; their results are dropped.
  uint xo[TN], yb[TN];
  uint pix = min(pt * TN, npix - 1u);
  uint ow = pix % p.OW, t = pix / p.OW, oh = t % p.OH, n = t / p.OH;
  for (uint j = 0u; j < TN; j++) {
    xo[j] = (((n * p.groups + g) * hp + oh * p.sh) * wpad + ow * p.sw) * c4;
    yb[j] = (n * p.K + g * p.Kg) * ohw + oh * p.OW + ow;
    if (pt * TN + j + 1u < npix && ++ow == p.OW) {
      ow = 0u;
      if (++oh == p.OH) {
        oh = 0u;
        n++;
      }
    }
  }
  uint wo = (g * p.tiles_m + mt) * khw * c4 * TM;

  float acc[TM][TN];
  for (uint i = 0u; i < TM; i++)
    for (uint j = 0u; j < TN; j++) acc[i][j] = 0.0;

  for (uint r = 0u; r < p.KH; r++) {
    for (uint s = 0u; s < p.KW; s++) {
      uint d = (r * p.dh * wpad + s * p.dw) * c4;
      for (uint c = 0u; c < c4; c++) {
        vec4 b[TN];
        for (uint j = 0u; j < TN; j++) b[j] = xp[xo[j] + d + c];
        for (uint i = 0u; i < TM; i++) {
          vec4 a = wp[wo + i];
          for (uint j = 0u; j < TN; j++) {
            float v = fma(a.x, b[j].x, acc[i][j]);
            v = fma(a.y, b[j].y, v);
            v = fma(a.z, b[j].z, v);
            acc[i][j] = fma(a.w, b[j].w, v);
          }
        }
        wo += TM;
      }
    }
  }
  for (uint i = 0u; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint j = 0u; j < TN; j++)
      if (pt * TN + j < npix) y[yb[j] + (k0 + i) * ohw] = acc[i][j];
  }
}
