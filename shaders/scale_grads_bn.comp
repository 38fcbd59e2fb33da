// scale_grads.comp for terms that are batch-norm outputs not yet made
// (dam_tensor.bn_of): the partial dot products <gy, t0> and <gy, t1> (mask
// bits 4, 8) read term i through its norm's coefficients where bit i of bn
// is set (bn_terms.glsl); g0 += s0[0] * gy and g1 += s1[0] * gy (bits 1,
// 2) as there, written over in the _set variant.  Invocation i takes
// vec4s [i * span, (i + 1) * span) and writes its partial dots at i.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) readonly buffer S0 { float s0[]; };
layout(std430, binding = 2) readonly buffer S1 { float s1[]; };
layout(std430, binding = 3) buffer G04 { vec4 g04[]; };
layout(std430, binding = 4) buffer G14 { vec4 g14[]; };
layout(binding = 5) uniform samplerBuffer x0;
layout(binding = 6) uniform samplerBuffer x1;
layout(std430, binding = 7) writeonly buffer D0 { float part0[]; };
layout(std430, binding = 8) writeonly buffer D1 { float part1[]; };
layout(std430, binding = 9) readonly buffer C0 { vec4 coef0[]; };
layout(std430, binding = 10) readonly buffer C1 { vec4 coef1[]; };
layout(push_constant) uniform P {
  uint planes, c, hw, span, bn, mask;
} p;
#include "bn_terms.glsl"
#include "set_or_add.glsl"

void main() {
  uint i = dam_linear_id(), total = p.planes * p.hw / 4u;
  if (i >= (total + p.span - 1u) / p.span) return;
  bool grad0 = (p.mask & 1u) != 0u, grad1 = (p.mask & 2u) != 0u;
  bool dot0 = (p.mask & 4u) != 0u, dot1 = (p.mask & 8u) != 0u;
  float w0 = grad0 ? s0[0] : 0.0, w1 = grad1 ? s1[0] : 0.0;
  uint v = i * p.span, end = min(v + p.span, total);
  bn_terms s = bn_terms_begin(v);
  float d0 = 0.0, d1 = 0.0;
  for (; v < end; v++) {
    vec4 g = texelFetch(gy, int(v));
    if (grad0) SET_OR_ADD(g04[v], w0 * g);
    if (grad1) SET_OR_ADD(g14[v], w1 * g);
    if (dot0) d0 += dot(g, bn_term(s, 0u, texelFetch(x0, int(v))));
    if (dot1) d1 += dot(g, bn_term(s, 1u, texelFetch(x1, int(v))));
    bn_terms_step(s);
  }
  if (dot0) part0[i] = d0;
  if (dot1) part1[i] = d1;
}
