// Depthwise convolution forward (one input and one output channel per
// group), barrier-free: each invocation computes TW neighbouring outputs
// of one row, so each weight is loaded once for TW FMAs and a row outside
// the image is skipped whole (the _slide shaders are the faster path at
// width stride 1).  TW is set per compiled variant (shaders/meson.build).
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint ow0 = (id % p.tiles_n) * TW, rest = id / p.tiles_n;
  uint oh = rest % p.OH, plane = rest / p.OH, c = plane % p.C;
  uint xp = plane * p.H * p.W, wb = c * p.KH * p.KW;
  int iw0 = int(ow0 * p.sw) - int(p.pw);
  float acc[TW];
  for (uint j = 0; j < TW; j++) acc[j] = 0.0;
  for (uint r = 0; r < p.KH; r++) {
    int ih = int(oh * p.sh + r * p.dh) - int(p.ph);
    if (ih < 0 || ih >= int(p.H)) continue;
    uint xr = xp + uint(ih) * p.W;
    for (uint s = 0; s < p.KW; s++) {
      float wv = w[wb + r * p.KW + s];
      for (uint j = 0; j < TW; j++) {
        int iw = iw0 + int(j * p.sw + s * p.dw);
        if (iw >= 0 && iw < int(p.W)) acc[j] = fma(wv, conv_x(x[xr + uint(iw)]), acc[j]);
      }
    }
  }
  uint yr = (plane * p.OH + oh) * p.OW;
  for (uint j = 0; j < TW; j++)
    if (ow0 + j < p.OW) y[yr + ow0 + j] = acc[j];
}
