// Batch-norm backward to the input: gx += a * gy - b * (x - mean) - c0 with
// coef[c] = (a, b, c0, mean) from bn_backward_stats.glsl (gx = ... in the
// _set variant: set_or_add.glsl).  Planes are
// split over invocations as in bn_apply.comp (vec4 views likewise).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer C { vec4 coef[]; };
layout(std430, binding = 3) buffer GX { float gx[]; };
layout(std430, binding = 3) buffer GX4 { vec4 gx4[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
#include "set_or_add.glsl"
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, e = i - plane * p.parts;
  vec4 k = coef[plane % p.c];
  if (p.wide != 0u) {
    uint n = p.hw / 4u, base = plane * n;
    for (; e < n; e += p.parts) {
      uint at = base + e;
      vec4 v = k.x * texelFetch(gy, int(at)) -
               k.y * (texelFetch(x, int(at)) - k.w) - k.z;
      SET_OR_ADD(gx4[at], v);
    }
  } else {
    uint base = plane * p.hw;
    for (; e < p.hw; e += p.parts) {
      uint at = base + e;
      float v = k.x * dam_texel_float(gy, at) -
                k.y * (dam_texel_float(x, at) - k.w) - k.z;
      SET_OR_ADD(gx[at], v);
    }
  }
}
