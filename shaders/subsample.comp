// y[n,c,i,j] = x[n,c, s*i + o, s*j + o], zero past x's edge.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n, h, w, oh, ow, s, o; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  uint j = i % p.ow, r = i / p.ow, k = r % p.oh, plane = r / p.oh;
  uint iy = k * p.s + p.o, ix = j * p.s + p.o;
  y[i] = iy < p.h && ix < p.w ? x[(plane * p.h + iy) * p.w + ix] : 0.0;
}
