// y[n, b*C + c, i, j] = x[n, c, s*i + o + b, s*j + o + b] (its relu with
// relu set), zero past x's edge: y holds `blocks` blocks of x's C channels,
// block b picking at offset o + b.  One invocation per row of y (rows =
// N * blocks * C * oh), so no division per element.  With ow even every
// row starts at an even float and goes out in pairs of floats
// (store8.glsl; subsample_wide on CPU devices).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "store8.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Y2 { DAM_OUT2 y2[]; };
layout(push_constant) uniform P { uint rows, h, w, oh, ow, s, o, relu, c, blocks; } p;

// Element j of the row whose first pick is float xo of x and whose first
// `inside` picks lie inside x.
float pick(uint xo, uint inside, uint j) {
  float v = j < inside ? dam_texel_float(x, xo + j * p.s) : 0.0;
  return p.relu != 0u ? max(v, 0.0) : v;
}

void main() {
  uint r = dam_linear_id();
  if (r >= p.rows) return;
  uint plane = dam_udiv(r, p.oh), bc = p.blocks * p.c;
  uint n = dam_udiv(plane, bc), cy = plane - n * bc, b = dam_udiv(cy, p.c);
  uint o = p.o + b, iy = (r - plane * p.oh) * p.s + o, yo = r * p.ow;
  uint xo = ((n * p.c + cy - b * p.c) * p.h + iy) * p.w + o;
  uint inside = iy < p.h && o < p.w ? min(p.ow, (p.w - o + p.s - 1u) / p.s) : 0u;
  uint pairs = p.ow % 2u == 0u ? p.ow / 2u : 0u;
  for (uint j = 0u; j < pairs; j++)
    y2[yo / 2u + j] = dam_out2(pick(xo, inside, 2u * j),
                               pick(xo, inside, 2u * j + 1u));
  for (uint j = 2u * pairs; j < p.ow; j++) y[yo + j] = pick(xo, inside, j);
}
