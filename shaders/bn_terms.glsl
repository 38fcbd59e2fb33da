// The channel walk of scale_by_bn.comp and scale_grads_bn.comp: up to two
// terms of a node sum, each a batch-norm output not yet made (its bit of
// p.bn set: its input normalized on the fly as bn_apply.comp would,
// ((x - k.x) - k.y) * k.z + k.w with the element's channel's coefficients
// k from coef0 / coef1) or a plain tensor (its coefficients a placeholder,
// read but not used).  Over flat vec4 spans as bn_flat.glsl walks them
// (planes * hw floats a multiple of 4, hw >= 4): a vec4 straddles at most
// one channel boundary, so each term carries the coefficients of the
// current channel and the next.  Include after the push constants
// (P { ..., planes, c, hw, span, bn } p) and the vec4 coef0[], coef1[]
// buffers.
#ifndef DAM_BN_TERMS_GLSL
#define DAM_BN_TERMS_GLSL

const vec4 BN_IDENTITY = vec4(0.0, 0.0, 1.0, 0.0);

struct bn_terms {
  uint o;    // float offset of the vec4's first element within its plane
  uint next; // the channel after that element's
  vec4 a0, a1, b0, b1; // the terms' coefficients: this channel, the next
};

// Term i's coefficients of channel ch.
vec4 bn_coef_of(uint i, uint ch) {
  vec4 k = i == 0u ? coef0[ch] : coef1[ch];
  return (p.bn & (1u << i)) != 0u ? k : BN_IDENTITY;
}

// The walk from vec4 v on.
bn_terms bn_terms_begin(uint v) {
  uint f = 4u * v, plane = dam_udiv(f, p.hw);
  uint ch = plane - dam_udiv(plane, p.c) * p.c;
  bn_terms s;
  s.o = f - plane * p.hw;
  s.next = ch + 1u == p.c ? 0u : ch + 1u;
  s.a0 = bn_coef_of(0u, ch), s.a1 = bn_coef_of(0u, s.next);
  s.b0 = bn_coef_of(1u, ch), s.b1 = bn_coef_of(1u, s.next);
  return s;
}

// The vec4 t of term i at the walk's place, normalized for a pending term.
vec4 bn_term(bn_terms s, uint i, vec4 t) {
  bvec4 m = greaterThanEqual(uvec4(s.o) + uvec4(0u, 1u, 2u, 3u),
                             uvec4(p.hw));
  vec4 k0 = i == 0u ? s.a0 : s.b0, k1 = i == 0u ? s.a1 : s.b1;
  vec4 kx = mix(vec4(k0.x), vec4(k1.x), m), ky = mix(vec4(k0.y), vec4(k1.y), m);
  vec4 kz = mix(vec4(k0.z), vec4(k1.z), m), kw = mix(vec4(k0.w), vec4(k1.w), m);
  return ((t - kx) - ky) * kz + kw;
}

// Moves the walk past one vec4.
void bn_terms_step(inout bn_terms s) {
  s.o += 4u;
  if (s.o >= p.hw) {
    s.o -= p.hw;
    s.a0 = s.a1, s.b0 = s.b1;
    s.next = s.next + 1u == p.c ? 0u : s.next + 1u;
    s.a1 = bn_coef_of(0u, s.next), s.b1 = bn_coef_of(1u, s.next);
  }
}

#endif
