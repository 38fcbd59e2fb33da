// Batch-norm training statistics (bn_stats.glsl) for tensors of 4k floats
// whose planes are not: a plane's units are the vec4s covering it (one
// more than hw / 4 rounded up, for planes that start mid-vec4), masked to
// the plane.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
#include "bn_stats.glsl"
void main() {
  uint i = dam_linear_id();
  if (i >= p.c * p.parts) return;
  uint ch = i / p.parts, j = i - ch * p.parts;
  float shift = bn_shift(ch);
  float s1 = 0.0, s2 = 0.0;
  uint units = (p.hw + 3u) / 4u + 1u;
  for (bn_slot s = bn_slot_first(j, units); s.n < p.n;
       bn_slot_next(s, units)) {
    uint first = (s.n * p.c + ch) * p.hw, v = first / 4u + s.u;
    uvec4 at = uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u);
    bvec4 in_plane = bvec4(uvec4(greaterThanEqual(at, uvec4(first))) &
                           uvec4(lessThan(at, uvec4(first + p.hw))));
    if (!any(in_plane)) continue;
    vec4 d = mix(vec4(0.0), texelFetch(x, int(v)) - shift, in_plane);
    s1 += (d.x + d.y) + (d.z + d.w);
    s2 += dot(d, d);
  }
  bn_stats_finish(ch, j, vec2(s1, s2));
}
