// y = x * x * ONE, ONE a specialization constant of the plugin's own (ids
// from 2, plugin.h): the host must leave it at its default.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; } p;
layout(constant_id = 2) const float ONE = 1.0;
void main() {
  uint i = dam_linear_id();
  if (i < p.n) y[i] = x[i] * x[i] * ONE;
}
