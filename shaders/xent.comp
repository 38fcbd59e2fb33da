// Softmax cross-entropy, one invocation per sample n of logits z[N,K]:
// probs[n,:] = softmax(z[n,:]) and loss[n] = logsumexp(z[n,:]) - z[n,label],
// from the row max down so nothing overflows.  A label that is not an
// integer in [0, K) gives a NaN loss.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) readonly buffer L { float label[]; };
layout(std430, binding = 2) writeonly buffer Loss { float loss[]; };
layout(std430, binding = 3) buffer Probs { float probs[]; };
layout(push_constant) uniform P { uint n; uint k; } p;
void main() {
  uint n = dam_linear_id();
  if (n >= p.n) return;
  uint row = n * p.k;
  float m = z[row];
  for (uint k = 1; k < p.k; k++) m = max(m, z[row + k]);
  float s = 0.0;
  for (uint k = 0; k < p.k; k++) {
    float e = exp(z[row + k] - m);
    probs[row + k] = e;
    s += e;
  }
  float inv = 1.0 / s;
  for (uint k = 0; k < p.k; k++) probs[row + k] *= inv;
  float l = label[n];
  bool ok = l >= 0.0 && l < float(p.k) && l == floor(l);
  float nan = uintBitsToFloat(0x7fc00000u);
  loss[n] = ok ? (m - z[row + uint(l)]) + log(s) : nan;
}
