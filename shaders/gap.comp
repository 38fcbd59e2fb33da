// Global average pooling: y[plane] = mean of the plane's hw elements of x,
// one invocation per (n, c) plane.  With wide set (hw a multiple of 4) x is
// read through its vec4 view.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint planes, hw, wide; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes) return;
  vec4 s = vec4(0.0);
  if (p.wide != 0u) {
    uint n = p.hw / 4u, base = i * n;
    for (uint e = 0u; e < n; e++) s += x4[base + e];
  } else {
    uint base = i * p.hw;
    for (uint e = 0u; e < p.hw; e++) s.x += x[base + e];
  }
  y[i] = ((s.x + s.y) + (s.z + s.w)) / float(p.hw);
}
