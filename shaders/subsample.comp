// y[n, b*C + c, i, j] = x[n, c, s*i + o + b, s*j + o + b] (its relu with
// relu set), zero past x's edge: y holds `blocks` blocks of x's C channels,
// block b picking at offset o + b.  One invocation per plane of y (planes
// = N * blocks * C), walking its rows, so the divisions that place a plane
// are made once for all its rows (a row per invocation spent most of its
// time there on 7x7 planes).  The push constants are read before the
// loops: on CPU devices one read inside a loop that fetches texels is
// read again, lane by lane, on every trip.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint planes, h, w, oh, ow, s, o, relu, c, blocks; } p;
void main() {
  uint plane = dam_linear_id();
  if (plane >= p.planes) return;
  uint h = p.h, w = p.w, oh = p.oh, ow = p.ow, s = p.s;
  bool relu = p.relu != 0u;
  uint bc = p.blocks * p.c;
  uint n = dam_udiv(plane, bc), cy = plane - n * bc, b = dam_udiv(cy, p.c);
  uint o = p.o + b, yo = plane * oh * ow;
  uint xo = ((n * p.c + cy - b * p.c) * h + o) * w + o;
  uint inside_w = o < w ? min(ow, (w - o + s - 1u) / s) : 0u;
  for (uint i = 0u; i < oh; i++) {
    uint inside = o + i * s < h ? inside_w : 0u;
    for (uint j = 0u; j < ow; j++) {
      float v = j < inside ? dam_texel_float(x, xo + j * s) : 0.0;
      y[yo + j] = relu ? max(v, 0.0) : v;
    }
    xo += s * w;
    yo += ow;
  }
}
