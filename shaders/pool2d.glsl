// Body of pool2d.comp and pool2d_route.comp, the pooling of any window
// (pool2d_k3.glsl unrolls the 3 x 3 ones): 2-D max or average pooling where
// each invocation owns a TH x TW tile of outputs of one plane, so an input
// row is loaded once for every window of the tile that needs it.  Each
// input row in reach is first reduced over the window columns of the
// tile's TW output columns, then folded into the output rows whose windows
// hold it.  Max keeps the first maximum in row-major window order, with
// its index in the plane (the winner of an all -inf window is its first
// in-bounds element, as in PyTorch).  With ROUTE defined (max only) the
// tile writes r[o] = (bits of gy[o], winner) for pool2d_backward.comp,
// which reads both in one access; otherwise it writes y.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
#ifdef ROUTE
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) writeonly buffer R { uvec2 r[]; };
#else
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform P {
  uint planes, h, w, oh, ow, k, s, pad, avg, tiles_y, tiles_x;
} p;
#define TH 4
#define TW 4

void main() {
  uint i = dam_linear_id(), tiles = p.tiles_y * p.tiles_x;
  if (i >= p.planes * tiles) return;
  uint plane = i / tiles, t = i - plane * tiles;
  uint ty = t / p.tiles_x, oy0 = ty * TH, ox0 = (t - ty * p.tiles_x) * TW;
  int s = int(p.s), k = int(p.k);
  int iy0 = int(oy0) * s - int(p.pad), ix0 = int(ox0) * s - int(p.pad);
  int ylo = max(iy0, 0), yhi = min(iy0 + (TH - 1) * s + k, int(p.h));
  int xlo = max(ix0, 0), xhi = min(ix0 + (TW - 1) * s + k, int(p.w));
#ifdef ROUTE
  const bool avg = false;
#else
  bool avg = p.avg != 0u;
#endif
  float none = avg ? 0.0 : uintBitsToFloat(0xff800000u);
  float acc[TH][TW];
  uint at[TH][TW];
  [[unroll]] for (int a = 0; a < TH; a++)
    [[unroll]] for (int b = 0; b < TW; b++) {
      acc[a][b] = none;
      at[a][b] = uint(max(iy0 + a * s, 0)) * p.w + uint(max(ix0 + b * s, 0));
    }
  uint base = plane * p.h * p.w;
  for (int iy = ylo; iy < yhi; iy++) {
    float row[TW];
    uint col[TW];
    [[unroll]] for (int b = 0; b < TW; b++) {
      row[b] = none;
      col[b] = 0u;
    }
    uint at_row = base + uint(iy) * p.w;
    for (int ix = xlo; ix < xhi; ix++) {
      float v = x[at_row + uint(ix)];
      int u = ix - ix0;
      [[unroll]] for (int b = 0; b < TW; b++) {
        bool in_window = uint(u - b * s) < p.k;
        if (avg) {
          row[b] += in_window ? v : 0.0;
        } else {
          bool wins = in_window && v > row[b];
          row[b] = wins ? v : row[b];
          col[b] = wins ? uint(ix) : col[b];
        }
      }
    }
    int dy = iy - iy0;
    [[unroll]] for (int a = 0; a < TH; a++) {
      bool in_window = uint(dy - a * s) < p.k;
      [[unroll]] for (int b = 0; b < TW; b++) {
        if (avg) {
          acc[a][b] += in_window ? row[b] : 0.0;
        } else {
          bool wins = in_window && row[b] > acc[a][b];
          acc[a][b] = wins ? row[b] : acc[a][b];
          at[a][b] = wins ? uint(iy) * p.w + col[b] : at[a][b];
        }
      }
    }
  }
  [[unroll]] for (int a = 0; a < TH; a++) {
    uint oy = oy0 + uint(a);
    int wy = iy0 + a * s;
    int rows = min(wy + k, int(p.h)) - max(wy, 0);
    [[unroll]] for (int b = 0; b < TW; b++) {
      uint ox = ox0 + uint(b);
      if (oy >= p.oh || ox >= p.ow) continue;
      uint o = (plane * p.oh + oy) * p.ow + ox;
#ifdef ROUTE
      r[o] = uvec2(floatBitsToUint(gy[o]), at[a][b]);
#else
      int wx = ix0 + b * s;
      int cols = min(wx + k, int(p.w)) - max(wx, 0);
      y[o] = avg ? acc[a][b] / float(rows * cols) : acc[a][b];
#endif
    }
  }
}
