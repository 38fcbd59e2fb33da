// Backward of global average pooling: gx[plane, e] += gy[plane] / hw.
// `parts` invocations share a plane, each taking every parts-th element,
// so neighbouring invocations touch neighbouring addresses and gy is read
// once per invocation.  With wide set (hw a multiple of 4) gx is accessed
// through its vec4 view and counts are in vec4s.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) buffer GX { float gx[]; };
layout(std430, binding = 1) buffer GX4 { vec4 gx4[]; };
layout(push_constant) uniform P { uint planes, hw, parts, wide; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, e = i - plane * p.parts;
  float g = gy[plane] / float(p.hw);
  if (p.wide != 0u) {
    uint n = p.hw / 4u, base = plane * n;
    for (; e < n; e += p.parts) gx4[base + e] += g;
  } else {
    uint base = plane * p.hw;
    for (; e < p.hw; e += p.parts) gx[base + e] += g;
  }
}
