// Batch-norm partial sums, pass 1 of the per-channel reductions.  Channel
// c's N*hw elements are taken in (n, h, w) order; with P = 1 << log_parts
// invocations per channel, invocation (c, j) sums elements j, j + P, ...,
// so neighbouring invocations read neighbouring addresses.  The step of P
// elements is dn whole planes plus dr elements (computed on the host).
// Forward (backward = 0): with d = x - x[0, c, 0, 0] (a shift that keeps
// the variance from cancelling), part = (sum d, sum d*d).
// Backward: with d = x - mean[c], part = (sum gy, sum gy*d).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) readonly buffer M { float mean[]; };
layout(std430, binding = 3) writeonly buffer O { vec2 part[]; };
layout(push_constant) uniform P {
  uint c, hw, n, log_parts, dn, dr, backward;
} p;
void main() {
  uint i = dam_linear_id();
  uint ch = i >> p.log_parts, j = i & ((1u << p.log_parts) - 1u);
  if (ch >= p.c) return;
  float shift = p.backward != 0u ? mean[ch] : x[ch * p.hw];
  uint n = j / p.hw, r = j - n * p.hw;
  float s1 = 0.0, s2 = 0.0;
  while (n < p.n) {
    uint at = (n * p.c + ch) * p.hw + r;
    float d = x[at] - shift;
    float a = p.backward != 0u ? gy[at] : d;
    s1 += a;
    s2 += a * d;
    r += p.dr;
    n += p.dn;
    if (r >= p.hw) {
      r -= p.hw;
      n++;
    }
  }
  part[i] = vec2(s1, s2);
}
