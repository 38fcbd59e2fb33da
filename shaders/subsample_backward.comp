// gx[n,c, s*i + o, s*j + o] += gy[n,c,i,j] (the positions inside x): one
// invocation per row of gy (rows = N * C * oh).  The map from (i, j) to x
// is one-to-one, so no two invocations write one element, and the other
// elements of gx are not touched at all (3 in 4 at stride 2).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) buffer GX { float gx[]; };
layout(push_constant) uniform P { uint rows, h, w, oh, ow, s, o, relu; } p;
void main() {
  uint r = dam_linear_id();
  if (r >= p.rows) return;
  uint iy = (r % p.oh) * p.s + p.o, yo = r * p.ow;
  if (iy >= p.h) return;
  uint xo = ((r / p.oh) * p.h + iy) * p.w + p.o;
  uint inside = min(p.ow, (p.w - p.o + p.s - 1u) / p.s);
  for (uint j = 0u; j < inside; j++)
    gx[xo + j * p.s] += gy[yo + j];
}
