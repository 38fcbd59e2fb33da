// gx += gy where x > 0 (selected, not multiplied: a NaN in gy stays out)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
#include "elementwise.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer GY4 { vec4 gy4[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };
layout(std430, binding = 2) buffer GX4 { vec4 gx4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  uint k, s = dam_elementwise_slot(p.n, k);
  if (s == DAM_VEC4)
    gx4[k] += mix(vec4(0.0), gy4[k], greaterThan(x4[k], vec4(0.0)));
  else if (s == DAM_FLOAT && x[k] > 0.0)
    gx[k] += gy[k];
}
