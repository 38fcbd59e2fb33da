// The input in the packed layout of conv2d_packed.glsl: one invocation per
// padded row of four channels (n, g, row, c4), walking along the row, so
// the index is decoded (divisions are scalarised per lane) once per row.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer XP { vec4 xp[]; };

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint c4 = pk_c4(), wp = pk_wp(), hp = pk_hp();
  uint c = id % c4, t = id / c4;
  uint ih = t % hp, ng = t / hp;
  uint g = ng % p.groups, n = ng / p.groups;
  uint o = (ng * hp + ih) * wp * c4 + c;
  c *= 4u;
  if (ih < p.ph || ih >= p.ph + p.H) {
    for (uint iw = 0u; iw < wp; iw++) xp[o + iw * c4] = vec4(0.0);
    return;
  }
  uint hw = p.H * p.W;
  uint b = (n * p.C + g * p.Cg + c) * hw + (ih - p.ph) * p.W;
  uint nc = min(p.Cg - c, 4u);
  for (uint iw = 0u; iw < p.pw; iw++) xp[o + iw * c4] = vec4(0.0);
  for (uint iw = 0u; iw < p.W; iw++) {
    vec4 v = vec4(0.0);
    for (uint q = 0u; q < nc; q++) v[q] = x[b + q * hw + iw];
    xp[o + (p.pw + iw) * c4] = conv_x(v);
  }
  for (uint iw = p.pw + p.W; iw < wp; iw++) xp[o + iw * c4] = vec4(0.0);
}
