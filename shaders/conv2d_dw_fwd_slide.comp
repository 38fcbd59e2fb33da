// Depthwise convolution forward at width stride 1 with kernels up to MAXK
// wide (sep_conv, dil_conv), barrier-free.  Each invocation computes TW
// outputs of one row spaced by the width dilation (columns ow0, ow0 + dw,
// ...), so from one output to the next every tap moves by exactly one
// dilated input: for each kernel row the MAXK inputs under the kernel stay
// in registers and slide by one, and each output costs one input load per
// kernel row (weights past KW are zero).  TW and MAXK are set per
// compiled variant (shaders/meson.build).
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

float input_at(uint xr, int iw) {
  bool ok = iw >= 0 && iw < int(p.W);
  return conv_x(x[xr + uint(clamp(iw, 0, int(p.W) - 1))]) * (ok ? 1.0 : 0.0);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  // tiles_n = dw * tiles per remainder; the remainder varies slowest.
  uint t = id % p.tiles_n, rest = id / p.tiles_n;
  uint per_rem = p.tiles_n / p.dw;
  uint ow0 = t / per_rem + (t % per_rem) * TW * p.dw;
  uint oh = rest % p.OH, plane = rest / p.OH, c = plane % p.C;
  uint xp = plane * p.H * p.W, wb = c * p.KH * p.KW;
  int base = int(ow0) - int(p.pw), step = int(p.dw);
  float acc[TW];
  for (uint j = 0; j < TW; j++) acc[j] = 0.0;
  for (uint r = 0; r < p.KH; r++) {
    int ih = int(oh * p.sh + r * p.dh) - int(p.ph);
    if (ih < 0 || ih >= int(p.H)) continue;
    uint xr = xp + uint(ih) * p.W, wr = wb + r * p.KW;
    float wk[MAXK], win[MAXK];
    for (uint s = 0; s < MAXK; s++) wk[s] = s < p.KW ? w[wr + min(s, p.KW - 1)] : 0.0;
    for (uint s = 0; s + 1 < MAXK; s++) win[s + 1] = input_at(xr, base + int(s) * step);
    for (uint j = 0; j < TW; j++) {
      for (uint s = 0; s + 1 < MAXK; s++) win[s] = win[s + 1];
      win[MAXK - 1] = input_at(xr, base + int(j + MAXK - 1) * step);
      for (uint s = 0; s < MAXK; s++) acc[j] = fma(wk[s], win[s], acc[j]);
    }
  }
  uint yr = (plane * p.OH + oh) * p.OW;
  for (uint j = 0; j < TW; j++) {
    uint ow = ow0 + j * p.dw;
    if (ow < p.OW) y[yr + ow] = acc[j];
  }
}
