// Copy (or add, with accumulate) a run of channels between two NCHW tensors
// of equal N, H, W: for each n, the len = count * H * W contiguous elements
// at src_off in src's n-th row of src_row elements go to dst_off in dst's
// n-th row.  `parts` invocations share a row, each taking every parts-th
// element, so neighbours touch neighbouring addresses.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) buffer D { float dst[]; };
layout(push_constant) uniform P {
  uint rows, len, parts, src_row, dst_row, src_off, dst_off, accumulate;
} p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.rows * p.parts) return;
  uint n = i / p.parts, e = i - n * p.parts;
  uint s = n * p.src_row + p.src_off, d = n * p.dst_row + p.dst_off;
  if (p.accumulate != 0u)
    for (; e < p.len; e += p.parts) dst[d + e] += src[s + e];
  else
    for (; e < p.len; e += p.parts) dst[d + e] = src[s + e];
}
