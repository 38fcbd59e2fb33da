// glogits[n,k] += gloss[n] (probs[n,k] - [k == label[n]]), one invocation
// per element; an invalid label (see xent.comp) gives NaN.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Probs { float probs[]; };
layout(std430, binding = 1) readonly buffer L { float label[]; };
layout(std430, binding = 2) readonly buffer GL { float gloss[]; };
layout(std430, binding = 3) buffer G { float g[]; };
layout(push_constant) uniform P { uint n; uint k; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n * p.k) return;
  uint n = i / p.k;
  float l = label[n];
  bool ok = l >= 0.0 && l < float(p.k) && l == floor(l);
  float hot = float(i - n * p.k) == l ? 1.0 : 0.0;
  g[i] += ok ? gloss[n] * (probs[i] - hot) : uintBitsToFloat(0x7fc00000u);
}
