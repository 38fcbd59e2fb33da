// Depthwise convolution gradient to the input, barrier-free: each
// invocation adds into TW neighbouring pixels of one input row, gathering
// from the output positions whose taps covered them.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };

#define TW 4

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint iw0 = (id % p.tiles_n) * TW, rest = id / p.tiles_n;
  uint ih = rest % p.H, plane = rest / p.H, c = plane % p.C;
  uint yp = plane * p.OH * p.OW, wb = c * p.KH * p.KW;
  float acc[TW];
  for (uint j = 0; j < TW; j++) acc[j] = 0.0;
  for (uint r = 0; r < p.KH; r++) {
    int num = int(ih + p.ph) - int(r * p.dh);
    if (num < 0 || uint(num) % p.sh != 0u) continue;
    uint oh = uint(num) / p.sh;
    if (oh >= p.OH) continue;
    uint yr = yp + oh * p.OW;
    for (uint s = 0; s < p.KW; s++) {
      float wv = w[wb + r * p.KW + s];
      for (uint j = 0; j < TW; j++) {
        int nw = int(iw0 + j + p.pw) - int(s * p.dw);
        if (nw < 0 || uint(nw) % p.sw != 0u) continue;
        uint ow = uint(nw) / p.sw;
        if (ow < p.OW) acc[j] = fma(wv, gy[yr + ow], acc[j]);
      }
    }
  }
  uint xr = (plane * p.H + ih) * p.W;
  for (uint j = 0; j < TW; j++)
    if (iw0 + j < p.W) gx[xr + iw0 + j] += acc[j];
}
