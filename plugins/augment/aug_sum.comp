// Per-image sums, one invocation per image:
//   dst[dst_image0 + i] = scale * sum(src image src_image0 + i)
//                         (+ its old value when accumulate != 0), i < count,
// where an image is `len` consecutive floats of src.  The photometric
// plugins use it for straight-through and exact magnitude gradients.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) buffer Dst { float dst[]; };
layout(push_constant) uniform P {
  uint src_image0, dst_image0, count, len;
  float scale;
  uint accumulate;
} p;

void main() {
  uint i = dam_linear_id();
  if (i >= p.count) return;
  uint base = (p.src_image0 + i) * p.len;
  float s = 0.0;
  for (uint k = 0u; k < p.len; k++) s += src[base + k];
  uint d = p.dst_image0 + i;
  dst[d] = p.scale * s + (p.accumulate != 0u ? dst[d] : 0.0);
}
