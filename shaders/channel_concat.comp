// Up to four inputs' channels into one range of a wide output (a concat):
// y[row][block b's vec4 o] = x_b[row][o] (channel_blocks.glsl).  Blocks
// past `blocks` are bound to a placeholder and never read.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
#include "elementwise.glsl"
layout(binding = 0) uniform samplerBuffer x0;  // vec4 texels
layout(binding = 1) uniform samplerBuffer x1;
layout(binding = 2) uniform samplerBuffer x2;
layout(binding = 3) uniform samplerBuffer x3;
layout(std430, binding = 4) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P {
  uint n4, row4, off4, blocks;
  uint len4[4];
} p;
#include "channel_blocks.glsl"
void main() {
  for (uint j = 0u; j < DAM_EW_SPAN; j++) {
    uint k;
    if (dam_elementwise_slot(4u * p.n4, j, k) != DAM_VEC4) continue;
    block_at a = block_of(k);
    int at = int(a.own);
    y[a.wide] = a.b == 0u   ? texelFetch(x0, at)
                : a.b == 1u ? texelFetch(x1, at)
                : a.b == 2u ? texelFetch(x2, at)
                            : texelFetch(x3, at);
  }
}
