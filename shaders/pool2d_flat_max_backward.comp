// Max pooling backward over 3 x 3 windows with padding 1 and stride 1, in
// one pass over all planes seen as one flat array of n4 vec4s (the element
// count a multiple of 4), as pool2d_flat.glsl walks them: gx += each
// window's gradient at the input that won it (its first maximum in row
// order; an all -inf window is won by its first in-bounds input, as in
// PyTorch).
// Invocation i owns the vec4s [i steps, (i + 1) steps) of gx and walks them
// in order.  The windows reaching a step's 4 elements are centred at flat
// offsets -1 .. 4 of the three rows around it, and their inputs lie at
// offsets -2 .. 5 of the five rows around it; each of those rows is one
// span read through aligned vec4s in a sliding window of three (x and gy
// as vec4 texels), so a step loads 8 vec4s and finds the 18 winners from
// 30 row maxima.  Each offset's row and column mask the padding and the
// neighbours across row and plane edges.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x4;
layout(binding = 1) uniform samplerBuffer gy4;
layout(std430, binding = 2) writeonly buffer GX { vec4 gx4[]; };
layout(binding = 3) uniform samplerBuffer gx_old;  // binding 2 as texels
layout(push_constant) uniform P { uint n4, steps, h, w, avg; } p;
#include "flat_w4.glsl"  // always set (core/pool.c)

// Floats r .. r + 7 of the 12 in a, b, c (r in 0..3).
void span(vec4 a, vec4 b, vec4 c, int r, out float o[8]) {
  float f[12] = float[12](a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w, c.x, c.y,
                          c.z, c.w);
  [[unroll]] for (int m = 0; m < 8; m++)
    o[m] = r == 0 ? f[m] : r == 1 ? f[m + 1] : r == 2 ? f[m + 2] : f[m + 3];
}

