// y = s0[0] * x0 + s1[0] * x1 + a, the second term (has_second 0) and a
// (has_a 0) optional: op outputs scaled by their architecture weights
// (which stay on the device) and added to a node's sum so far.  a may be
// y itself (accumulation in place): each element is read, through a's
// texels, only by the invocation that then writes it.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "elementwise.glsl"
layout(std430, binding = 0) readonly buffer S0 { float s0[]; };
layout(binding = 1) uniform samplerBuffer x0;  // vec4 texels
layout(binding = 2) uniform samplerBuffer a;
layout(std430, binding = 3) buffer Y { float y[]; };
layout(std430, binding = 3) buffer Y4 { vec4 y4[]; };
layout(std430, binding = 4) readonly buffer S1 { float s1[]; };
layout(binding = 5) uniform samplerBuffer x1;
layout(push_constant) uniform P { uint n, has_a, has_second; } p;
void main() {
  float w0 = s0[0], w1 = p.has_second != 0u ? s1[0] : 0.0;
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, slot = dam_elementwise_slot(p.n, j, k);
    if (slot == DAM_VEC4) {
      vec4 v = w0 * texelFetch(x0, int(k));
      if (p.has_second != 0u) v += w1 * texelFetch(x1, int(k));
      y4[k] = v + (p.has_a != 0u ? texelFetch(a, int(k)) : vec4(0.0));
    } else if (slot == DAM_FLOAT) {
      float v = w0 * dam_texel_float(x0, k);
      if (p.has_second != 0u) v += w1 * dam_texel_float(x1, k);
      y[k] = v + (p.has_a != 0u ? dam_texel_float(a, k) : 0.0);
    }
  }
}
