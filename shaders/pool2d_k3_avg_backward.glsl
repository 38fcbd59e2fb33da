// Body of pool2d_k3_avg_backward_s1.comp and _s2.comp: the backward of
// average pooling (padding excluded) over 3 x 3 windows with padding 1 and
// stride S (a macro), as a gather.  Each invocation owns a TH x TW tile of
// gx and walks down the rows of windows that reach it: it divides each
// window's gradient by its count of in-bounds inputs, sums a window row
// over each tile column's windows, and adds that to the tile rows the
// window row covers, writing a tile row once no later window row reaches
// it.  Everything is unrolled over compile-time sizes.
// gx += the gathered sum.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) buffer GX { float gx[]; };
layout(push_constant) uniform P {
  uint planes, h, w, oh, ow, k, s, pad, avg, tiles_y, tiles_x;
} p;
#define K 3
#define PAD 1
#if S == 1
#define TH 8
#define TW 8
#else
#define TH 4
#define TW 4
#endif
// As in pool2d_k3_max_backward.glsl: the first window reaching the tile
// starts OFF rows and columns above and left of it, and WR x WC windows
// reach it.
const int OFF = PAD - S * ((PAD - K + 1) / S);
const int WR = (TH - 1 + OFF) / S + 1, WC = (TW - 1 + OFF) / S + 1;

void main() {
  uint i = dam_linear_id(), tiles = p.tiles_y * p.tiles_x;
  if (i >= p.planes * tiles) return;
  uint plane = i / tiles, t = i - plane * tiles, ty = t / p.tiles_x;
  int y0 = int(ty) * TH, x0 = int(t - ty * p.tiles_x) * TW;
  int h = int(p.h), w = int(p.w), oh = int(p.oh), ow = int(p.ow);
  int oy0 = (y0 - OFF + PAD) / S, ox0 = (x0 - OFF + PAD) / S;
  uint base = plane * p.h * p.w, obase = plane * p.oh * p.ow;
  int cols[WC];
  [[unroll]] for (int c = 0; c < WC; c++) {
    int wx = (ox0 + c) * S - PAD;
    cols[c] = min(wx + K, w) - max(wx, 0);
  }
  float acc[TH][TW];
  [[unroll]] for (int a = 0; a < TH; a++)
    [[unroll]] for (int b = 0; b < TW; b++) acc[a][b] = 0.0;
  [[unroll]] for (int q = 0; q < WR; q++) {
    int oy = oy0 + q, wy = oy * S - PAD;
    bool orow_in = oy >= 0 && oy < oh;
    uint orow = obase + uint(oy) * p.ow;
    int rows = min(wy + K, h) - max(wy, 0);
    float g[WC];
    [[unroll]] for (int c = 0; c < WC; c++) {
      int ox = ox0 + c;
      g[c] = 0.0;
      if (orow_in && ox >= 0 && ox < ow)
        g[c] = dam_texel_float(gy, orow + uint(ox)) / float(rows * cols[c]);
    }
    float col[TW];
    [[unroll]] for (int b = 0; b < TW; b++) {
      col[b] = 0.0;
      [[unroll]] for (int c = 0; c < WC; c++)
        if (b + OFF >= c * S && b + OFF < c * S + K) col[b] += g[c];
    }
    [[unroll]] for (int a = 0; a < TH; a++) {
      if (a + OFF < q * S || a + OFF >= q * S + K)
        continue;
      [[unroll]] for (int b = 0; b < TW; b++) acc[a][b] += col[b];
      if ((q != WR - 1 && a + OFF >= (q + 1) * S) || y0 + a >= h)
        continue;
      uint row = base + uint(y0 + a) * p.w + uint(x0);
      [[unroll]] for (int b = 0; b < TW; b++)
        if (x0 + b < w) gx[row + uint(b)] += acc[a][b];
    }
  }
}
