// y = x (a copy through the shader memory path)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "elementwise.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  for (uint j = 0u; j < DAM_EW_SLOTS; j++) {
    uint k, s = dam_elementwise_slot(p.n, j, k);
    if (s == DAM_VEC4) y4[k] = x4[k];
    else if (s == DAM_FLOAT) y[k] = x[k];
  }
}
