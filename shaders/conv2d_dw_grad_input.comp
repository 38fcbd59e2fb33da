// Depthwise convolution gradient to the input, barrier-free.  Each
// invocation adds into TW pixels of an input row that share their
// remainder modulo the stride (columns iw0, iw0 + sw, ...), so a kernel
// tap either reaches all of them or none, and reaches them at TW
// neighbouring output columns; it does so for one row and column tile of
// every remainder class (rh, rw) in turn, so neighbouring invocations take
// the same branches.  The output position a tap reaches is tracked as
// quotient and remainder, stepped from class to class and tap to tap: no
// division in the loops (docs/CONV.md has the measurements; ordering
// invocations by class across planes made 28x28 3x slower).  TW is set
// per compiled variant (shaders/meson.build).
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

// Tap steps: one kernel row (column) down moves the output row (column)
// a tap reaches by -(dqh + dmh / sh) (-(dqw + dmw / sw)).
int dqh, dmh, dqw, dmw;

// Adds into input pixels (ih, iw0), (ih, iw0 + sw), ... of one plane the
// gradient through every tap; ih + ph = qh sh + mh, iw0 + pw = qw0 sw + mw0.
void add_class_row(uint plane, uint ih, uint iw0, int qh, int mh, int qw0,
                   int mw0) {
  uint yp = plane * p.OH * p.OW, wb = (plane % p.C) * p.KH * p.KW;
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
    if (iw < p.W) gx[xr + iw] += conv_gx(xr + iw, acc[j]);
  }
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  // Invocation (plane, k, tile) takes row k and column tile of every
  // remainder class (rh, rw) in turn: all invocations visit the classes in
  // the same order, so their branches agree.
  uint tile = id % p.tiles_n, rest = id / p.tiles_n;
  uint k = rest % p.tiles_m, plane = rest / p.tiles_m;
  dqh = int(p.dh / p.sh), dmh = int(p.dh % p.sh);
  dqw = int(p.dw / p.sw), dmw = int(p.dw % p.sw);
  int qh = int(k + p.ph / p.sh), mh = int(p.ph % p.sh);
  int qw_first = int(tile * TW + p.pw / p.sw), mw_first = int(p.pw % p.sw);
  for (uint rh = 0; rh < p.sh; rh++) {
    uint ih = rh + k * p.sh;
    if (ih >= p.H) break;
    int qw = qw_first, mw = mw_first;
    for (uint rw = 0; rw < p.sw; rw++) {
      add_class_row(plane, ih, rw + tile * TW * p.sw, qh, mh, qw, mw);
      if (++mw == int(p.sw)) {
        mw = 0;
        qw++;
      }
    }
    if (++mh == int(p.sh)) {
      mh = 0;
      qh++;
    }
  }
}
