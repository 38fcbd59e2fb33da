// Convolution gradient to the weights for groups with few input channels
// (the stem's 3), barrier-free for CPU devices.  Like conv2d_grad_weight,
// but the TN columns of the register tile run over (input channel, kernel
// tap) pairs, so a 3-channel 3x3 kernel fills 27 of 32 columns instead of
// 3 of 16.  Each column's input position is checked per load; tile of TM
// output channels, summed over one part of the N x OH output rows.  With
// accumulate = 1 the tile is added to gw itself; otherwise part `part`
// writes its own copy of gw's shape.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer O { float o[]; };

#define TM 16
#define TN 16

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint khw = p.KH * p.KW, ncols = p.Cg * khw;
  uint ct = id % p.tiles_n, rest = id / p.tiles_n;
  uint k0 = (rest % p.tiles_m) * TM;
  rest /= p.tiles_m;
  uint g = rest % p.groups, part = rest / p.groups;
  uint hw = p.H * p.W, ohw = p.OH * p.OW;

  uint xc[TN];
  int th[TN], tw[TN];
  for (uint j = 0; j < TN; j++) {
    uint col = min(ct * TN + j, ncols - 1), tap = col % khw;
    xc[j] = (g * p.Cg + col / khw) * hw;
    th[j] = int((tap / p.KW) * p.dh) - int(p.ph);
    tw[j] = int((tap % p.KW) * p.dw) - int(p.pw);
  }
  uint yk[TM];
  for (uint i = 0; i < TM; i++) yk[i] = (g * p.Kg + min(k0 + i, p.Kg - 1)) * ohw;

  float acc[TM][TN];
  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;

  uint row0 = part * p.rows_per_part;
  uint row1 = min(row0 + p.rows_per_part, p.N * p.OH);
  for (uint row = row0; row < row1; row++) {
    uint n = row / p.OH, oh = row % p.OH;
    uint xn = n * p.C * hw, yrow = n * p.K * ohw + oh * p.OW;
    int ih[TN];
    bool rok[TN];
    for (uint j = 0; j < TN; j++) {
      ih[j] = int(oh * p.sh) + th[j];
      rok[j] = ih[j] >= 0 && ih[j] < int(p.H);
    }
    for (uint ow = 0; ow < p.OW; ow++) {
      float a[TM], b[TN];
      for (uint i = 0; i < TM; i++) a[i] = gy[yrow + yk[i] + ow];
      for (uint j = 0; j < TN; j++) {
        int iw = int(ow * p.sw) + tw[j];
        bool ok = rok[j] && iw >= 0 && iw < int(p.W);
        b[j] = conv_x(x[ok ? xn + xc[j] + uint(ih[j]) * p.W + uint(iw) : 0u]) * (ok ? 1.0 : 0.0);
      }
      for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
  }
  uint base = p.accumulate != 0u ? 0u : part * p.K * ncols;
  for (uint i = 0; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint j = 0; j < TN; j++) {
      if (ct * TN + j >= ncols) break;
      uint at = base + (g * p.Kg + k0 + i) * ncols + ct * TN + j;
      if (p.accumulate != 0u) o[at] += acc[i][j];
      else o[at] = acc[i][j];
    }
  }
}
