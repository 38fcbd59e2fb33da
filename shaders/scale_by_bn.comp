// scale_by.comp for terms that are batch-norm outputs not yet made
// (dam_tensor.bn_of): y = s0[0] * t0 + s1[0] * t1 + a, term i read through
// its norm's coefficients where bit i of bn is set (bn_terms.glsl).  The
// second term (has_second 0) and a (has_a 0) are optional; a may be y.
// The _quad variant (BN_TERMS 4) adds s2[0] * t2 + s3[0] * t3, bound at
// 8 .. 13 (has_second 1).  Invocation i takes vec4s [i * span,
// (i + 1) * span) (span even), stored in pairs (store8.glsl;
// scale_by_bn_wide and scale_by_bn_quad_wide on CPU devices).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer S0 { float s0[]; };
layout(binding = 1) uniform samplerBuffer x0;  // vec4 texels
layout(binding = 2) uniform samplerBuffer a;
#include "store8.glsl"
DAM_OUT_BUFFER(3, Y4, y4);
layout(std430, binding = 4) readonly buffer S1 { float s1[]; };
layout(binding = 5) uniform samplerBuffer x1;
layout(std430, binding = 6) readonly buffer C0 { vec4 coef0[]; };
layout(std430, binding = 7) readonly buffer C1 { vec4 coef1[]; };
#if BN_TERMS > 2
layout(std430, binding = 8) readonly buffer S2 { float s2[]; };
layout(binding = 9) uniform samplerBuffer x2;
layout(std430, binding = 10) readonly buffer C2 { vec4 coef2[]; };
layout(std430, binding = 11) readonly buffer S3 { float s3[]; };
layout(binding = 12) uniform samplerBuffer x3;
layout(std430, binding = 13) readonly buffer C3 { vec4 coef3[]; };
#endif
layout(push_constant) uniform P {
  uint planes, c, hw, span, bn, has_a, has_second;
} p;
#include "bn_terms.glsl"

// The sum at vec4 v with the terms' weights w, the walk s there; moves s
// past it.
vec4 sum_at(inout bn_terms s, vec4 w, uint v) {
  vec4 r = w.x * bn_term(s, 0u, texelFetch(x0, int(v)));
  if (p.has_second != 0u)
    r += w.y * bn_term(s, 1u, texelFetch(x1, int(v)));
#if BN_TERMS > 2
  r += w.z * bn_term(s, 2u, texelFetch(x2, int(v)));
  r += w.w * bn_term(s, 3u, texelFetch(x3, int(v)));
#endif
  bn_terms_step(s);
  return r + (p.has_a != 0u ? texelFetch(a, int(v)) : vec4(0.0));
}

void main() {
  uint i = dam_linear_id(), total = p.planes * p.hw / 4u;
  if (i >= (total + p.span - 1u) / p.span) return;
  uint v = i * p.span, end = min(v + p.span, total);
  bn_terms s = bn_terms_begin(v);
  vec4 w = vec4(s0[0], p.has_second != 0u ? s1[0] : 0.0, 0.0, 0.0);
#if BN_TERMS > 2
  w.zw = vec2(s2[0], s3[0]);
#endif
  for (; v + 1u < end; v += 2u) {
    vec4 r = sum_at(s, w, v);
    DAM_STORE8(y4, v / 2u, r, sum_at(s, w, v + 1u));
  }
  if (v < end) {
    DAM_STORE4(y4, v, sum_at(s, w, v));
  }
}
