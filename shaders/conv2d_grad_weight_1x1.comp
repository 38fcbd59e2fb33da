// 1x1 convolution gradient to the weights at stride 1 without padding, on
// planes of 4k pixels (CPU devices): gw[k][c] += the dot of gy's plane k
// and x's plane c, summed over the images of one part.  x and gy are read
// in NCHW as vec4 texels of 4 pixels (dam_shader.texel_mask).  Each
// invocation keeps a TM x TN tile of vec4 partial dots, so each pair of
// loads feeds 4 * TM * TN / (TM + TN) multiply-adds.  Output as in
// conv2d_grad_weight.comp: into gw with accumulate set, else into part
// `part`'s own copy of gw's shape.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) buffer O { float o[]; };

#define TM 8
#define TN 8

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint c0 = (id % p.tiles_n) * TN, rest = id / p.tiles_n;
  uint k0 = (rest % p.tiles_m) * TM;
  rest /= p.tiles_m;
  uint g = rest % p.groups, part = rest / p.groups;
  uint hw4 = p.H * p.W / 4u;

  vec4 acc[TM][TN];
  for (uint i = 0u; i < TM; i++)
    for (uint j = 0u; j < TN; j++) acc[i][j] = vec4(0.0);

  uint n0 = part * p.rows_per_part, n1 = min(n0 + p.rows_per_part, p.N);
  for (uint n = n0; n < n1; n++) {
    int xb[TN], yb[TM];
    for (uint j = 0u; j < TN; j++)
      xb[j] = int((n * p.C + g * p.Cg + min(c0 + j, p.Cg - 1u)) * hw4);
    for (uint i = 0u; i < TM; i++)
      yb[i] = int((n * p.K + g * p.Kg + min(k0 + i, p.Kg - 1u)) * hw4);
    for (int q = 0; q < int(hw4); q++) {
      vec4 a[TM], b[TN];
      for (uint i = 0u; i < TM; i++) a[i] = texelFetch(gy, yb[i] + q);
      for (uint j = 0u; j < TN; j++) b[j] = texelFetch(x, xb[j] + q);
      for (uint i = 0u; i < TM; i++)
        for (uint j = 0u; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
  }
  uint base = p.accumulate != 0u ? 0u : part * p.K * p.Cg;
  for (uint i = 0u; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint j = 0u; j < TN; j++) {
      if (c0 + j >= p.Cg) break;
      uint at = base + (g * p.Kg + k0 + i) * p.Cg + c0 + j;
      float s = dot(acc[i][j], vec4(1.0));
      o[at] = p.accumulate != 0u ? o[at] + s : s;
    }
  }
}
