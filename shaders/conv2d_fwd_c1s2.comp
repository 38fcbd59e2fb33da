// Forward of a 3x3 convolution at stride 2, dilation 1, whose groups each
// read one input channel (Cg = 1, any Kg): the quick start's stem on
// one-channel images, which the packed path pads to four channels (CPU
// devices).  Invocation id takes TW outputs of one row of KB output
// planes (n, k0 .. k0 + KB - 1) of one group, which all read its input
// channel g: each input row is read once for KB planes.  Kernel row r's
// inputs for them are the 2 TW + 1 floats from column 2 ow0 - pw of
// input row 2 oh - ph + r on, read as the NV aligned vec4s that hold
// them; each tap's column and row mask the padding (and whatever a vec4
// holds past the row).  The KB x 9 weights stay in registers.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

#include "conv2d_c1s2.glsl"

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint row = dam_udiv(id, p.tiles_n), chunk = id - row * p.tiles_n;
  uint block = dam_udiv(row, p.OH), oh = row - block * p.OH;
  uint gb = dam_udiv(block, p.tiles_m), k0 = (block - gb * p.tiles_m) * KB;
  uint n = dam_udiv(gb, p.groups), g = gb - n * p.groups;
  int h = int(p.H), wd = int(p.W), ow0 = int(chunk) * TW;
  int n4 = int((p.N * p.C * p.H * p.W + 3u) / 4u);
  float wk[KB][9];
  [[unroll]] for (int i = 0; i < KB; i++) {
    uint k = g * p.Kg + min(k0 + uint(i), p.Kg - 1u);
    [[unroll]] for (int t = 0; t < 9; t++) wk[i][t] = w[k * 9u + uint(t)];
  }
  float acc[KB][TW];
  [[unroll]] for (int i = 0; i < KB; i++)
    [[unroll]] for (int j = 0; j < TW; j++) acc[i][j] = 0.0;
  [[unroll]] for (int r = 0; r < 3; r++) {
    int ih = 2 * int(oh) - int(p.ph) + r, col0 = 2 * ow0 - int(p.pw);
    float v[SPAN];
    c1s2_span(int(n * p.C + g) * h * wd, ih, col0, h, wd, n4, v);
    [[unroll]] for (int m = 0; m < SPAN; m++) {
      // tap s of output j reads span float 2 j + s
      [[unroll]] for (int j = 0; j < TW; j++)
        [[unroll]] for (int s = 0; s < 3; s++)
          if (2 * j + s == m)
            [[unroll]] for (int i = 0; i < KB; i++)
              acc[i][j] = fma(wk[i][3 * r + s], v[m], acc[i][j]);
    }
  }
  [[unroll]] for (int i = 0; i < KB; i++) {
    if (k0 + uint(i) >= p.Kg) break;
    uint at = ((n * p.K + g * p.Kg + k0 + uint(i)) * p.OH + oh) * p.OW +
              uint(ow0);
    [[unroll]] for (int j = 0; j < TW; j++)
      if (ow0 + j < int(p.OW)) y[at + uint(j)] = acc[i][j];
  }
}
