// y = max(x, 0)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "elementwise.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, s = dam_elementwise_slot(p.n, j, k);
    if (s == DAM_VEC4) y4[k] = max(texelFetch(x, int(k)), vec4(0.0));
    else if (s == DAM_FLOAT) y[k] = max(dam_texel_float(x, k), 0.0);
  }
}
