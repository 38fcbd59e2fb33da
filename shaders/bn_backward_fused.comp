// Batch-norm backward to the input in one dispatch (bn_fused.glsl): each
// workgroup sums gy and gy * (x - mean) over its channel, turns the sums
// into coefficients (bn_backward_coef.glsl; its first lane accumulates
// ggamma and gbeta), then gx += a * gy - b * (x - mean) - c0 (gx = ... in
// the _set variant: set_or_add.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer SM { float save_mean[]; };
layout(std430, binding = 3) readonly buffer SI { float save_invstd[]; };
layout(std430, binding = 4) readonly buffer G { float gamma[]; };
layout(std430, binding = 5) buffer GG { float ggamma[]; };
layout(std430, binding = 6) buffer GB { float gbeta[]; };
layout(std430, binding = 7) buffer GX { float gx[]; };
layout(std430, binding = 7) buffer GX4 { vec4 gx4[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts, wide;
  uint flags; // 1: gamma, 2: ggamma, 4: gbeta given; 8: x is xhat
} p;
#include "bn_fused.glsl"
#include "bn_backward_coef.glsl"
#include "set_or_add.glsl"
void main() {
  uint ch = dam_linear_id() / BN_LANES, v;
  if (ch >= p.c) return;
  float mu = bn_centre(ch);
  vec2 s = vec2(0.0);
  bvec4 in_plane;
  for (bn_walk w = bn_walk_first(); w.n < p.n; bn_walk_next(w)) {
    if (!bn_walk_texel(w, ch, v, in_plane)) continue;
    vec4 g = mix(vec4(0.0), texelFetch(gy, int(v)), in_plane);
    vec4 d = mix(vec4(0.0), texelFetch(x, int(v)) - mu, in_plane);
    s += vec2((g.x + g.y) + (g.z + g.w), dot(g, d));
  }
  vec4 k = bn_backward_coef(ch, bn_workgroup_sum(s),
                            gl_LocalInvocationID.x == 0u);
  for (bn_walk w = bn_walk_first(); w.n < p.n; bn_walk_next(w)) {
    if (!bn_walk_texel(w, ch, v, in_plane)) continue;
    vec4 r = k.x * texelFetch(gy, int(v)) -
             k.y * (texelFetch(x, int(v)) - k.w) - k.z;
    if (p.wide != 0u) {
      SET_OR_ADD(gx4[v], r);
    } else {
      for (uint i = 0u; i < 4u; i++)
        if (in_plane[i]) SET_OR_ADD(gx[4u * v + i], r[i]);
    }
  }
}
