// y = m[n] * x or y += m[n] * x (acc) for every element of image n: the
// per-image mask of drop-path, forward and backward.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer M { float m[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; uint per_row; uint acc; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  float v = m[i / p.per_row] * x[i];
  y[i] = p.acc != 0u ? y[i] + v : v;
}
