// Convolution gradient to the input as an implicit GEMM tiled in shared
// memory (GPU devices): gx += w^T gy.  The tile is BM input channels of one
// group by BN pixels of the flattened N x H x W grid; the reduction steps
// over kernel taps and, for each, BK output channels at a time.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_tiled.glsl"
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };

// The output index o with o * stride = num, or -1.
int lattice(int num, uint stride, uint size) {
  if (num < 0 || uint(num) % stride != 0u) return -1;
  uint o = uint(num) / stride;
  return o < size ? int(o) : -1;
}

void main() {
  uint wg = tile_index();
  if (wg * gl_WorkGroupSize.x >= p.count) return;
  uint lid = gl_LocalInvocationIndex, tm = lid / 8, tn = lid % 8;
  uint nt = wg % p.tiles_n, rest = wg / p.tiles_n;
  uint m0 = (rest % p.tiles_m) * BM, g = rest / p.tiles_m;
  uint hw = p.H * p.W, ohw = p.OH * p.OW, khw = p.KH * p.KW;
  uint npix = p.N * hw;

  uint col = lid % BN, kd = lid / BN;
  uint pix = nt * BN + col;
  bool pix_ok = pix < npix;
  pix = min(pix, npix - 1);
  uint iw = pix % p.W, t = pix / p.W, ih = t % p.H, n = t / p.H;
  uint yb = (n * p.K + g * p.Kg) * ohw;
  bool w_ok = m0 + col < p.Cg;
  uint wb = (g * p.Kg * p.Cg + min(m0 + col, p.Cg - 1)) * khw;

  tile_zero();
  for (uint r = 0; r < p.KH; r++) {
    for (uint s = 0; s < p.KW; s++) {
      int oh = lattice(int(ih + p.ph) - int(r * p.dh), p.sh, p.OH);
      int ow = lattice(int(iw + p.pw) - int(s * p.dw), p.sw, p.OW);
      bool y_ok = pix_ok && oh >= 0 && ow >= 0;
      uint yo = y_ok ? yb + uint(oh) * p.OW + uint(ow) : 0u;
      uint tap = r * p.KW + s;
      for (uint k0 = 0; k0 < p.Kg; k0 += BK) {
        for (uint q = 0; q < BK / 2; q++) {
          uint kk = kd + 2 * q, k = k0 + kk;
          bool k_ok = k < p.Kg;
          As[kk][col] = w_ok && k_ok ? w[wb + k * p.Cg * khw + tap] : 0.0;
          Bs[kk][col] = y_ok && k_ok ? gy[yo + k * ohw] : 0.0;
        }
        barrier();
        tile_fma(tm, tn);
        barrier();
      }
    }
  }
  for (uint j = 0; j < 4; j++) {
    uint q = nt * BN + tn + 8 * j;
    if (q >= npix) break;
    uint qw = q % p.W, qt = q / p.W, qh = qt % p.H, qn = qt / p.H;
    uint xb = (qn * p.C + g * p.Cg) * hw + qh * p.W + qw;
    for (uint i = 0; i < 4; i++) {
      uint m = m0 + tm + 8 * i;
      if (m < p.Cg) gx[xb + m * hw] += acc[i][j];
    }
  }
}
