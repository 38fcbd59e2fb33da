// Depthwise convolution gradient to the weights, barrier-free: each
// invocation sums one weight's gradient (channel c, tap (r, s)) over one
// part of the N x OH output rows, visiting only output positions whose
// input pixel is inside the image.  With accumulate = 1 it adds into gw,
// otherwise part `part` writes its own copy of gw's shape.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer O { float o[]; };

uvec2 valid_range(int off, uint stride, uint size, uint outs) {
  int lo = off >= 0 ? 0 : (-off + int(stride) - 1) / int(stride);
  int hi = (int(size) - off + int(stride) - 1) / int(stride);
  hi = clamp(hi, 0, int(outs));
  return uvec2(min(lo, hi), hi);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint khw = p.KH * p.KW, per_part = p.C * khw;
  uint at = id % per_part, part = id / per_part;
  uint c = at / khw, tap = at % khw, r = tap / p.KW, s = tap % p.KW;
  uint hw = p.H * p.W, ohw = p.OH * p.OW;
  uvec2 ows = valid_range(int(s * p.dw) - int(p.pw), p.sw, p.W, p.OW);
  uvec2 ohs = valid_range(int(r * p.dh) - int(p.ph), p.sh, p.H, p.OH);
  int iw_off = int(s * p.dw) - int(p.pw);
  float acc = 0.0;
  uint row0 = part * p.rows_per_part;
  uint row1 = min(row0 + p.rows_per_part, p.N * p.OH);
  for (uint row = row0; row < row1; row++) {
    uint n = row / p.OH, oh = row % p.OH;
    if (oh < ohs.x || oh >= ohs.y) continue;
    uint ih = oh * p.sh + r * p.dh - p.ph;
    uint xrow = (n * p.C + c) * hw + ih * p.W;
    uint yrow = (n * p.C + c) * ohw + oh * p.OW;
    for (uint ow = ows.x; ow < ows.y; ow++)
      acc = fma(gy[yrow + ow], x[xrow + uint(int(ow * p.sw) + iw_off)], acc);
  }
  if (p.accumulate != 0u) o[at] += acc;
  else o[part * per_part + at] = acc;
}
