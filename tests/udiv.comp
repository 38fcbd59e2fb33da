// q[i] = dam_udiv(a[i], d[i]) (tests/test_udiv.c).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer A { uint a[]; };
layout(std430, binding = 1) readonly buffer D { uint d[]; };
layout(std430, binding = 2) writeonly buffer Q { uint q[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  uint i = dam_linear_id();
  if (i < p.n) q[i] = dam_udiv(a[i], d[i]);
}
