// Batch-norm backward sums in one pass (bn_backward_stats.comp, and
// bn_backward_stats_flat.comp for tensors of 4k floats whose planes are
// not): each invocation sums gy and gy * (x - mean) over its slots
// (bn_reduce.glsl), and the channel's last one accumulates
// ggamma += sum gy * xhat and gbeta += sum gy when asked and leaves for
// bn_backward_apply.comp coef[c] = (a, b, c0, mean) such that
// gx += a * gy - b * (x - mean) - c0, with a = gamma * invstd.  With flag
// 8, x holds xhat = (x - mean) * invstd itself: the sums read it with a
// zero mean and unit scale.
#ifndef DAM_BN_BACKWARD_STATS_GLSL
#define DAM_BN_BACKWARD_STATS_GLSL

layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer SM { float save_mean[]; };
layout(std430, binding = 3) readonly buffer SI { float save_invstd[]; };
layout(std430, binding = 4) readonly buffer G { float gamma[]; };
layout(std430, binding = 5) coherent buffer PART { vec2 part[]; };
layout(std430, binding = 6) buffer ARRIVED { uint arrived[]; };
layout(std430, binding = 7) buffer GG { float ggamma[]; };
layout(std430, binding = 8) buffer GB { float gbeta[]; };
layout(std430, binding = 9) writeonly buffer C { vec4 coef[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint wide;  // bn_backward_stats.comp: planes read as vec4s
  uint flags; // 1: gamma, 2: ggamma, 4: gbeta given; 8: x is xhat
} p;
#include "bn_reduce.glsl"

// The mean the sums centre x on.
float bn_centre(uint ch) {
  return (p.flags & 8u) != 0u ? 0.0 : save_mean[ch];
}

void bn_backward_finish(uint ch, uint j, vec2 sums) {
  if (!bn_last_partial(ch, j, sums)) return;
  vec2 s = bn_channel_sum(ch);
  float invstd = save_invstd[ch];
  float k = (p.flags & 8u) != 0u ? 1.0 : invstd; // x units per xhat unit
  if ((p.flags & 2u) != 0u) ggamma[ch] += s.y * k;
  if ((p.flags & 4u) != 0u) gbeta[ch] += s.x;
  float m = float(p.n * p.hw);
  float a = ((p.flags & 1u) != 0u ? gamma[ch] : 1.0) * invstd;
  coef[ch] = vec4(a, a * k * k * s.y / m, a * s.x / m, bn_centre(ch));
}

#endif
