// bn_apply.comp's normalization, y = ((x - coef.x) - coef.y) * coef.z +
// coef.w with the coefficients of the element's channel, over flat vec4
// spans of the whole tensor (bn_flat.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) readonly buffer C { vec4 coef[]; };
layout(std430, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
#include "bn_flat.glsl"
void main() {
  bn_flat_span s;
  if (!bn_flat_begin(dam_linear_id(), s)) return;
  for (; s.v < s.end; ++s.v) {
    bn_flat_coef k = bn_flat_select(s);
    y4[s.v] = ((texelFetch(x, int(s.v)) - k.x) - k.y) * k.z + k.w;
    bn_flat_step(s);
  }
}
