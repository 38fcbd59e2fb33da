// Gradient to the weights of a 3x3 convolution at stride 2, dilation 1,
// whose groups each read one input channel (Cg = 1, any Kg): the quick
// start's stem, the companion of conv2d_fwd_c1s2.comp (CPU devices).
// Invocation id sums, over one part of the N x OH output rows, the nine
// taps of KB output channels (k0 .. k0 + KB - 1) of one group, which all
// read its input channel g.  A row is walked TW outputs at a time: kernel
// row r's inputs for them are the 2 TW + 1 floats from column 2 ow0 - pw
// of input row 2 oh - ph + r on, and each channel's TW gradients lie in
// NG texels; both are read as aligned vec4s once for all KB channels.
// Each tap's column and row mask the padding, and outputs past the row
// give zeros.  Output as in conv2d_grad_weight.comp: into gw with
// accumulate set, else into part `part`'s own copy of gw's shape.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(binding = 0) uniform samplerBuffer x;   // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 2) buffer O { float o[]; };

#include "conv2d_c1s2.glsl"
#define NG ((TW + 3 + 3) / 4)    // vec4s holding TW floats at any alignment

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint kt = id % p.tiles_m, rest = id / p.tiles_m;
  uint g = rest % p.groups, part = rest / p.groups, k0 = kt * KB;
  // shape fields read once, before the loops (subsample.comp)
  uint OH = p.OH, OW = p.OW, K = p.K, C = p.C;
  int h = int(p.H), wd = int(p.W), ow_n = int(OW), ph = int(p.ph);
  int pw = int(p.pw);
  int n4 = int((p.N * C * p.H * p.W + 3u) / 4u);
  int g4 = int((p.N * K * OH * OW + 3u) / 4u);
  uint ohw = OH * OW;
  uint kc[KB];
  [[unroll]] for (int i = 0; i < KB; i++)
    kc[i] = g * p.Kg + min(k0 + uint(i), p.Kg - 1u);

  float acc[KB][9];
  [[unroll]] for (int i = 0; i < KB; i++)
    [[unroll]] for (int t = 0; t < 9; t++) acc[i][t] = 0.0;

  uint row0 = part * p.rows_per_part;
  uint row1 = min(row0 + p.rows_per_part, p.N * OH);
  for (uint rw = row0; rw < row1; rw++) {
    uint n = rw / OH, oh = rw - n * OH;
    for (int ow0 = 0; ow0 < ow_n; ow0 += TW) {
      // this chunk's gradients, zero past the row
      float gv[KB][TW];
      [[unroll]] for (int i = 0; i < KB; i++) {
        int first = int((n * K + kc[i]) * ohw + oh * OW) + ow0;
        int a = first & 3, v0 = (first - a) >> 2;
        float f[4 * NG];
        [[unroll]] for (int q = 0; q < NG; q++) {
          vec4 t = texelFetch(gy, min(v0 + q, g4 - 1));
          f[4 * q] = t.x;
          f[4 * q + 1] = t.y;
          f[4 * q + 2] = t.z;
          f[4 * q + 3] = t.w;
        }
        [[unroll]] for (int j = 0; j < TW; j++) {
          float v = a == 0 ? f[j] : a == 1 ? f[j + 1] : a == 2 ? f[j + 2]
                                                               : f[j + 3];
          gv[i][j] = ow0 + j < ow_n ? v : 0.0;
        }
      }
      [[unroll]] for (int r = 0; r < 3; r++) {
        int ih = 2 * int(oh) - ph + r, col0 = 2 * ow0 - pw;
        float v[SPAN];
        c1s2_span(int(n * C + g) * h * wd, ih, col0, h, wd, n4, v);
        [[unroll]] for (int m = 0; m < SPAN; m++) {
          // tap s of output j reads span float 2 j + s
          [[unroll]] for (int j = 0; j < TW; j++)
            [[unroll]] for (int s = 0; s < 3; s++)
              if (2 * j + s == m)
                [[unroll]] for (int i = 0; i < KB; i++)
                  acc[i][3 * r + s] = fma(gv[i][j], v[m], acc[i][3 * r + s]);
        }
      }
    }
  }
  uint base = p.accumulate != 0u ? 0u : part * K * 9u;
  [[unroll]] for (int i = 0; i < KB; i++) {
    if (k0 + uint(i) >= p.Kg) break;
    [[unroll]] for (int t = 0; t < 9; t++) {
      uint at = base + (g * p.Kg + k0 + uint(i)) * 9u + uint(t);
      o[at] = p.accumulate != 0u ? o[at] + acc[i][t] : acc[i][t];
    }
  }
}
