// Backward of 2-D pooling as a gather, for any window (but max over the
// 3 x 3 ones, which pool2d_k3_max_backward.glsl handles in one pass): each
// invocation owns a TH x TW tile of gx in one plane and loops over the
// windows that reach the tile, so no two invocations write the same
// element.  Max (avg = 0) reads the routes of pool2d_route.comp (the bits
// of each window's gradient and the index of its winner in the plane); avg
// spreads each window's gradient evenly over its in-bounds elements,
// summing a window row over the tile's columns first.
// gx += the gathered sum.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer R { uvec2 r[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };
layout(push_constant) uniform P {
  uint planes, h, w, oh, ow, k, s, pad, avg, tiles_y, tiles_x;
} p;
#define TH 4
#define TW 4

// [first, end) of the windows along one axis of n that reach [a, a + len).
uvec2 windows(uint a, uint len, uint n) {
  int lo = int(a + p.pad) - int(p.k) + 1;
  uint first = lo <= 0 ? 0u : (uint(lo) + p.s - 1u) / p.s;
  return uvec2(first, min((a + len - 1u + p.pad) / p.s + 1u, n));
}

// In-bounds extent of the window starting at `start` along an axis of n.
float extent(int start, uint n) {
  return float(min(start + int(p.k), int(n)) - max(start, 0));
}

void main() {
  uint i = dam_linear_id(), tiles = p.tiles_y * p.tiles_x;
  if (i >= p.planes * tiles) return;
  uint plane = i / tiles, t = i - plane * tiles;
  uint ty = t / p.tiles_x, y0 = ty * TH, x0 = (t - ty * p.tiles_x) * TW;
  uvec2 oys = windows(y0, TH, p.oh), oxs = windows(x0, TW, p.ow);
  float acc[TH][TW];
  [[unroll]] for (int a = 0; a < TH; a++)
    [[unroll]] for (int b = 0; b < TW; b++) acc[a][b] = 0.0;
  uint here = y0 * p.w + x0;
  for (uint oy = oys.x; oy < oys.y; oy++) {
    uint o = (plane * p.oh + oy) * p.ow;
    int hs = int(oy * p.s) - int(p.pad);
    if (p.avg != 0u) {
      float row[TW];
      [[unroll]] for (int b = 0; b < TW; b++) row[b] = 0.0;
      for (uint ox = oxs.x; ox < oxs.y; ox++) {
        int ws = int(ox * p.s) - int(p.pad);
        float g = gy[o + ox] / extent(ws, p.w);
        [[unroll]] for (int b = 0; b < TW; b++)
          row[b] += uint(int(x0) + b - ws) < p.k ? g : 0.0;
      }
      float rows = extent(hs, p.h);
      [[unroll]] for (int a = 0; a < TH; a++) {
        bool in_window = uint(int(y0) + a - hs) < p.k;
        [[unroll]] for (int b = 0; b < TW; b++)
          acc[a][b] += in_window ? row[b] / rows : 0.0;
      }
    } else {
      for (uint ox = oxs.x; ox < oxs.y; ox++) {
        uvec2 e = r[o + ox];
        float g = uintBitsToFloat(e.x);
        uint rel = e.y - here;
        [[unroll]] for (int a = 0; a < TH; a++)
          [[unroll]] for (int b = 0; b < TW; b++)
            acc[a][b] += rel == uint(a) * p.w + uint(b) ? g : 0.0;
      }
    }
  }
  [[unroll]] for (int a = 0; a < TH; a++)
    [[unroll]] for (int b = 0; b < TW; b++) {
      uint yy = y0 + uint(a), xx = x0 + uint(b);
      if (yy < p.h && xx < p.w)
        gx[(plane * p.h + yy) * p.w + xx] += acc[a][b];
    }
}
