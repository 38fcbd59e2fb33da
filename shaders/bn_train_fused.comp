// Batch-norm training forward in one dispatch (bn_fused.glsl): each
// workgroup sums d = x - shift and d * d over its channel, turns the sums
// into the statistics (bn_train_coef.glsl; its first lane stores them),
// then writes y = ((x - shift) - (mean - shift)) * invstd * gamma + beta.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer B { float beta[]; };
layout(std430, binding = 3) buffer RM { float running_mean[]; };
layout(std430, binding = 4) buffer RV { float running_var[]; };
layout(std430, binding = 5) writeonly buffer SM { float save_mean[]; };
layout(std430, binding = 6) writeonly buffer SI { float save_invstd[]; };
layout(std430, binding = 7) writeonly buffer Y { float y[]; };
layout(std430, binding = 7) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts, wide;
  uint flags; // 1: gamma, 2: beta, 4: running_mean, 8: running_var given
  float eps, momentum;
} p;
#include "bn_fused.glsl"
#include "bn_train_coef.glsl"
void main() {
  uint ch = dam_linear_id() / BN_LANES, v;
  if (ch >= p.c) return;
  float shift = bn_shift(ch);
  vec2 s = vec2(0.0);
  bvec4 in_plane;
  for (bn_walk w = bn_walk_first(); w.n < p.n; bn_walk_next(w)) {
    if (!bn_walk_texel(w, ch, v, in_plane)) continue;
    vec4 d = mix(vec4(0.0), texelFetch(x, int(v)) - shift, in_plane);
    s += vec2((d.x + d.y) + (d.z + d.w), dot(d, d));
  }
  vec4 k = bn_train_coef(ch, bn_workgroup_sum(s), shift,
                         gl_LocalInvocationID.x == 0u);
  for (bn_walk w = bn_walk_first(); w.n < p.n; bn_walk_next(w)) {
    if (!bn_walk_texel(w, ch, v, in_plane)) continue;
    vec4 r = ((texelFetch(x, int(v)) - k.x) - k.y) * k.z + k.w;
    if (p.wide != 0u) {
      y4[v] = r;
    } else {
      for (uint i = 0u; i < 4u; i++)
        if (in_plane[i]) y[4u * v + i] = r[i];
    }
  }
}
