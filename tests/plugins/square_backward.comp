// gx += 2 * x * gy
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  uint i = dam_linear_id();
  if (i < p.n) gx[i] += 2.0 * x[i] * gy[i];
}
