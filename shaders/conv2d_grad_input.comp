// Convolution gradient to the input as an implicit GEMM, barrier-free for
// CPU devices: gx += w^T gy, the transposed convolution.  Each invocation
// keeps a TM x TN register tile of gx: TM input channels of one group by
// TN pixels that share their remainders (ih mod sh, iw mod sw), taken in
// order from the N x ceil(H / sh) x ceil(W / sw) grid of that remainder
// class.  A kernel tap then reaches either all of a tile's pixels or none,
// with one test per tap and no division: with stride 2 three taps in four
// are skipped whole.  Inner loop over the group's output channels: TM + TN
// loads for TM * TN FMAs.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };

#define TM 16
#define TN 16

// For remainder rem, tap offset off (= tap * dilation) and padding pad: the
// output index is the pixel's class index plus the returned shift, or the
// tap reaches no pixel of the class (valid = false).
int tap_shift(uint rem, uint off, uint pad, uint stride, uint span,
              out bool valid) {
  // num = rem + pad - off, made non-negative by whole strides
  uint lift = (span / stride + 1) * stride;
  uint num = rem + pad + lift - off;
  valid = num % stride == 0u;
  return int(num / stride) - int(lift / stride);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint pt = id % p.tiles_n, rest = id / p.tiles_n;
  uint c0 = (rest % p.tiles_m) * TM;
  rest /= p.tiles_m;
  uint cls = rest % (p.sh * p.sw), g = rest / (p.sh * p.sw);
  uint rh = cls / p.sw, rw = cls % p.sw;
  uint hc = (p.H + p.sh - 1) / p.sh, wc = (p.W + p.sw - 1) / p.sw;
  uint hw = p.H * p.W, ohw = p.OH * p.OW, khw = p.KH * p.KW;

  // Classes no tap reaches have nothing to add.
  uint span_h = (p.KH - 1) * p.dh, span_w = (p.KW - 1) * p.dw;
  bool any_h = false, any_w = false, v;
  for (uint r = 0; r < p.KH; r++) {
    tap_shift(rh, r * p.dh, p.ph, p.sh, span_h, v);
    any_h = any_h || v;
  }
  for (uint s = 0; s < p.KW; s++) {
    tap_shift(rw, s * p.dw, p.pw, p.sw, span_w, v);
    any_w = any_w || v;
  }
  if (!any_h || !any_w) return;

  // The tile's pixels follow each other in the class grid: decode the
  // first, then step.
  int qh[TN], qw[TN];
  uint gyb[TN], gxb[TN];
  bool pv[TN];
  uint q0 = pt * TN;
  uint a = q0 % wc, t = q0 / wc, b = t % hc, n = t / hc;
  for (uint j = 0; j < TN; j++) {
    uint ih = rh + b * p.sh, iw = rw + a * p.sw;
    pv[j] = n < p.N && ih < p.H && iw < p.W;
    qh[j] = int(b);
    qw[j] = int(a);
    uint nn = min(n, p.N - 1);
    gyb[j] = (nn * p.K + g * p.Kg) * ohw;
    gxb[j] = (nn * p.C + g * p.Cg) * hw + min(ih, p.H - 1) * p.W + min(iw, p.W - 1);
    if (++a == wc) {
      a = 0;
      if (++b == hc) {
        b = 0;
        n++;
      }
    }
  }
  uint wb[TM];
  for (uint i = 0; i < TM; i++)
    wb[i] = (g * p.Kg * p.Cg + min(c0 + i, p.Cg - 1)) * khw;

  float acc[TM][TN];
  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;

  for (uint r = 0; r < p.KH; r++) {
    bool vh;
    int dh = tap_shift(rh, r * p.dh, p.ph, p.sh, span_h, vh);
    if (!vh) continue;
    for (uint s = 0; s < p.KW; s++) {
      bool vw;
      int dw = tap_shift(rw, s * p.dw, p.pw, p.sw, span_w, vw);
      if (!vw) continue;
      uint yo[TN];
      float ym[TN];
      for (uint j = 0; j < TN; j++) {
        int oh = qh[j] + dh, ow = qw[j] + dw;
        bool ok = pv[j] && oh >= 0 && oh < int(p.OH) && ow >= 0 && ow < int(p.OW);
        yo[j] = ok ? gyb[j] + uint(oh) * p.OW + uint(ow) : 0u;
        ym[j] = ok ? 1.0 : 0.0;
      }
      uint tap = r * p.KW + s;
      for (uint k = 0; k < p.Kg; k++) {
        float a[TM], b[TN];
        for (uint i = 0; i < TM; i++) a[i] = w[wb[i] + k * p.Cg * khw + tap];
        for (uint j = 0; j < TN; j++) b[j] = gy[yo[j] + k * ohw] * ym[j];
        for (uint i = 0; i < TM; i++)
          for (uint j = 0; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
      }
    }
  }
  for (uint i = 0; i < TM; i++) {
    if (c0 + i >= p.Cg) break;
    for (uint j = 0; j < TN; j++)
      if (pv[j]) gx[gxb[j] + (c0 + i) * hw] += acc[i][j];
  }
}
