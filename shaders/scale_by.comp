// y = s[0] * x + a, or y = s[0] * x when has_a is 0: an op's output scaled
// by its architecture weight (which stays on the device) and added to the
// node's sum so far.  a may be y itself (accumulation in place).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
#include "elementwise.glsl"
layout(std430, binding = 0) readonly buffer S { float s[]; };
layout(binding = 1) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 2) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 3) buffer Y { float y[]; };
layout(std430, binding = 3) buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; uint has_a; } p;
void main() {
  float w = s[0];
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, slot = dam_elementwise_slot(p.n, j, k);
    if (slot == DAM_VEC4)
      y4[k] = w * texelFetch(x, int(k)) + (p.has_a != 0u ? a4[k] : vec4(0.0));
    else if (slot == DAM_FLOAT)
      y[k] = w * dam_texel_float(x, k) + (p.has_a != 0u ? a[k] : 0.0);
  }
}
