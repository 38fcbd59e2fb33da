// scale_by.comp for terms that are batch-norm outputs not yet written
// (dam_tensor.bn_of): y = s0[0] * t0 + s1[0] * t1 + a, where term i, when
// bit i of `bn` is set, is its batch norm's input x_i normalized on the
// fly as bn_apply.comp would, ((x - k.x) - k.y) * k.z + k.w with the
// element's channel's coefficients k from coef_i, and otherwise x_i
// itself (coef_i is then a placeholder, read but not used).  The second
// term (has_second 0) and a (has_a 0) are optional; a may be y.
// Over flat vec4 spans of the whole tensor as bn_flat.glsl walks them
// (planes * hw floats a multiple of 4, hw >= 4): a vec4 straddles at most
// one channel boundary, so each term carries the coefficients of the
// current channel and the next.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer S0 { float s0[]; };
layout(binding = 1) uniform samplerBuffer x0;  // vec4 texels
layout(binding = 2) uniform samplerBuffer a;
layout(std430, binding = 3) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 4) readonly buffer S1 { float s1[]; };
layout(binding = 5) uniform samplerBuffer x1;
layout(std430, binding = 6) readonly buffer C0 { vec4 coef0[]; };
layout(std430, binding = 7) readonly buffer C1 { vec4 coef1[]; };
layout(push_constant) uniform P {
  uint planes, c, hw, parts, has_a, has_second, bn;
} p;

const vec4 IDENTITY = vec4(0.0, 0.0, 1.0, 0.0);

// Term i's coefficients of channel ch (IDENTITY for a plain term).
vec4 coef_of(uint i, uint ch) {
  vec4 k = i == 0u ? coef0[ch] : coef1[ch];
  return (p.bn & (1u << i)) != 0u ? k : IDENTITY;
}

// The vec4 t normalized with k0 for its elements in the current channel
// and k1 for those (m) in the next.
vec4 normalized(vec4 t, vec4 k0, vec4 k1, bvec4 m) {
  vec4 kx = mix(vec4(k0.x), vec4(k1.x), m), ky = mix(vec4(k0.y), vec4(k1.y), m);
  vec4 kz = mix(vec4(k0.z), vec4(k1.z), m), kw = mix(vec4(k0.w), vec4(k1.w), m);
  return ((t - kx) - ky) * kz + kw;
}

void main() {
  uint i = dam_linear_id(), total = p.planes * p.hw / 4u;
  if (i >= (total + p.parts - 1u) / p.parts) return;
  uint v = i * p.parts, end = min(v + p.parts, total);
  uint f = 4u * v, plane = dam_udiv(f, p.hw), ch = plane - dam_udiv(plane, p.c) * p.c;
  uint o = f - plane * p.hw, next = ch + 1u == p.c ? 0u : ch + 1u;
  vec4 a0 = coef_of(0u, ch), a1 = coef_of(0u, next);
  vec4 b0 = coef_of(1u, ch), b1 = coef_of(1u, next);
  float w0 = s0[0], w1 = p.has_second != 0u ? s1[0] : 0.0;
  for (; v < end; v++) {
    bvec4 m = greaterThanEqual(uvec4(o) + uvec4(0u, 1u, 2u, 3u), uvec4(p.hw));
    vec4 r = w0 * normalized(texelFetch(x0, int(v)), a0, a1, m);
    if (p.has_second != 0u)
      r += w1 * normalized(texelFetch(x1, int(v)), b0, b1, m);
    y4[v] = r + (p.has_a != 0u ? texelFetch(a, int(v)) : vec4(0.0));
    o += 4u;
    if (o >= p.hw) {
      o -= p.hw;
      a0 = a1, b0 = b1;
      next = next + 1u == p.c ? 0u : next + 1u;
      a1 = coef_of(0u, next), b1 = coef_of(1u, next);
    }
  }
}
