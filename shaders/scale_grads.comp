// The gradients to the terms of a scale_by.comp sum: g0 += s0[0] * gy
// and g1 += s1[0] * gy, each only when its bit of mask is set (otherwise
// its bindings are placeholders).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
#include "elementwise.glsl"
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) readonly buffer S0 { float s0[]; };
layout(std430, binding = 2) readonly buffer S1 { float s1[]; };
layout(std430, binding = 3) buffer G0 { float g0[]; };
layout(std430, binding = 3) buffer G04 { vec4 g04[]; };
layout(std430, binding = 4) buffer G1 { float g1[]; };
layout(std430, binding = 4) buffer G14 { vec4 g14[]; };
layout(push_constant) uniform P { uint n, mask; } p;
void main() {
  bool first = (p.mask & 1u) != 0u, second = (p.mask & 2u) != 0u;
  float w0 = first ? s0[0] : 0.0, w1 = second ? s1[0] : 0.0;
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, slot = dam_elementwise_slot(p.n, j, k);
    if (slot == DAM_VEC4) {
      vec4 g = texelFetch(gy, int(k));
      if (first) g04[k] += w0 * g;
      if (second) g14[k] += w1 * g;
    } else if (slot == DAM_FLOAT) {
      float g = dam_texel_float(gy, k);
      if (first) g0[k] += w0 * g;
      if (second) g1[k] += w1 * g;
    }
  }
}
