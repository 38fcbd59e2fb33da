// y[n,c,i,j] = x[n,c, s*i + o, s*j + o] (its relu with relu set), zero
// past x's edge: one invocation per row of y (rows = N * C * oh), so no
// division per element.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows, h, w, oh, ow, s, o, relu; } p;
void main() {
  uint r = dam_linear_id();
  if (r >= p.rows) return;
  uint iy = (r % p.oh) * p.s + p.o, yo = r * p.ow;
  uint xo = ((r / p.oh) * p.h + iy) * p.w + p.o;
  uint inside = iy < p.h ? min(p.ow, (p.w - p.o + p.s - 1u) / p.s) : 0u;
  for (uint j = 0u; j < p.ow; j++) {
    float v = j < inside ? x[xo + j * p.s] : 0.0;
    y[yo + j] = p.relu != 0u ? max(v, 0.0) : v;
  }
}
