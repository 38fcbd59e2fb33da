// Batch-norm training statistics in one dispatch without partial sums (CPU
// devices): workgroup ch, one subgroup of 8 invocations, takes channel ch.
// Each sums d = x - shift and d * d over its texels of the channel
// (bn_channel.glsl; the _flat variant for planes of other than 4k floats),
// subgroupAdd adds the eight up, and invocation 0 writes what
// bn_stats.glsl's last invocation would (bn_stats_coef.glsl, which has
// the bindings and push constants; parts is 8, wide unused).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 8) in;
#include "bn_stats_coef.glsl"
#include "bn_channel.glsl"

void main() {
  uint ch = dam_linear_id() / 8u, j = gl_LocalInvocationID.x;
  if (ch >= p.c) return; // whole workgroups
  float shift = bn_shift(ch);
  vec2 s = vec2(0.0);
  bn_walk w = bn_walk_begin(ch, j);
  uint v;
  bvec4 lanes;
  while (bn_walk_next(w, v, lanes)) {
    vec4 d = mix(vec4(0.0), texelFetch(x, int(v)) - shift, lanes);
    s.x += (d.x + d.y) + (d.z + d.w);
    s.y += dot(d, d);
  }
  s = subgroupAdd(s);
  if (j == 0u) coef[ch] = bn_stats_coef(ch, s);
}
