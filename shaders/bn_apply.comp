// Batch-norm normalization: y = ((x - coef.x) - coef.y) * coef.z + coef.w
// with the coefficients of the element's channel.  `parts` invocations
// share an (n, c) plane, each taking every parts-th element, so the
// coefficients are read once per invocation and neighbours touch
// neighbouring addresses.  With wide set (hw a multiple of 4) x and y are
// accessed through their vec4 views.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) readonly buffer C { vec4 coef[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, e = i - plane * p.parts;
  vec4 k = coef[plane % p.c];
  if (p.wide != 0u) {
    uint n = p.hw / 4u, base = plane * n;
    for (; e < n; e += p.parts)
      y4[base + e] = ((texelFetch(x, int(base + e)) - k.x) - k.y) * k.z + k.w;
  } else {
    uint base = plane * p.hw;
    for (; e < p.hw; e += p.parts)
      y[base + e] = ((dam_texel_float(x, base + e) - k.x) - k.y) * k.z + k.w;
  }
}
