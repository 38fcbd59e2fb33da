// Copy (or add, with accumulate) a run of channels between two NCHW tensors
// of equal N, H, W: for each n, the len contiguous elements at src_off in
// src's n-th row of src_row elements go to dst_off in dst's n-th row.
// `parts` invocations share a row, each taking every parts-th element, so
// neighbours touch neighbouring addresses.  With vec4 set (H * W a
// multiple of 4) every count is in vec4s and the buffers are read and
// written through their vec4 views, one access per four floats.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 1) buffer D { float dst[]; };
layout(binding = 0) uniform samplerBuffer src;  // vec4 texels
layout(std430, binding = 1) buffer D4 { vec4 dst4[]; };
layout(push_constant) uniform P {
  uint rows, len, parts, src_row, dst_row, src_off, dst_off;
  uint flags; // 1: accumulate, 2: vec4
} p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.rows * p.parts) return;
  uint n = i / p.parts, e = i - n * p.parts;
  uint s = n * p.src_row + p.src_off, d = n * p.dst_row + p.dst_off;
  bool acc = (p.flags & 1u) != 0u;
  if ((p.flags & 2u) != 0u) {
    if (acc)
      for (; e < p.len; e += p.parts) dst4[d + e] += texelFetch(src, int(s + e));
    else
      for (; e < p.len; e += p.parts) dst4[d + e] = texelFetch(src, int(s + e));
  } else {
    if (acc)
      for (; e < p.len; e += p.parts) dst[d + e] += dam_texel_float(src, s + e);
    else
      for (; e < p.len; e += p.parts) dst[d + e] = dam_texel_float(src, s + e);
  }
}