void main() {
  uint i = dam_linear_id();
  if (i >= (p.n4 + p.steps - 1u) / p.steps) return;
  int v0 = int(i * p.steps), v1 = int(min(i * p.steps + p.steps, p.n4));
  int w = int(p.w), h = int(p.h), n4 = int(p.n4);
  uint q = (4u * uint(v0)) % (p.h * p.w);
  int y = int(q / p.w), x = int(q % p.w);
  const float NONE = uintBitsToFloat(0xff800000u);
  // Row j (0..4: -2..2) of x and row d (0..2: -1..1) of gy: the float at
  // offset o from vec4 v's first element is float o + 2 + r of vec4s
  // v + e .. v + e + 2 (x), float o + 1 + r of those (gy).
  int xr[5], xe[5], gr[3], ge[3];
  vec4 xw[5][3], gw[3][3];
  [[unroll]] for (int j = 0; j < 5; j++) {
    int dist = (j - 2) * w - 2;
    xr[j] = flat_offset(dist, j - 2, -2);
    xe[j] = (dist - xr[j]) >> 2;
    [[unroll]] for (int k = 0; k < 2; k++)
      xw[j][k] = texelFetch(x4, clamp(v0 + xe[j] + k, 0, n4 - 1));
  }
  [[unroll]] for (int d = 0; d < 3; d++) {
    int dist = (d - 1) * w - 1;
    gr[d] = flat_offset(dist, d - 1, -1);
    ge[d] = (dist - gr[d]) >> 2;
    [[unroll]] for (int k = 0; k < 2; k++)
      gw[d][k] = texelFetch(gy4, clamp(v0 + ge[d] + k, 0, n4 - 1));
  }
  for (int v = v0; v < v1; v++) {
    // col[o + 2], row[o + 2]: the column and row (in its plane) of the
    // element at offset o, -2 .. 5.
    int col[8], row[8];
    col[2] = x;
    row[2] = y;
    [[unroll]] for (int o = 1; o >= 0; o--) {
      col[o] = col[o + 1] == 0 ? w - 1 : col[o + 1] - 1;
      row[o] = col[o + 1] != 0 ? row[o + 1] : row[o + 1] == 0 ? h - 1
                                                              : row[o + 1] - 1;
    }
    [[unroll]] for (int o = 3; o < 8; o++) {
      col[o] = col[o - 1] + 1 == w ? 0 : col[o - 1] + 1;
      row[o] = col[o] != 0 ? row[o - 1] : row[o - 1] + 1 == h ? 0
                                                            : row[o - 1] + 1;
    }
    x = col[6];
    y = row[6];
    float xs[5][8], gs[3][8];
    [[unroll]] for (int j = 0; j < 5; j++) {
      xw[j][2] = texelFetch(x4, clamp(v + xe[j] + 2, 0, n4 - 1));
      span(xw[j][0], xw[j][1], xw[j][2], xr[j], xs[j]);
    }
    [[unroll]] for (int d = 0; d < 3; d++) {
      gw[d][2] = texelFetch(gy4, clamp(v + ge[d] + 2, 0, n4 - 1));
      span(gw[d][0], gw[d][1], gw[d][2], gr[d], gs[d]);
    }
    // The first maximum of row j over the columns of a window centred at
    // offset m (-1 .. 4): its value and column (-1, 0, +1).
    float hv[5][6];
    int hc[5][6];
    [[unroll]] for (int m = 0; m < 6; m++) {
      bool left = col[m + 1] > 0, right = col[m + 1] < w - 1;
      [[unroll]] for (int j = 0; j < 5; j++) {
        float best = left ? xs[j][m] : NONE;
        int c = left ? -1 : 0;
        bool wins = xs[j][m + 1] > best;
        best = wins ? xs[j][m + 1] : best;
        c = wins ? 0 : c;
        wins = right && xs[j][m + 2] > best;
        hv[j][m] = wins ? xs[j][m + 2] : best;
        hc[j][m] = wins ? 1 : c;
      }
    }
    // The winner of the window centred at row d - 1, offset m - 1, as
    // 3 row + column from its centre, and its gradient (0 where the centre
    // is padding: cy, counted from the row of offset m - 1, is then outside
    // 0 .. h - 1).
    int wc[3][6];
    float wg[3][6];
    [[unroll]] for (int d = 0; d < 3; d++)
      [[unroll]] for (int m = 0; m < 6; m++) {
        int cy = row[m + 1] + d - 1;
        bool top = cy > 0, bottom = cy < h - 1;
        float best = top ? hv[d][m] : NONE;
        int c = top ? hc[d][m] - 3 : hc[d + 1][m];
        bool wins = hv[d + 1][m] > best;
        best = wins ? hv[d + 1][m] : best;
        c = wins ? hc[d + 1][m] : c;
        wins = bottom && hv[d + 2][m] > best;
        wc[d][m] = wins ? hc[d + 2][m] + 3 : c;
        wg[d][m] = uint(cy) < uint(h) ? gs[d][m] : 0.0;
      }
    float o[4];
    // Element k is (1 - d) 3 + 1 from the centre at its left in row d,
    // and so on.  A centre across a row edge never claims it: its window
    // stops at that edge.
    [[unroll]] for (int k = 0; k < 4; k++) {
      float acc = 0.0;
      [[unroll]] for (int d = 0; d < 3; d++)
        [[unroll]] for (int c = 0; c < 3; c++)
          acc += wc[d][k + c] == 3 * (1 - d) + 1 - c ? wg[d][k + c] : 0.0;
      o[k] = acc;
    }
    gx4[v] = texelFetch(gx_old, int(v)) + vec4(o[0], o[1], o[2], o[3]);
    [[unroll]] for (int j = 0; j < 5; j++) {
      xw[j][0] = xw[j][1];
      xw[j][1] = xw[j][2];
    }
    [[unroll]] for (int d = 0; d < 3; d++) {
      gw[d][0] = gw[d][1];
      gw[d][1] = gw[d][2];
    }
  }
}
