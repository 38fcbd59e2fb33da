// Affine backward to the magnitude, second pass: grad_magnitude[first + j]
// += the sum of partial[j * H .. j * H + H - 1].  One invocation per image
// of the call.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "affine_common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, binding = 1) buffer GMag { float gmag[]; };

void main() {
  uint j = dam_linear_id();
  if (j >= p.count) return;
  float acc = 0.0;
  for (uint y = 0u; y < p.H; y++) acc += partial[j * p.H + y];
  gmag[p.first + j] += acc;
}
