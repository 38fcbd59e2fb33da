// Global average pooling: y[plane] = mean of the plane's hw elements of x,
// one invocation per (n, c) plane.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint planes, hw; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes) return;
  uint base = i * p.hw;
  float s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  uint e = 0u;
  for (; e + 4u <= p.hw; e += 4u) {
    s0 += x[base + e];
    s1 += x[base + e + 1u];
    s2 += x[base + e + 2u];
    s3 += x[base + e + 3u];
  }
  for (; e < p.hw; e++) s0 += x[base + e];
  y[i] = ((s0 + s1) + (s2 + s3)) / float(p.hw);
}
