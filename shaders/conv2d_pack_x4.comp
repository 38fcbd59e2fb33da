// The input in the packed layout of conv2d_packed.glsl when W is a
// multiple of 4, so every input row starts on a vec4: like conv2d_pack_x
// (one invocation per padded row of four channels), but each step reads
// four pixels of each of the four channels as one vec4 and transposes them
// into four channels-last vec4s.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(std430, binding = 0) readonly buffer X { vec4 x[]; };
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
  uint hw4 = p.H * p.W / 4u, w4 = p.W / 4u;
  uint b = (n * p.C + g * p.Cg + c) * hw4 + (ih - p.ph) * w4;
  uint nc = min(p.Cg - c, 4u);
  uint bq[4];
  for (uint q = 0u; q < 4u; q++) bq[q] = b + min(q, nc - 1u) * hw4;
  for (uint iw = 0u; iw < p.pw; iw++) xp[o + iw * c4] = vec4(0.0);
  o += p.pw * c4;
  for (uint i = 0u; i < w4; i++) {
    vec4 r0 = x[bq[0] + i], r1 = x[bq[1] + i], r2 = x[bq[2] + i],
         r3 = x[bq[3] + i];
    if (nc < 4u) {
      r3 = vec4(0.0);
      if (nc < 3u) r2 = vec4(0.0);
      if (nc < 2u) r1 = vec4(0.0);
    }
    xp[o] = conv_x(vec4(r0.x, r1.x, r2.x, r3.x));
    xp[o + c4] = conv_x(vec4(r0.y, r1.y, r2.y, r3.y));
    xp[o + 2u * c4] = conv_x(vec4(r0.z, r1.z, r2.z, r3.z));
    xp[o + 3u * c4] = conv_x(vec4(r0.w, r1.w, r2.w, r3.w));
    o += 4u * c4;
  }
  for (uint iw = 0u; iw < p.pw; iw++) xp[o + iw * c4] = vec4(0.0);
}
