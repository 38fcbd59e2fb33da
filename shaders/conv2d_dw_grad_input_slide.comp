// Depthwise convolution gradient to the input at width stride 1 with
// kernels up to MAXK wide (sep_conv, dil_conv), barrier-free.  Each
// invocation adds into TW pixels of one input row spaced by the width
// dilation (columns iw0, iw0 + dw, ...).  Pixel iw gathers output columns
// iw + pw - s dw for taps s < KW, so from one pixel to the next the taps
// move by one dilated output: the MAXK output gradients under the kernel
// stay in registers and slide by one, against the kernel row reversed
// (taps past KW are zero).  Rows step over the stride's lattice like
// conv2d_dw_grad_input.  TW and MAXK are set per compiled variant
// (shaders/meson.build).
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };
#include "conv2d_gx_relu.glsl"

float grad_at(uint yr, int ow) {
  bool ok = ow >= 0 && ow < int(p.OW);
  return gy[yr + uint(clamp(ow, 0, int(p.OW) - 1))] * (ok ? 1.0 : 0.0);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  // tiles_n = dw * tiles per remainder; the remainder varies slowest.
  uint t = id % p.tiles_n, rest = id / p.tiles_n;
  uint per_rem = p.tiles_n / p.dw;
  uint iw0 = t / per_rem + (t % per_rem) * TW * p.dw;
  uint ih = rest % p.H, plane = rest / p.H, c = plane % p.C;
  uint yp = plane * p.OH * p.OW, wb = c * p.KH * p.KW;
  // For pixel j, window slot t holds output column base + (j + t) dw:
  // tap MAXK - 1 - t.
  int step = int(p.dw);
  int base = int(iw0 + p.pw) - int(MAXK - 1) * step;
  int qh = int((ih + p.ph) / p.sh), mh = int((ih + p.ph) % p.sh);
  int dqh = int(p.dh / p.sh), dmh = int(p.dh % p.sh);
  float acc[TW];
  for (uint j = 0; j < TW; j++) acc[j] = 0.0;
  for (uint r = 0; r < p.KH; r++) {
    if (mh == 0 && qh >= 0 && qh < int(p.OH)) {
      uint yr = yp + uint(qh) * p.OW, wr = wb + r * p.KW;
      float wk[MAXK], win[MAXK];
      for (uint t = 0; t < MAXK; t++) {
        uint s = MAXK - 1 - t;
        wk[t] = s < p.KW ? w[wr + min(s, p.KW - 1)] : 0.0;
      }
      for (uint t = 0; t + 1 < MAXK; t++) win[t + 1] = grad_at(yr, base + int(t) * step);
      for (uint j = 0; j < TW; j++) {
        for (uint t = 0; t + 1 < MAXK; t++) win[t] = win[t + 1];
        win[MAXK - 1] = grad_at(yr, base + int(j + MAXK - 1) * step);
        for (uint t = 0; t < MAXK; t++) acc[j] = fma(wk[t], win[t], acc[j]);
      }
    }
    qh -= dqh;
    mh -= dmh;
    if (mh < 0) {
      mh += int(p.sh);
      qh--;
    }
  }
  uint xr = (plane * p.H + ih) * p.W;
  for (uint j = 0; j < TW; j++) {
    uint iw = iw0 + j * p.dw;
    if (iw < p.W) gx[xr + iw] += conv_gx(xr + iw, acc[j]);
  }
}
