// Batch-norm backward to the input: gx += a * gy - b * (x - mean) - c0 with
// coef[c] = (a, b, c0, mean) from bn_backward_combine.comp.  Planes are
// split over invocations as in bn_apply.comp.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) readonly buffer C { vec4 coef[]; };
layout(std430, binding = 3) buffer GX { float gx[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, base = plane * p.hw;
  vec4 k = coef[plane % p.c];
  for (uint e = i - plane * p.parts; e < p.hw; e += p.parts) {
    uint at = base + e;
    gx[at] += k.x * gy[at] - k.y * (x[at] - k.w) - k.z;
  }
}
