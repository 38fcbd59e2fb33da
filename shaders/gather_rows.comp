// y[j] (=|+=) x[idx[j]] for rows of `len` floats: a permutation or
// selection of images; a permutation's backward is the same kernel with
// the inverse permutation, accumulating.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer I { uint idx[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows, len, accumulate; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.rows * p.len) return;
  uint j = i / p.len, k = i - j * p.len;
  float v = x[idx[j] * p.len + k];
  y[i] = p.accumulate != 0u ? y[i] + v : v;
}
