// Cutout forward: out = fill inside the image's square, in elsewhere.  One
// invocation per element of images first .. first+count-1.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "cutout_common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float src[]; };
layout(std430, binding = 1) writeonly buffer Out { float dst[]; };
layout(std430, binding = 2) readonly buffer Mag { float magnitude[]; };
layout(std430, binding = 3) readonly buffer Seed { uint seed[]; };

void main() {
  uint id = dam_linear_id();
  uint hw = p.H * p.W;
  if (id >= p.count * p.C * hw) return;
  uint img = p.first + id / (p.C * hw);
  uint pix = id % hw;
  uint at = p.first * p.C * hw + id;
  dst[at] = cut(pix % p.W, pix / p.W, magnitude[img], seed[img]) ? p.fill
                                                                 : src[at];
}
