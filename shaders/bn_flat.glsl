// Flat vec4 spans for the elementwise batch-norm passes (bn_*_flat): the
// tensor's planes * hw floats (a multiple of 4, hw >= 4) are read as
// vec4s, invocation i taking vec4s [i * parts, i * parts + parts).  A vec4
// then straddles at most one channel boundary, so a span carries the
// coefficients of the current channel (k0) and the next (k1) and picks
// per element; the plane and channel are decoded once per invocation and
// stepped after.  Include after the push constants P { planes, c, hw,
// parts, wide } p and the vec4 coef[] buffer.
#ifndef DAM_BN_FLAT_GLSL
#define DAM_BN_FLAT_GLSL

struct bn_flat_span {
  uint v, end; // vec4 index and the end of the span
  uint o;      // float offset of v's first element within its plane
  uint next;   // the channel after v's first element's
  vec4 k0, k1;
};

// Per-element coefficients of the vec4 at s.v (x, y, z, w as in coef[]).
struct bn_flat_coef {
  vec4 x, y, z, w;
};

// False when invocation i has no span.
bool bn_flat_begin(uint i, out bn_flat_span s) {
  uint total = p.planes * p.hw / 4u;
  s.v = i * p.parts;
  s.end = min(s.v + p.parts, total);
  s.o = 0u, s.next = 0u, s.k0 = vec4(0.0), s.k1 = vec4(0.0);
  if (i >= (total + p.parts - 1u) / p.parts) return false;
  uint f = 4u * s.v, plane = f / p.hw, ch = plane % p.c;
  s.o = f - plane * p.hw;
  s.next = ch + 1u == p.c ? 0u : ch + 1u;
  s.k0 = coef[ch];
  s.k1 = coef[s.next];
  return true;
}

bn_flat_coef bn_flat_select(bn_flat_span s) {
  bvec4 m = greaterThanEqual(uvec4(s.o) + uvec4(0u, 1u, 2u, 3u),
                             uvec4(p.hw));
  return bn_flat_coef(mix(vec4(s.k0.x), vec4(s.k1.x), m),
                      mix(vec4(s.k0.y), vec4(s.k1.y), m),
                      mix(vec4(s.k0.z), vec4(s.k1.z), m),
                      mix(vec4(s.k0.w), vec4(s.k1.w), m));
}

// Moves s's plane offset past the vec4 just handled (s.v is the caller's).
void bn_flat_step(inout bn_flat_span s) {
  s.o += 4u;
  if (s.o >= p.hw) {
    s.o -= p.hw;
    s.k0 = s.k1;
    s.next = s.next + 1u == p.c ? 0u : s.next + 1u;
    s.k1 = coef[s.next];
  }
}

#endif
