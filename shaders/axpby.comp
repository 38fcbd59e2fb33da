// y = alpha * x + beta * y; beta == 0 never reads y (it may hold NaN).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  float v = p.alpha * x[i];
  y[i] = p.beta == 0.0 ? v : v + p.beta * y[i];
}
