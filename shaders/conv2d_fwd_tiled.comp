// Convolution forward as an implicit GEMM tiled in shared memory (GPU
// devices): the tile is BM output channels of one group by BN pixels of the
// flattened N x OH x OW grid; the reduction steps over kernel taps and, for
// each, BK input channels at a time.  Each invocation stages the input of
// one fixed pixel column, so its position is decoded once.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_tiled.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main() {
  uint wg = tile_index();
  if (wg * gl_WorkGroupSize.x >= p.count) return;
  uint lid = gl_LocalInvocationIndex, tm = lid / 8, tn = lid % 8;
  uint nt = wg % p.tiles_n, rest = wg / p.tiles_n;
  uint m0 = (rest % p.tiles_m) * BM, g = rest / p.tiles_m;
  uint hw = p.H * p.W, ohw = p.OH * p.OW, khw = p.KH * p.KW;
  uint npix = p.N * ohw;

  // Staging: column/row lid % 32, depth lid / 32 + 2 q.
  uint col = lid % BN, kd = lid / BN;
  uint pix = nt * BN + col;
  bool pix_ok = pix < npix;
  pix = min(pix, npix - 1);
  uint ow = pix % p.OW, t = pix / p.OW, oh = t % p.OH, n = t / p.OH;
  int ih0 = int(oh * p.sh) - int(p.ph), iw0 = int(ow * p.sw) - int(p.pw);
  uint xb = (n * p.C + g * p.Cg) * hw;
  bool w_ok = m0 + col < p.Kg;
  uint wrow = (g * p.Kg + min(m0 + col, p.Kg - 1)) * p.Cg * khw;

  tile_zero();
  for (uint r = 0; r < p.KH; r++) {
    for (uint s = 0; s < p.KW; s++) {
      int ih = ih0 + int(r * p.dh), iw = iw0 + int(s * p.dw);
      bool x_ok = pix_ok && ih >= 0 && ih < int(p.H) && iw >= 0 &&
                  iw < int(p.W);
      uint xo = x_ok ? xb + uint(ih) * p.W + uint(iw) : 0u;
      uint tap = r * p.KW + s;
      for (uint c0 = 0; c0 < p.Cg; c0 += BK) {
        for (uint q = 0; q < BK / 2; q++) {
          uint kk = kd + 2 * q, c = c0 + kk;
          bool c_ok = c < p.Cg;
          As[kk][col] = w_ok && c_ok ? w[wrow + c * khw + tap] : 0.0;
          Bs[kk][col] = x_ok && c_ok ? conv_x(x[xo + c * hw]) : 0.0;
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
    uint qw = q % p.OW, qt = q / p.OW, qh = qt % p.OH, qn = qt / p.OH;
    uint yb = (qn * p.K + g * p.Kg) * ohw + qh * p.OW + qw;
    for (uint i = 0; i < 4; i++) {
      uint m = m0 + tm + 8 * i;
      if (m < p.Kg) y[yb + m * ohw] = acc[i][j];
    }
  }
}
