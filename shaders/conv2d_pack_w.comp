// The weights in the packed layout of conv2d_packed.glsl: one vec4 (four
// input channels of one output channel and tap) per invocation.  With
// transpose set (1x1 kernels), w is [C, Kg, 1, 1]: the weights of the
// transposed convolution, whose inputs are w's output channels.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(std430, binding = 0) readonly buffer Wt { float w[]; };
layout(std430, binding = 1) writeonly buffer WP { vec4 wp[]; };

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint c4 = pk_c4(), khw = p.KH * p.KW;
  uint i = id % PK_TM, t = id / PK_TM;
  uint c = (t % c4) * 4u;
  t /= c4;
  uint tap = t % khw;
  t /= khw;
  uint k = (t % p.tiles_m) * PK_TM + i, g = t / p.tiles_m;
  vec4 v = vec4(0.0);
  if (k < p.Kg) {
    bool tr = p.transpose != 0u;
    uint b = (tr ? (g * p.Cg + c) * p.Kg + k
                 : (g * p.Kg + k) * p.Cg + c) * khw + tap;
    uint step = (tr ? p.Kg : 1u) * khw;
    for (uint q = 0u; q < 4u; q++)
      if (c + q < p.Cg) v[q] = w[b + q * step];
  }
  wp[id] = v;
}
