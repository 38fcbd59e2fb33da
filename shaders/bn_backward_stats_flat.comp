// Batch-norm backward sums (bn_backward_stats.glsl) for tensors of 4k
// floats whose planes are not: units as in bn_stats_flat.comp.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
#include "bn_backward_stats.glsl"
void main() {
  uint i = dam_linear_id();
  if (i >= p.c * p.parts) return;
  uint ch = i / p.parts, j = i - ch * p.parts;
  float mu = bn_centre(ch);
  float s1 = 0.0, s2 = 0.0;
  uint units = (p.hw + 3u) / 4u + 1u;
  for (bn_slot s = bn_slot_first(j, units); s.n < p.n;
       bn_slot_next(s, units)) {
    uint first = (s.n * p.c + ch) * p.hw, v = first / 4u + s.u;
    uvec4 at = uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u);
    bvec4 in_plane = bvec4(uvec4(greaterThanEqual(at, uvec4(first))) &
                           uvec4(lessThan(at, uvec4(first + p.hw))));
    if (!any(in_plane)) continue;
    vec4 g = mix(vec4(0.0), texelFetch(gy, int(v)), in_plane);
    s1 += (g.x + g.y) + (g.z + g.w);
    s2 += dot(g, mix(vec4(0.0), texelFetch(x, int(v)) - mu, in_plane));
  }
  bn_backward_finish(ch, j, vec2(s1, s2));
}
