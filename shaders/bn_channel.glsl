// The walk of the bn_*_channel shaders: a subgroup of 8 invocations per
// channel, invocation j of channel ch visiting texels (vec4s) of the
// channel's planes, with `lanes` the texel's floats that are the plane's.
// Planes of 4k floats: the vec4 slots j, j + 8, ... (bn_slot.glsl,
// parts = 8), every lane the plane's.  FLAT (planes of other sizes in a
// tensor of 4k floats): the planes n = j, j + 8, ... each texel by texel,
// the first and last texel of a plane masked to it.  Use:
//   bn_walk w = bn_walk_begin(ch, j);
//   uint v; bvec4 lanes;
//   while (bn_walk_next(w, v, lanes)) { ... }
// Include after the push constants P { n, c, hw, parts, ... } p.
#ifndef DAM_BN_CHANNEL_GLSL
#define DAM_BN_CHANNEL_GLSL

#include "bn_slot.glsl"

#ifndef FLAT
#define FLAT 0
#endif

#if FLAT
struct bn_walk {
  uint ch, n;
  uint v, end; // the next texel and the end of plane n's
  uint first;  // plane n's first float
};

void bn_walk_plane(inout bn_walk w) {
  w.first = (w.n * p.c + w.ch) * p.hw;
  w.v = w.first / 4u;
  w.end = (w.first + p.hw + 3u) / 4u;
}

bn_walk bn_walk_begin(uint ch, uint j) {
  bn_walk w = bn_walk(ch, j, 0u, 0u, 0u);
  bn_walk_plane(w);
  return w;
}

bool bn_walk_next(inout bn_walk w, out uint v, out bvec4 lanes) {
  if (w.v == w.end) {
    w.n += 8u;
    bn_walk_plane(w);
  }
  v = w.v++;
  lanes = bvec4(true);
  if (w.n >= p.n) return false;
  uint at = 4u * v;
  if (at < w.first || at + 4u > w.first + p.hw) {
    uvec4 f = uvec4(at) + uvec4(0u, 1u, 2u, 3u);
    lanes = bvec4(uvec4(greaterThanEqual(f, uvec4(w.first))) &
                  uvec4(lessThan(f, uvec4(w.first + p.hw))));
  }
  return true;
}
#else
struct bn_walk {
  uint ch;
  bn_slot s;
};

bn_walk bn_walk_begin(uint ch, uint j) {
  return bn_walk(ch, bn_slot_first(j, p.hw / 4u));
}

bool bn_walk_next(inout bn_walk w, out uint v, out bvec4 lanes) {
  uint units = p.hw / 4u;
  v = (w.s.n * p.c + w.ch) * units + w.s.u;
  lanes = bvec4(true);
  if (w.s.n >= p.n) return false;
  bn_slot_next(w.s, units);
  return true;
}
#endif

#endif
