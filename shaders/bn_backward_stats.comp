// Batch-norm backward sums (bn_backward_stats.glsl) over planes of floats,
// or with wide set (hw a multiple of 4) of vec4s.
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
  if (p.wide != 0u) {
    uint units = p.hw / 4u;
    for (bn_slot s = bn_slot_first(j, units); s.n < p.n;
         bn_slot_next(s, units)) {
      int v = int((s.n * p.c + ch) * units + s.u);
      vec4 g = texelFetch(gy, v);
      s1 += (g.x + g.y) + (g.z + g.w);
      s2 += dot(g, texelFetch(x, v) - mu);
    }
  } else {
    for (bn_slot s = bn_slot_first(j, p.hw); s.n < p.n;
         bn_slot_next(s, p.hw)) {
      uint e = (s.n * p.c + ch) * p.hw + s.u;
      float g = dam_texel_float(gy, e);
      s1 += g;
      s2 += g * (dam_texel_float(x, e) - mu);
    }
  }
  bn_backward_finish(ch, j, vec2(s1, s2));
}
