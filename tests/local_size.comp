// out[i] = the local size invocation i ran at, for i < n; a resizable
// shader (tests/test_local_size.c).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  uint i = dam_linear_id();
  if (i < p.n) o[i] = float(gl_WorkGroupSize.x);
}
