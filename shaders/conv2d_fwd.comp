// Convolution forward as an implicit GEMM, barrier-free for CPU devices:
// each invocation keeps a TM x TN register tile of y (TM output channels of
// one group by TN consecutive output pixels of the flattened N x OH x OW
// grid).  The reduction runs over kernel taps (r, s) outside and the
// group's input channels inside, so the bounds checks of a tap are done
// once per pixel and the inner loop is TM + TN loads for TM * TN FMAs.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

#define TM 16
#define TN 16

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint pt = id % p.tiles_n, rest = id / p.tiles_n;
  uint k0 = (rest % p.tiles_m) * TM, g = rest / p.tiles_m;
  uint hw = p.H * p.W, ohw = p.OH * p.OW, khw = p.KH * p.KW;
  uint npix = p.N * ohw;

  int ih0[TN], iw0[TN];
  uint xb[TN], yb[TN];
  for (uint j = 0; j < TN; j++) {
    uint pix = min(pt * TN + j, npix - 1);
    uint ow = pix % p.OW, t = pix / p.OW, oh = t % p.OH, n = t / p.OH;
    ih0[j] = int(oh * p.sh) - int(p.ph);
    iw0[j] = int(ow * p.sw) - int(p.pw);
    xb[j] = (n * p.C + g * p.Cg) * hw;
    yb[j] = (n * p.K + g * p.Kg) * ohw + oh * p.OW + ow;
  }
  uint wb[TM];
  for (uint i = 0; i < TM; i++)
    wb[i] = (g * p.Kg + min(k0 + i, p.Kg - 1)) * p.Cg * khw;

  float acc[TM][TN];
  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;

  for (uint r = 0; r < p.KH; r++) {
    for (uint s = 0; s < p.KW; s++) {
      uint xo[TN];
      float xm[TN];
      for (uint j = 0; j < TN; j++) {
        int ih = ih0[j] + int(r * p.dh), iw = iw0[j] + int(s * p.dw);
        bool ok = ih >= 0 && ih < int(p.H) && iw >= 0 && iw < int(p.W);
        xo[j] = ok ? xb[j] + uint(ih) * p.W + uint(iw) : 0u;
        xm[j] = ok ? 1.0 : 0.0;
      }
      uint tap = r * p.KW + s;
      for (uint c = 0; c < p.Cg; c++) {
        float a[TM], b[TN];
        for (uint i = 0; i < TM; i++) a[i] = w[wb[i] + c * khw + tap];
        for (uint j = 0; j < TN; j++) b[j] = conv_x(x[xo[j] + c * hw]) * xm[j];
        for (uint i = 0; i < TM; i++)
          for (uint j = 0; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
      }
    }
  }
  for (uint i = 0; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint j = 0; j < TN; j++)
      if (pt * TN + j < npix) y[yb[j] + (k0 + i) * ohw] = acc[i][j];
  }
}
