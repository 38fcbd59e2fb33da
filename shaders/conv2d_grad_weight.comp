// Convolution gradient to the weights, barrier-free for CPU devices.  Each
// invocation keeps a TM x TN register tile of gw (TM output channels by TN
// input channels of one group, at one kernel tap) summed over one part of
// the N x OH output rows.  Only output positions whose input pixel is
// inside the image are visited, so the inner loop has no bounds checks:
// TM + TN loads for TM * TN FMAs.  With accumulate = 1 the tile is added
// to gw itself; otherwise part `part` writes its own copy of gw's shape.
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

// First and one-past-last output index whose input o * stride + off is
// in [0, size).
uvec2 valid_range(int off, uint stride, uint size, uint outs) {
  int lo = off >= 0 ? 0 : (-off + int(stride) - 1) / int(stride);
  int hi = (int(size) - off + int(stride) - 1) / int(stride);
  hi = clamp(hi, 0, int(outs));
  return uvec2(min(lo, hi), hi);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint khw = p.KH * p.KW;
  uint ct = id % p.tiles_n, rest = id / p.tiles_n;
  uint k0 = (rest % p.tiles_m) * TM;
  rest /= p.tiles_m;
  uint tap = rest % khw;
  rest /= khw;
  uint g = rest % p.groups, part = rest / p.groups;
  uint c0 = ct * TN, r = tap / p.KW, s = tap % p.KW;
  uint hw = p.H * p.W, ohw = p.OH * p.OW;

  uvec2 ows = valid_range(int(s * p.dw) - int(p.pw), p.sw, p.W, p.OW);
  uvec2 ohs = valid_range(int(r * p.dh) - int(p.ph), p.sh, p.H, p.OH);
  int iw_off = int(s * p.dw) - int(p.pw);

  uint xc[TN], yk[TM];
  for (uint j = 0; j < TN; j++) xc[j] = (g * p.Cg + min(c0 + j, p.Cg - 1)) * hw;
  for (uint i = 0; i < TM; i++) yk[i] = (g * p.Kg + min(k0 + i, p.Kg - 1)) * ohw;

  float acc[TM][TN];
  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;

  uint row0 = part * p.rows_per_part;
  uint row1 = min(row0 + p.rows_per_part, p.N * p.OH);
  for (uint row = row0; row < row1; row++) {
    uint n = row / p.OH, oh = row % p.OH;
    if (oh < ohs.x || oh >= ohs.y) continue;
    uint ih = oh * p.sh + r * p.dh - p.ph;
    uint xrow = n * p.C * hw + ih * p.W, yrow = n * p.K * ohw + oh * p.OW;
    for (uint ow = ows.x; ow < ows.y; ow++) {
      uint iw = uint(int(ow * p.sw) + iw_off);
      float a[TM], b[TN];
      for (uint i = 0; i < TM; i++) a[i] = gy[yrow + yk[i] + ow];
      for (uint j = 0; j < TN; j++) b[j] = conv_x(x[xrow + xc[j] + iw]);
      for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
  }
  uint gw_numel = p.K * p.Cg * khw;
  uint base = p.accumulate != 0u ? 0u : part * gw_numel;
  for (uint i = 0; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint j = 0; j < TN; j++) {
      if (c0 + j >= p.Cg) break;
      uint at = base + ((g * p.Kg + k0 + i) * p.Cg + c0 + j) * khw + tap;
      if (p.accumulate != 0u) o[at] += acc[i][j];
      else o[at] = acc[i][j];
    }
  }
}
