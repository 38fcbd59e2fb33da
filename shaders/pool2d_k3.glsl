// Body of pool2d_k3_s1.comp and pool2d_k3_s2.comp: max or average pooling
// (avg != 0) over 3 x 3 windows with padding 1 and stride S (a macro), the
// windows of the DARTS search space.  Each invocation owns a TH x TW tile
// of outputs (smaller at stride 2, whose tiles cover four times the
// inputs) and walks down the input rows its windows cover: it reduces each
// row over the window columns, folds it into the output rows whose windows
// hold it, and writes an output row once its last input row is in.
// Everything is unrolled over compile-time sizes.  With BN_X x is a batch
// norm's input, and the outputs are normalized (pool2d_bn.glsl).
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint planes, h, w, oh, ow, k, s, pad, avg, tiles_y, tiles_x;
#ifdef BN_X
  uint c;
#endif
} p;
#include "pool2d_bn.glsl"
#define K 3
#define PAD 1
#if S == 1
#define TH 8
#define TW 8
#else
#define TH 4
#define TW 4
#endif
const int IR = (TH - 1) * S + K, IC = (TW - 1) * S + K;

void main() {
  uint i = dam_linear_id(), tiles = p.tiles_y * p.tiles_x;
  if (i >= p.planes * tiles) return;
  uint plane = i / tiles, t = i - plane * tiles, ty = t / p.tiles_x;
  int oy0 = int(ty) * TH, ox0 = int(t - ty * p.tiles_x) * TW;
  int h = int(p.h), w = int(p.w);
  int gy0 = oy0 * S - PAD, gx0 = ox0 * S - PAD;
  bool avg = p.avg != 0u;
  float none = avg ? 0.0 : uintBitsToFloat(0xff800000u);
  uint base = plane * p.h * p.w;
#ifdef BN_X
  vec4 kc = bn_coef(plane);
#endif
  int cols[TW];
  [[unroll]] for (int b = 0; b < TW; b++) {
    int wx = gx0 + b * S;
    cols[b] = min(wx + K, w) - max(wx, 0);
  }
  float acc[TH][TW];
  [[unroll]] for (int a = 0; a < TH; a++)
    [[unroll]] for (int b = 0; b < TW; b++) acc[a][b] = none;
  [[unroll]] for (int r = 0; r < IR; r++) {
    int yy = gy0 + r;
    bool row_in = yy >= 0 && yy < h;
    uint at = base + uint(clamp(yy, 0, h - 1)) * p.w;
    float v[IC];
    [[unroll]] for (int c = 0; c < IC; c++) {
      int xx = gx0 + c;
      v[c] = none;
      if (row_in && xx >= 0 && xx < w)
        v[c] = dam_texel_float(x, at + uint(xx));
    }
    float part[TW];
    [[unroll]] for (int b = 0; b < TW; b++) {
      float s0 = v[b * S], s1 = v[b * S + 1], s2 = v[b * S + 2];
      part[b] = avg ? s0 + s1 + s2 : max(max(s0, s1), s2);
    }
    [[unroll]] for (int a = 0; a < TH; a++) {
      if (r < a * S || r >= a * S + K)
        continue;
      [[unroll]] for (int b = 0; b < TW; b++)
        acc[a][b] = avg ? acc[a][b] + part[b] : max(acc[a][b], part[b]);
      if (r != a * S + K - 1 || oy0 + a >= int(p.oh))
        continue;
      int wy = gy0 + a * S, rows = min(wy + K, h) - max(wy, 0);
      uint row = (plane * p.oh + uint(oy0 + a)) * p.ow + uint(ox0);
      [[unroll]] for (int b = 0; b < TW; b++)
        if (ox0 + b < int(p.ow)) {
          float o = avg ? acc[a][b] / float(rows * cols[b]) : acc[a][b];
#ifdef BN_X
          o = bn_norm(o, kc);
#endif
          y[row + uint(b)] = o;
        }
    }
  }
}
