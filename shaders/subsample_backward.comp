// gx[n, c, s*i + o + b, s*j + o + b] += gy[n, b*C + c, i, j] (the positions
// inside x; gy holds `blocks` blocks of gx's C channels, blocks <= s): one
// invocation per row of gy (rows = N * blocks * C * oh).  The map from
// (b, i, j) to x is one-to-one, so no two invocations write one element,
// and the other elements of gx are not touched at all.  With relu set,
// gy passes only where x (binding 3) is positive: the gradient through
// relu(x), the input of the forward's relu.  gx is read through binding
// 2, its range as texels (CPU devices load a storage buffer one lane at a
// time).  The flag is read before the loop (subsample.comp).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) writeonly buffer GX { float gx[]; };
layout(binding = 2) uniform samplerBuffer gx_old;  // binding 1 as texels
layout(binding = 3) uniform samplerBuffer x;  // vec4 texels
layout(push_constant) uniform P { uint rows, h, w, oh, ow, s, o, relu, c, blocks; } p;
void main() {
  uint r = dam_linear_id();
  if (r >= p.rows) return;
  uint plane = dam_udiv(r, p.oh), bc = p.blocks * p.c;
  uint n = dam_udiv(plane, bc), cy = plane - n * bc, b = dam_udiv(cy, p.c);
  uint o = p.o + b, iy = (r - plane * p.oh) * p.s + o, yo = r * p.ow;
  if (iy >= p.h || o >= p.w) return;
  uint xo = ((n * p.c + cy - b * p.c) * p.h + iy) * p.w + o;
  uint inside = min(p.ow, (p.w - o + p.s - 1u) / p.s);
  bool relu = p.relu != 0u;
  for (uint j = 0u; j < inside; j++) {
    uint at = xo + j * p.s;
    float g = dam_texel_float(gy, yo + j);
    if (relu && !(dam_texel_float(x, at) > 0.0)) g = 0.0;
    gx[at] = dam_texel_float(gx_old, at) + g;
  }
}
