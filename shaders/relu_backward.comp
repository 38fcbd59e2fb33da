// gx += gy where x > 0 (selected, not multiplied: a NaN in gy stays out);
// gx is read through binding 3, its range as texels (set_or_add.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "elementwise.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) writeonly buffer GX { float gx[]; };
layout(std430, binding = 2) writeonly buffer GX4 { vec4 gx4[]; };
layout(binding = 3) uniform samplerBuffer gx_old;  // binding 2 as texels
layout(push_constant) uniform P { uint n; } p;
void main() {
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, s = dam_elementwise_slot(p.n, j, k);
    if (s == DAM_VEC4)
      gx4[k] = texelFetch(gx_old, int(k)) +
               mix(vec4(0.0), texelFetch(gy, int(k)),
                   greaterThan(texelFetch(x, int(k)), vec4(0.0)));
    else if (s == DAM_FLOAT && dam_texel_float(x, k) > 0.0)
      gx[k] = dam_texel_float(gx_old, k) + dam_texel_float(gy, k);
  }
}
