// Batch-norm backward, pass 1: planes split over invocations as in
// bn_partial.comp (vec4 views likewise); with d = x - mean[c],
// part[(n * C + c) * parts + j] = (sum gy, sum gy * d).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer M { float mean[]; };
layout(std430, binding = 3) writeonly buffer O { vec2 part[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, e = i - plane * p.parts;
  float mu = mean[plane % p.c];
  float s1 = 0.0, s2 = 0.0;
  if (p.wide != 0u) {
    uint n = p.hw / 4u, base = plane * n;
    for (; e < n; e += p.parts) {
      vec4 g = texelFetch(gy, int(base + e));
      s1 += (g.x + g.y) + (g.z + g.w);
      s2 += dot(g, texelFetch(x, int(base + e)) - mu);
    }
  } else {
    uint base = plane * p.hw;
    for (; e < p.hw; e += p.parts) {
      float g = dam_texel_float(gy, base + e);
      s1 += g;
      s2 += g * (dam_texel_float(x, base + e) - mu);
    }
  }
  part[i] = vec2(s1, s2);
}
