// Convolution gradient to the input as an implicit GEMM, barrier-free for
// CPU devices: gx += w^T gy, the transposed convolution.  Each invocation
// keeps a TM x TN register tile of gx (TM input channels of one group by TN
// consecutive pixels of the flattened N x H x W grid).  Outer loop over
// kernel taps (r, s): the output position a tap reads is found once per
// pixel (only positions on the stride's lattice count); inner loop over the
// group's output channels.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };

#define TM 16
#define TN 16

// The output index o with o * stride + tap = i + pad, or -1.
int lattice(int num, uint stride, uint size) {
  if (num < 0) return -1;
  uint o = uint(num);
  if (stride != 1u) {
    if (o % stride != 0u) return -1;
    o /= stride;
  }
  return o < size ? int(o) : -1;
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint pt = id % p.tiles_n, rest = id / p.tiles_n;
  uint c0 = (rest % p.tiles_m) * TM, g = rest / p.tiles_m;
  uint hw = p.H * p.W, ohw = p.OH * p.OW, khw = p.KH * p.KW;
  uint npix = p.N * hw;

  int ih0[TN], iw0[TN];
  uint gyb[TN], gxb[TN];
  for (uint j = 0; j < TN; j++) {
    uint pix = min(pt * TN + j, npix - 1);
    uint iw = pix % p.W, t = pix / p.W, ih = t % p.H, n = t / p.H;
    ih0[j] = int(ih + p.ph);
    iw0[j] = int(iw + p.pw);
    gyb[j] = (n * p.K + g * p.Kg) * ohw;
    gxb[j] = (n * p.C + g * p.Cg) * hw + ih * p.W + iw;
  }
  uint wb[TM];
  for (uint i = 0; i < TM; i++)
    wb[i] = (g * p.Kg * p.Cg + min(c0 + i, p.Cg - 1)) * khw;

  float acc[TM][TN];
  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;

  for (uint r = 0; r < p.KH; r++) {
    for (uint s = 0; s < p.KW; s++) {
      uint yo[TN];
      float ym[TN];
      for (uint j = 0; j < TN; j++) {
        int oh = lattice(ih0[j] - int(r * p.dh), p.sh, p.OH);
        int ow = lattice(iw0[j] - int(s * p.dw), p.sw, p.OW);
        bool ok = oh >= 0 && ow >= 0;
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
      if (pt * TN + j < npix) gx[gxb[j] + (c0 + i) * hw] += acc[i][j];
  }
}
