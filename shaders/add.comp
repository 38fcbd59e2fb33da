// y = a + b
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "elementwise.glsl"
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, s = dam_elementwise_slot(p.n, j, k);
    if (s == DAM_VEC4) y4[k] = a4[k] + b4[k];
    else if (s == DAM_FLOAT) y[k] = a[k] + b[k];
  }
}
