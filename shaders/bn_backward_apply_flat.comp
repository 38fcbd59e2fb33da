// bn_backward_apply.comp's gx += (_set: =) a * gy - b * (x - mean) - c0
// over flat vec4 spans of the whole tensor (bn_flat.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer C { vec4 coef[]; };
layout(std430, binding = 3) buffer GX4 { vec4 gx4[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
#include "set_or_add.glsl"
#include "bn_flat.glsl"
void main() {
  bn_flat_span s;
  if (!bn_flat_begin(dam_linear_id(), s)) return;
  for (; s.v < s.end; ++s.v) {
    bn_flat_coef k = bn_flat_select(s);
    vec4 v = k.x * texelFetch(gy, int(s.v)) -
             k.y * (texelFetch(x, int(s.v)) - k.w) - k.z;
    SET_OR_ADD(gx4[s.v], v);
    bn_flat_step(s);
  }
}
