// Backward of global average pooling: gx[plane, e] += gy[plane] / hw.
// `parts` invocations share a plane, each taking every parts-th element,
// so neighbouring invocations touch neighbouring addresses and gy is read
// once per invocation.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) buffer GX { float gx[]; };
layout(push_constant) uniform P { uint planes, hw, parts; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, base = plane * p.hw;
  float g = gy[plane] / float(p.hw);
  for (uint e = i - plane * p.parts; e < p.hw; e += p.parts)
    gx[base + e] += g;
}
