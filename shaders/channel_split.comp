// The backward of channel_concat.comp: each of up to four gradients adds
// its block of the wide gradient, gx_b[row][o] += gy[row][block b's vec4
// o] (channel_blocks.glsl).  Blocks not in `mask` (no gradient wanted) and
// past `blocks` are bound to a placeholder and never written.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) buffer G0 { vec4 g0[]; };
layout(std430, binding = 2) buffer G1 { vec4 g1[]; };
layout(std430, binding = 3) buffer G2 { vec4 g2[]; };
layout(std430, binding = 4) buffer G3 { vec4 g3[]; };
layout(push_constant) uniform P {
  uint rows, row4, off4, blocks;
  uint len4[4];
  uint parts;
  uint mask;
} p;
#include "channel_blocks.glsl"
void main() {
  uint i = dam_linear_id(), total = blocks_total();
  if (i >= p.rows * p.parts) return;
  uint row = i / p.parts;
  for (uint o = i - row * p.parts; o < total; o += p.parts) {
    block_at a = block_of(row, o);
    if ((p.mask & (1u << a.b)) == 0u) continue;
    vec4 g = texelFetch(gy, int(a.wide));
    if (a.b == 0u) g0[a.own] += g;
    else if (a.b == 1u) g1[a.own] += g;
    else if (a.b == 2u) g2[a.own] += g;
    else g3[a.own] += g;
  }
}
