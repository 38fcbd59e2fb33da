// Correct predictions: invocation i < parts counts the samples
// n = i, i + parts, ... < N whose argmax over logits z[n,:] (the first of
// equal maxima) equals label[n], writing the count to out[i] as a float.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) readonly buffer L { float label[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint n; uint k; uint parts; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.parts) return;
  float count = 0.0;
  for (uint n = i; n < p.n; n += p.parts) {
    uint row = n * p.k, best = 0u;
    float m = z[row];
    for (uint k = 1; k < p.k; k++) {
      float v = z[row + k];
      if (v > m) { m = v; best = k; }
    }
    if (float(best) == label[n]) count += 1.0;
  }
  o[i] = count;
}
