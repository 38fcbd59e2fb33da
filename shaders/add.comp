// y = a + b
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  uint i = dam_linear_id();
  if (i < p.n) y[i] = a[i] + b[i];
}
