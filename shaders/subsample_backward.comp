// gx[n,c,iy,ix] += gy[n,c,i,j] where iy = s*i + o and ix = s*j + o: a
// gather over the input, so no two invocations write one element.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) buffer GX { float gx[]; };
layout(push_constant) uniform P { uint n, h, w, oh, ow, s, o; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  uint ix = i % p.w, r = i / p.w, iy = r % p.h, plane = r / p.h;
  if (iy < p.o || ix < p.o) return;
  uint dy = iy - p.o, dx = ix - p.o;
  if (dy % p.s != 0u || dx % p.s != 0u) return;
  uint k = dy / p.s, j = dx / p.s;
  if (k < p.oh && j < p.ow) gx[i] += gy[(plane * p.oh + k) * p.ow + j];
}
