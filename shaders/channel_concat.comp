// Up to four inputs' channels into one range of a wide output (a concat):
// y[row][block b's vec4 o] = x_b[row][o] (channel_blocks.glsl).  Blocks
// past `blocks` are bound to a placeholder and never read.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x0;  // vec4 texels
layout(binding = 1) uniform samplerBuffer x1;
layout(binding = 2) uniform samplerBuffer x2;
layout(binding = 3) uniform samplerBuffer x3;
layout(std430, binding = 4) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P {
  uint rows, row4, off4, blocks;
  uint len4[4];
  uint parts;
} p;
#include "channel_blocks.glsl"
void main() {
  uint i = dam_linear_id(), total = blocks_total();
  if (i >= p.rows * p.parts) return;
  uint row = i / p.parts;
  for (uint o = i - row * p.parts; o < total; o += p.parts) {
    block_at a = block_of(row, o);
    int at = int(a.own);
    y[a.wide] = a.b == 0u   ? texelFetch(x0, at)
                : a.b == 1u ? texelFetch(x1, at)
                : a.b == 2u ? texelFetch(x2, at)
                            : texelFetch(x3, at);
  }
}
