// Batch-norm training statistics in one dispatch without partial sums (CPU
// devices): workgroup ch, one subgroup of 8 invocations, takes channel ch.
// Each sums d = x - shift and d * d over its texels of the channel
// (bn_channel.glsl; the _flat variant for planes of other than 4k floats),
// subgroupAdd adds the eight up, and invocation 0 writes what
// bn_stats.glsl's last invocation would (bn_stats_coef.glsl, which has
// the bindings and push constants; parts is 8, wide unused).  With PAIR
// (the _pair variants) workgroups c .. 2c - 1 do the same for a second
// norm of the same shape and flags, without gamma and beta (so is the
// first), bound at 8 .. 13.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 8) in;
#include "bn_stats_coef.glsl"
#include "bn_channel.glsl"
#ifndef PAIR
#define PAIR 0
#endif
#if PAIR
layout(binding = 8) uniform samplerBuffer x_1;
layout(std430, binding = 9) buffer RM1 { float running_mean_1[]; };
layout(std430, binding = 10) buffer RV1 { float running_var_1[]; };
layout(std430, binding = 11) writeonly buffer SM1 { float save_mean_1[]; };
layout(std430, binding = 12) writeonly buffer SI1 { float save_invstd_1[]; };
layout(std430, binding = 13) writeonly buffer C1 { vec4 coef_1[]; };
#endif

// Invocation j's part of channel ch's sums of d and d * d, d = x - shift.
vec2 bn_sums(samplerBuffer xb, uint ch, uint j, float shift) {
  vec2 s = vec2(0.0);
  bn_walk w = bn_walk_begin(ch, j);
  uint v;
  bvec4 lanes;
  while (bn_walk_next(w, v, lanes)) {
    vec4 d = mix(vec4(0.0), texelFetch(xb, int(v)) - shift, lanes);
    s.x += (d.x + d.y) + (d.z + d.w);
    s.y += dot(d, d);
  }
  return s;
}

void main() {
  uint wg = dam_linear_id() / 8u, j = gl_LocalInvocationID.x;
  uint term = PAIR != 0 && wg >= p.c ? 1u : 0u, ch = wg - term * p.c;
  if (ch >= p.c) return; // whole workgroups
#if PAIR
  if (term == 1u) {
    float shift = dam_texel_float(x_1, ch * p.hw);
    vec2 s = subgroupAdd(bn_sums(x_1, ch, j, shift));
    if (j == 0u)
      BN_STATS_FINISH(ch, shift, s, 1.0, 0.0, save_mean_1, save_invstd_1,
                      running_mean_1, running_var_1, coef_1[ch])
    return;
  }
#endif
  vec2 s = subgroupAdd(bn_sums(x, ch, j, bn_shift(ch)));
  if (j == 0u) coef[ch] = bn_stats_coef(ch, s);
}
