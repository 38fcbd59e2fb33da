// gx += gy where x > 0 (selected, not multiplied: a NaN in gy stays out);
// gx is read through binding 3, its range as texels (set_or_add.glsl),
// and stored in pairs of vec4s (store8.glsl; relu_backward_wide on CPU
// devices).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "elementwise.glsl"
#include "store8.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) writeonly buffer GX { float gx[]; };
DAM_OUT_BUFFER(2, GX4, gx4);
layout(binding = 3) uniform samplerBuffer gx_old;  // binding 2 as texels
layout(push_constant) uniform P { uint n; } p;

vec4 gx_at(uint v) {
  return texelFetch(gx_old, int(v)) +
         mix(vec4(0.0), texelFetch(gy, int(v)),
             greaterThan(texelFetch(x, int(v)), vec4(0.0)));
}

void main() {
  for (uint j = 0u; j < DAM_EW_PAIR_SLOTS; j++) {
    uint k, s = dam_elementwise_pair_slot(p.n, j, k);
    if (s == DAM_PAIR) {
      DAM_STORE8(gx4, k, gx_at(2u * k), gx_at(2u * k + 1u));
    } else if (s == DAM_FLOAT && dam_texel_float(x, k) > 0.0)
      gx[k] = dam_texel_float(gx_old, k) + dam_texel_float(gy, k);
  }
}
