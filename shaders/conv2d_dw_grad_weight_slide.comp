// Depthwise convolution gradient to the weights at width stride 1 with
// kernels up to MAXK wide (sep_conv, dil_conv), barrier-free: each
// invocation sums the gradient of one kernel row (channel c, row r) over
// one part of the N x OH output rows.  Output columns are visited one
// remainder modulo the width dilation at a time (q, q + dw, ...), so from
// one column to the next every tap moves by one dilated input: the MAXK
// inputs under the kernel row stay in registers and slide by one, two
// loads per column for all taps (taps past KW are computed and dropped).
// With accumulate = 1 the sums are added into gw, otherwise part `part`
// writes its own copy of gw's shape.  MAXK is set per compiled variant
// (shaders/meson.build).
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer O { float o[]; };

float input_at(uint xrow, int iw) {
  bool ok = iw >= 0 && iw < int(p.W);
  return conv_x(x[xrow + uint(clamp(iw, 0, int(p.W) - 1))]) * (ok ? 1.0 : 0.0);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint khw = p.KH * p.KW, rows_per_part = p.C * p.KH;
  uint at = id % rows_per_part, part = id / rows_per_part;
  uint c = at / p.KH, r = at % p.KH;
  uint hw = p.H * p.W, ohw = p.OH * p.OW;
  uint row0 = part * p.rows_per_part;
  uint row1 = min(row0 + p.rows_per_part, p.N * p.OH);
  uint out0 = (p.accumulate != 0u ? 0u : part * p.C * khw) + c * khw + r * p.KW;

  float acc[MAXK];
  for (uint s = 0; s < MAXK; s++) acc[s] = 0.0;
  for (uint row = row0; row < row1; row++) {
    uint n = row / p.OH, oh = row % p.OH;
    int ih = int(oh * p.sh + r * p.dh) - int(p.ph);
    if (ih < 0 || ih >= int(p.H)) continue;
    uint xrow = (n * p.C + c) * hw + uint(ih) * p.W;
    uint yrow = (n * p.C + c) * ohw + oh * p.OW;
    int step = int(p.dw);
    for (uint q = 0; q < p.dw && q < p.OW; q++) {
      int base = int(q) - int(p.pw);
      float win[MAXK];
      for (uint s = 0; s + 1 < MAXK; s++) win[s + 1] = input_at(xrow, base + int(s) * step);
      for (uint ow = q; ow < p.OW; ow += p.dw) {
        for (uint s = 0; s + 1 < MAXK; s++) win[s] = win[s + 1];
        win[MAXK - 1] = input_at(xrow, int(ow) - int(p.pw) + int(MAXK - 1) * step);
        float g = gy[yrow + ow];
        for (uint s = 0; s < MAXK; s++) acc[s] = fma(g, win[s], acc[s]);
      }
    }
  }
  for (uint s = 0; s < MAXK; s++) {
    if (s >= p.KW) break;
    if (p.accumulate != 0u) o[out0 + s] += acc[s];
    else o[out0 + s] = acc[s];
  }
}
