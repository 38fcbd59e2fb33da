// Depthwise convolution gradient to the input, barrier-free.  Each
// invocation adds into TW pixels of one input row that share their
// remainder modulo the stride (columns iw0, iw0 + sw, ...), so a kernel
// tap either reaches all of them or none, and reaches them at TW
// neighbouring output columns.  The output position a tap reaches is
// tracked as quotient and remainder while stepping over taps: no division
// in the loops.  Within a plane, invocations are ordered by row and column
// remainder class, so neighbouring ones take the same branches (ordering
// by class across planes instead was 3x slower at 28x28: each plane's
// rows then leave the cache between classes).
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  // tiles_n tiles per row class, tiles_m rows per row class; the row and
  // column remainders (rh, rw) vary next slowest after the plane, so
  // neighbouring invocations take the same branches.
  uint tile = id % p.tiles_n, rest = id / p.tiles_n;
  uint k = rest % p.tiles_m;
  rest /= p.tiles_m;
  uint rh = rest % p.sh;
  rest /= p.sh;
  uint rw = rest % p.sw, plane = rest / p.sw;
  uint ih = rh + k * p.sh, c = plane % p.C;
  if (ih >= p.H) return;
  uint iw0 = rw + tile * TW * p.sw;
  uint yp = plane * p.OH * p.OW, wb = c * p.KH * p.KW;

  // (ih + ph - r dh) = qh sh + mh and (iw0 + pw - s dw) = qw sw + mw
  int qh = int((ih + p.ph) / p.sh), mh = int((ih + p.ph) % p.sh);
  int dqh = int(p.dh / p.sh), dmh = int(p.dh % p.sh);
  int qw0 = int((iw0 + p.pw) / p.sw), mw0 = int((iw0 + p.pw) % p.sw);
  int dqw = int(p.dw / p.sw), dmw = int(p.dw % p.sw);

  float acc[TW];
  for (uint j = 0; j < TW; j++) acc[j] = 0.0;
  for (uint r = 0; r < p.KH; r++) {
    if (mh == 0 && qh >= 0 && qh < int(p.OH)) {
      uint yr = yp + uint(qh) * p.OW, wr = wb + r * p.KW;
      int qw = qw0, mw = mw0;
      for (uint s = 0; s < p.KW; s++) {
        if (mw == 0) {
          float wv = w[wr + s];
          for (uint j = 0; j < TW; j++) {
            int ow = qw + int(j);
            if (ow >= 0 && ow < int(p.OW)) acc[j] = fma(wv, gy[yr + uint(ow)], acc[j]);
          }
        }
        qw -= dqw;
        mw -= dmw;
        if (mw < 0) {
          mw += int(p.sw);
          qw--;
        }
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
    uint iw = iw0 + j * p.sw;
    if (iw < p.W) gx[xr + iw] += acc[j];
  }
}
