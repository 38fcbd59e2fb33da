// y += alpha * s[0] * (has_b ? b : 1): the backward of a sum (into x) or of
// a dot product (into one factor), with the scalar gradient read on device.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer S { float s[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha; uint has_b; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  float g = p.alpha * s[0];
  y[i] += p.has_b != 0u ? g * b[i] : g;
}
