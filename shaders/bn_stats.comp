// Batch-norm training statistics (bn_stats.glsl) over planes of floats, or
// with wide set (hw a multiple of 4) of vec4s.
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
  if (p.wide != 0u) {
    uint units = p.hw / 4u;
    for (bn_slot s = bn_slot_first(j, units); s.n < p.n;
         bn_slot_next(s, units)) {
      vec4 d = texelFetch(x, int((s.n * p.c + ch) * units + s.u)) - shift;
      s1 += (d.x + d.y) + (d.z + d.w);
      s2 += dot(d, d);
    }
  } else {
    for (bn_slot s = bn_slot_first(j, p.hw); s.n < p.n;
         bn_slot_next(s, p.hw)) {
      float d = dam_texel_float(x, (s.n * p.c + ch) * p.hw + s.u) - shift;
      s1 += d;
      s2 += d * d;
    }
  }
  bn_stats_finish(ch, j, vec2(s1, s2));
}
