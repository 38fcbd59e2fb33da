// The channel walk of scale_by_bn.comp and scale_grads_bn.comp: up to
// BN_TERMS (2, or 4) terms of a node sum, each a batch-norm output not yet
// made (its bit of p.bn set: its input normalized on the fly as
// bn_apply.comp would, ((x - k.x) - k.y) * k.z + k.w with the element's
// channel's coefficients k from coef0 .. coef3) or a plain tensor (its
// coefficients a placeholder, read but not used).  Over flat vec4 spans
// as bn_flat.glsl walks them (planes * hw floats a multiple of 4, hw >= 4):
// a vec4 straddles at most one channel boundary, so each term carries the
// coefficients of the current channel and the next.  Include after the
// push constants (P { ..., planes, c, hw, span, bn } p) and the vec4
// coef0[] .. buffers.
#ifndef DAM_BN_TERMS_GLSL
#define DAM_BN_TERMS_GLSL

#ifndef BN_TERMS
#define BN_TERMS 2
#endif

const vec4 BN_IDENTITY = vec4(0.0, 0.0, 1.0, 0.0);

struct bn_terms {
  uint o;    // float offset of the vec4's first element within its plane
  uint next; // the channel after that element's
  vec4 k0[BN_TERMS], k1[BN_TERMS]; // each term's: this channel, the next
};

// Term i's coefficients of channel ch.
vec4 bn_coef_of(uint i, uint ch) {
#if BN_TERMS > 2
  vec4 k = i == 0u   ? coef0[ch]
           : i == 1u ? coef1[ch]
           : i == 2u ? coef2[ch]
                     : coef3[ch];
#else
  vec4 k = i == 0u ? coef0[ch] : coef1[ch];
#endif
  return (p.bn & (1u << i)) != 0u ? k : BN_IDENTITY;
}

// The walk from vec4 v on.
bn_terms bn_terms_begin(uint v) {
  uint f = 4u * v, plane = dam_udiv(f, p.hw);
  uint ch = plane - dam_udiv(plane, p.c) * p.c;
  bn_terms s;
  s.o = f - plane * p.hw;
  s.next = ch + 1u == p.c ? 0u : ch + 1u;
  for (uint i = 0u; i < BN_TERMS; i++)
    s.k0[i] = bn_coef_of(i, ch), s.k1[i] = bn_coef_of(i, s.next);
  return s;
}

// The vec4 t of term i at the walk's place, normalized for a pending term.
vec4 bn_term(bn_terms s, uint i, vec4 t) {
  bvec4 m = greaterThanEqual(uvec4(s.o) + uvec4(0u, 1u, 2u, 3u),
                             uvec4(p.hw));
  vec4 k0 = s.k0[i], k1 = s.k1[i];
  vec4 kx = mix(vec4(k0.x), vec4(k1.x), m), ky = mix(vec4(k0.y), vec4(k1.y), m);
  vec4 kz = mix(vec4(k0.z), vec4(k1.z), m), kw = mix(vec4(k0.w), vec4(k1.w), m);
  return ((t - kx) - ky) * kz + kw;
}

// Moves the walk past one vec4.
void bn_terms_step(inout bn_terms s) {
  s.o += 4u;
  if (s.o >= p.hw) {
    s.o -= p.hw;
    s.next = s.next + 1u == p.c ? 0u : s.next + 1u;
    for (uint i = 0u; i < BN_TERMS; i++)
      s.k0[i] = s.k1[i], s.k1[i] = bn_coef_of(i, s.next);
  }
}

#endif
