// Body of pool2d_k3_max_backward_s1.comp and _s2.comp: the backward of max
// pooling over 3 x 3 windows with padding 1 and stride S (a macro), in one
// pass.  Each invocation owns a TH x TW tile of gx and walks down the rows
// of inputs that the windows reaching the tile cover: it reduces each row
// over the window columns (first maximum and its position), folds every
// K rows into a row of window winners, and adds each window's gradient to
// the tile element that won it.  Everything is unrolled over compile-time
// sizes, so the registers hold only a few rows at a time.
// gx += the gathered sum.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) buffer GX { float gx[]; };
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
// Grid (0, 0) is the top left input of the first window reaching the tile,
// OFF rows and columns above and left of the tile; WR x WC windows reach
// the tile and cover IR x IC inputs.
const int OFF = PAD - S * ((PAD - K + 1) / S);
const int WR = (TH - 1 + OFF) / S + 1, WC = (TW - 1 + OFF) / S + 1;
const int IR = (WR - 1) * S + K, IC = (WC - 1) * S + K;

void main() {
  uint i = dam_linear_id(), tiles = p.tiles_y * p.tiles_x;
  if (i >= p.planes * tiles) return;
  uint plane = i / tiles, t = i - plane * tiles, ty = t / p.tiles_x;
  int y0 = int(ty) * TH, x0 = int(t - ty * p.tiles_x) * TW;
  int h = int(p.h), w = int(p.w), oh = int(p.oh), ow = int(p.ow);
  int gy0 = y0 - OFF, gx0 = x0 - OFF;
  int oy0 = (gy0 + PAD) / S, ox0 = (gx0 + PAD) / S;
  const float NONE = uintBitsToFloat(0xff800000u);
  uint base = plane * p.h * p.w, obase = plane * p.oh * p.ow;
  // An all -inf window is won by its first in-bounds input, as in PyTorch.
  int first_x[WC];
  [[unroll]] for (int c = 0; c < WC; c++) first_x[c] = max(c * S, -gx0);
  float hv[IR][WC];
  int hc[IR][WC];
  float acc[TH][TW];
  [[unroll]] for (int a = 0; a < TH; a++)
    [[unroll]] for (int b = 0; b < TW; b++) acc[a][b] = 0.0;
  [[unroll]] for (int r = 0; r < IR; r++) {
    int yy = gy0 + r;
    bool row_in = yy >= 0 && yy < h;
    uint at = base + uint(yy) * p.w;
    float v[IC];
    [[unroll]] for (int c = 0; c < IC; c++) {
      int xx = gx0 + c;
      v[c] = NONE;
      if (row_in && xx >= 0 && xx < w)
        v[c] = dam_texel_float(x, at + uint(xx));
    }
    [[unroll]] for (int c = 0; c < WC; c++) {
      hv[r][c] = NONE;
      hc[r][c] = r * IC + first_x[c];
      [[unroll]] for (int d = 0; d < K; d++) {
        bool wins = v[c * S + d] > hv[r][c];
        hv[r][c] = wins ? v[c * S + d] : hv[r][c];
        hc[r][c] = wins ? r * IC + c * S + d : hc[r][c];
      }
    }
    if (r < K - 1 || (r - K + 1) % S != 0)
      continue;
    // Window row q is complete.
    int q = (r - K + 1) / S;
    int oy = oy0 + q;
    bool orow_in = oy >= 0 && oy < oh;
    uint orow = obase + uint(oy) * p.ow;
    int first_y = max(q * S, -gy0);
    [[unroll]] for (int c = 0; c < WC; c++) {
      int ox = ox0 + c;
      float g = 0.0;
      if (orow_in && ox >= 0 && ox < ow)
        g = dam_texel_float(gy, orow + uint(ox));
      float best = NONE;
      int code = first_y * IC + first_x[c];
      [[unroll]] for (int d = 0; d < K; d++) {
        bool wins = hv[q * S + d][c] > best;
        best = wins ? hv[q * S + d][c] : best;
        code = wins ? hc[q * S + d][c] : code;
      }
      [[unroll]] for (int a = 0; a < TH; a++) {
        [[unroll]] for (int b = 0; b < TW; b++)
          if (a + OFF >= q * S && a + OFF < q * S + K &&
              b + OFF >= c * S && b + OFF < c * S + K)
            acc[a][b] += code == (a + OFF) * IC + b + OFF ? g : 0.0;
      }
    }
    // Tile rows that no later window row reaches are done.
    [[unroll]] for (int a = 0; a < TH; a++) {
      bool last = a + OFF >= q * S && a + OFF < q * S + K &&
                  (q == WR - 1 || a + OFF < (q + 1) * S);
      uint row = base + uint(y0 + a) * p.w + uint(x0);
      [[unroll]] for (int b = 0; b < TW; b++)
        if (last && y0 + a < h && x0 + b < w) gx[row + uint(b)] += acc[a][b];
    }
  }
}
