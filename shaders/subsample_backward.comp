// gx[n,c, s*i + o, s*j + o] += gy[n,c,i,j] (the positions inside x): one
// invocation per element of gy.  The map from (i, j) to x is one-to-one,
// so no two invocations write one element, and the other elements of gx
// are not touched at all (a quarter of them at stride 2).
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
  uint j = i % p.ow, r = i / p.ow, k = r % p.oh, plane = r / p.oh;
  uint iy = k * p.s + p.o, ix = j * p.s + p.o;
  if (iy < p.h && ix < p.w) gx[(plane * p.h + iy) * p.w + ix] += gy[i];
}
