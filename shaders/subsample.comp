// y[n, b*C + c, i, j] = x[n, c, s*i + o + b, s*j + o + b] (its relu with
// relu set), zero past x's edge: y holds `blocks` blocks of x's C channels,
// block b picking at offset o + b.  One invocation per row of y (rows =
// N * blocks * C * oh), so no division per element.  The relu flag is read
// before the loop: on CPU devices a push constant read inside a loop that
// fetches texels is read again, lane by lane, on every trip.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows, h, w, oh, ow, s, o, relu, c, blocks; } p;
void main() {
  uint r = dam_linear_id();
  if (r >= p.rows) return;
  uint plane = dam_udiv(r, p.oh), bc = p.blocks * p.c;
  uint n = dam_udiv(plane, bc), cy = plane - n * bc, b = dam_udiv(cy, p.c);
  uint o = p.o + b, iy = (r - plane * p.oh) * p.s + o, yo = r * p.ow;
  uint xo = ((n * p.c + cy - b * p.c) * p.h + iy) * p.w + o;
  uint inside = iy < p.h && o < p.w ? min(p.ow, (p.w - o + p.s - 1u) / p.s) : 0u;
  bool relu = p.relu != 0u;
  for (uint j = 0u; j < p.ow; j++) {
    float v = j < inside ? dam_texel_float(x, xo + j * p.s) : 0.0;
    y[yo + j] = relu ? max(v, 0.0) : v;
  }
}
