// The gradients of a scale_by.comp sum y = s0[0] * x0 + s1[0] * x1 (+ a):
// g0 += s0[0] * gy and g1 += s1[0] * gy, each only when its bit of mask
// (1, 2) is set, and the partial dot products <gy, x0> and <gy, x1> for
// the scales' gradients (bits 4, 8), one per invocation into part0 and
// part1, added up later (core/part_sums.c).  Bindings of unset bits are
// placeholders.  Invocation i of p.parts takes vec4s i, i + parts, ...
// of the n / 4 (neighbouring invocations read neighbouring vec4s), and
// invocations i < n % 4 one float each of those left over; gy is read
// once for all four outputs.  The _set variant writes g0 and g1 over
// instead (set_or_add.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) readonly buffer S0 { float s0[]; };
layout(std430, binding = 2) readonly buffer S1 { float s1[]; };
layout(std430, binding = 3) buffer G0 { float g0[]; };
layout(std430, binding = 3) buffer G04 { vec4 g04[]; };
layout(std430, binding = 4) buffer G1 { float g1[]; };
layout(std430, binding = 4) buffer G14 { vec4 g14[]; };
layout(binding = 5) uniform samplerBuffer x0;
layout(binding = 6) uniform samplerBuffer x1;
layout(std430, binding = 7) writeonly buffer D0 { float part0[]; };
layout(std430, binding = 8) writeonly buffer D1 { float part1[]; };
layout(push_constant) uniform P { uint n, mask, parts; } p;
#include "set_or_add.glsl"

void main() {
  uint i = dam_linear_id();
  if (i >= p.parts) return;
  bool grad0 = (p.mask & 1u) != 0u, grad1 = (p.mask & 2u) != 0u;
  bool dot0 = (p.mask & 4u) != 0u, dot1 = (p.mask & 8u) != 0u;
  float w0 = grad0 ? s0[0] : 0.0, w1 = grad1 ? s1[0] : 0.0;
  uint n4 = p.n / 4u;
  float d0 = 0.0, d1 = 0.0;
  for (uint k = i; k < n4; k += p.parts) {
    vec4 g = texelFetch(gy, int(k));
    if (grad0) SET_OR_ADD(g04[k], w0 * g);
    if (grad1) SET_OR_ADD(g14[k], w1 * g);
    if (dot0) d0 += dot(g, texelFetch(x0, int(k)));
    if (dot1) d1 += dot(g, texelFetch(x1, int(k)));
  }
  if (i < p.n % 4u) {
    uint k = 4u * n4 + i;
    float g = dam_texel_float(gy, k);
    if (grad0) SET_OR_ADD(g0[k], w0 * g);
    if (grad1) SET_OR_ADD(g1[k], w1 * g);
    if (dot0) d0 += g * dam_texel_float(x0, k);
    if (dot1) d1 += g * dam_texel_float(x1, k);
  }
  if (dot0) part0[i] = d0;
  if (dot1) part1[i] = d1;
}
