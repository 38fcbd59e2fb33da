// Cutout backward to the input: grad_in += grad_out outside the square.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "cutout_common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer GOut { float gout[]; };
layout(std430, binding = 1) buffer GIn { float gin[]; };
layout(std430, binding = 2) readonly buffer Mag { float magnitude[]; };
layout(std430, binding = 3) readonly buffer Seed { uint seed[]; };

void main() {
  uint id = dam_linear_id();
  uint hw = p.H * p.W;
  if (id >= p.count * p.C * hw) return;
  uint img = p.first + id / (p.C * hw);
  uint pix = id % hw;
  uint at = p.first * p.C * hw + id;
  if (!cut(pix % p.W, pix / p.W, magnitude[img], seed[img]))
    gin[at] += gout[at];
}
