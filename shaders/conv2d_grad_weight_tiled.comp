// Convolution gradient to the weights tiled in shared memory (GPU
// devices): the tile is BM output channels of one group by BN columns of
// (input channel, kernel tap), summed over one part of the output pixels,
// BK pixels per step.  Each invocation stages one fixed pixel offset of the
// step (advanced incrementally, no division per step) and eight fixed
// columns.  With accumulate = 1 the tile is added to gw itself; otherwise
// part `part` writes its own copy of gw's shape.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_tiled.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer O { float o[]; };

void main() {
  uint wg = tile_index();
  if (wg * gl_WorkGroupSize.x >= p.count) return;
  uint lid = gl_LocalInvocationIndex, tm = lid / 8, tn = lid % 8;
  uint khw = p.KH * p.KW, ncols = p.Cg * khw;
  uint nt = wg % p.tiles_n, rest = wg / p.tiles_n;
  uint m0 = (rest % p.tiles_m) * BM;
  rest /= p.tiles_m;
  uint g = rest % p.groups, part = rest / p.groups;
  uint hw = p.H * p.W, ohw = p.OH * p.OW;

  // Staging: pixel offset lid % BK, rows/columns lid / BK + 4 q.
  uint kl = lid % BK, rq = lid / BK;
  uint xc[8];
  int th[8], tw[8];
  for (uint q = 0; q < 8; q++) {
    uint colg = nt * BN + rq + 4 * q;
    uint c = min(colg, ncols - 1) / khw, tap = min(colg, ncols - 1) % khw;
    xc[q] = colg < ncols ? (g * p.Cg + c) * hw : ~0u;
    th[q] = int((tap / p.KW) * p.dh) - int(p.ph);
    tw[q] = int((tap % p.KW) * p.dw) - int(p.pw);
  }
  uint yk[8];
  for (uint q = 0; q < 8; q++) {
    uint m = m0 + rq + 4 * q;
    yk[q] = m < p.Kg ? (g * p.Kg + m) * ohw : ~0u;
  }

  uint row0 = part * p.rows_per_part;
  uint row1 = min(row0 + p.rows_per_part, p.N * p.OH);
  uint q0 = row0 * p.OW, q1 = row1 * p.OW;
  uint qp = q0 + kl;
  uint ow = qp % p.OW, row = qp / p.OW, oh = row % p.OH, n = row / p.OH;

  tile_zero();
  for (uint base = q0; base < q1; base += BK) {
    bool ok = base + kl < q1;
    uint yp = n * p.K * ohw + oh * p.OW + ow, xn = n * p.C * hw;
    for (uint q = 0; q < 8; q++) {
      As[kl][rq + 4 * q] = ok && yk[q] != ~0u ? gy[yp + yk[q]] : 0.0;
      int ih = int(oh * p.sh) + th[q], iw = int(ow * p.sw) + tw[q];
      bool x_ok = ok && xc[q] != ~0u && ih >= 0 && ih < int(p.H) &&
                  iw >= 0 && iw < int(p.W);
      Bs[kl][rq + 4 * q] =
          x_ok ? conv_x(x[xn + xc[q] + uint(ih) * p.W + uint(iw)]) : 0.0;
    }
    barrier();
    tile_fma(tm, tn);
    barrier();
    ow += BK;
    while (ow >= p.OW) {
      ow -= p.OW;
      if (++oh == p.OH) {
        oh = 0;
        n++;
      }
    }
  }
  uint out0 = p.accumulate != 0u ? 0u : part * p.K * ncols;
  for (uint i = 0; i < 4; i++) {
    uint m = m0 + tm + 8 * i;
    if (m >= p.Kg) break;
    for (uint j = 0; j < 4; j++) {
      uint colg = nt * BN + tn + 8 * j;
      if (colg >= ncols) break;
      uint at = out0 + (g * p.Kg + m) * ncols + colg;
      if (p.accumulate != 0u) o[at] += acc[i][j];
      else o[at] = acc[i][j];
    }
  }
}
