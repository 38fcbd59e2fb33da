// gx[n, c, s*i + o + b, s*j + o + b] += gy[n, b*C + c, i, j] (the positions
// inside x; gy holds `blocks` blocks of gx's C channels, blocks <= s): one
// invocation per plane of gy (planes = N * blocks * C), walking its rows
// (subsample.comp).  The map from (b, i, j) to x is one-to-one, so no two
// invocations write one element, and the other elements of gx are not
// touched at all.  With relu set, gy passes only where x (binding 3) is
// positive: the gradient through relu(x), the input of the forward's
// relu.  gx is read through binding 2, its range as texels (CPU devices
// load a storage buffer one lane at a time).  The push constants are read
// before the loops (subsample.comp).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer gy;  // vec4 texels
layout(std430, binding = 1) writeonly buffer GX { float gx[]; };
layout(binding = 2) uniform samplerBuffer gx_old;  // binding 1 as texels
layout(binding = 3) uniform samplerBuffer x;  // vec4 texels
layout(push_constant) uniform P { uint planes, h, w, oh, ow, s, o, relu, c, blocks; } p;
void main() {
  uint plane = dam_linear_id();
  if (plane >= p.planes) return;
  uint h = p.h, w = p.w, oh = p.oh, ow = p.ow, s = p.s;
  bool relu = p.relu != 0u;
  uint bc = p.blocks * p.c;
  uint n = dam_udiv(plane, bc), cy = plane - n * bc, b = dam_udiv(cy, p.c);
  uint o = p.o + b, yo = plane * oh * ow;
  if (o >= w) return;
  uint xo = ((n * p.c + cy - b * p.c) * h + o) * w + o;
  uint inside = min(ow, (w - o + s - 1u) / s);
  for (uint i = 0u; i < oh && o + i * s < h; i++) {
    for (uint j = 0u; j < inside; j++) {
      uint at = xo + j * s;
      float g = dam_texel_float(gy, yo + j);
      if (relu && !(dam_texel_float(x, at) > 0.0)) g = 0.0;
      gx[at] = dam_texel_float(gx_old, at) + g;
    }
    xo += s * w;
    yo += ow;
  }
}
