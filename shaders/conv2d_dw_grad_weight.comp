// Depthwise convolution gradient to the weights, barrier-free: each
// invocation sums the gradient of one kernel row (channel c, row r, up to
// MAXK taps at a time) over one part of the N x OH output rows, so each
// output gradient is loaded once for all the taps it meets.  Rows whose
// input row is outside the image are skipped (conv2d_dw_grad_weight_slide
// is the faster path at width stride and dilation 1).  With accumulate = 1
// the sums are added into gw, otherwise part `part` writes its own copy of
// gw's shape.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer O { float o[]; };

#define MAXK 5

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

  for (uint s0 = 0; s0 < p.KW; s0 += MAXK) {
    float acc[MAXK];
    for (uint s = 0; s < MAXK; s++) acc[s] = 0.0;
    for (uint row = row0; row < row1; row++) {
      uint n = row / p.OH, oh = row % p.OH;
      int ih = int(oh * p.sh + r * p.dh) - int(p.ph);
      if (ih < 0 || ih >= int(p.H)) continue;
      uint xrow = (n * p.C + c) * hw + uint(ih) * p.W;
      uint yrow = (n * p.C + c) * ohw + oh * p.OW;
      for (uint ow = 0; ow < p.OW; ow++) {
        float g = gy[yrow + ow];
        int iw0 = int(ow * p.sw + s0 * p.dw) - int(p.pw);
        for (uint s = 0; s < MAXK; s++) {
          int iw = iw0 + int(s * p.dw);
          if (s0 + s < p.KW && iw >= 0 && iw < int(p.W))
            acc[s] = fma(g, conv_x(x[xrow + uint(iw)]), acc[s]);
        }
      }
    }
    for (uint s = 0; s < MAXK; s++) {
      if (s0 + s >= p.KW) break;
      if (p.accumulate != 0u) o[out0 + s0 + s] += acc[s];
      else o[out0 + s0 + s] = acc[s];
    }
  }
}
