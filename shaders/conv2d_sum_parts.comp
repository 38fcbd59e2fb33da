// gw[i] += sum over p < parts of partial[p * count + i], in order of p (the
// second pass of the weight gradient; neighbouring invocations read
// neighbouring elements of each part).
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) buffer GW { float gw[]; };
void main() {
  uint i = dam_linear_id();
  if (i >= p.count) return;
  float s = 0.0;
  for (uint q = 0; q < p.parts; q++) s += part[q * p.count + i];
  gw[i] += s;
}
