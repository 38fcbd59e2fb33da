// Batch-norm backward sums in one pass (bn_backward_stats.comp, and
// bn_backward_stats_flat.comp for tensors of 4k floats whose planes are
// not): each invocation sums gy and gy * (x - mean) over its slots
// (bn_reduce.glsl), and the channel's last one turns the sums into the
// gradients of gamma and beta and the coefficients of
// bn_backward_apply.comp (bn_backward_coef.glsl).  With flag 32 the
// gradient is scale[0] * gy (a node sum's term): the sums are scaled, and
// so is the coefficient of gy, so the apply pass reads gy as it is.
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
layout(std430, binding = 10) readonly buffer S { float scale[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint wide;  // bn_backward_stats.comp: planes read as vec4s
  uint flags; // 1: gamma, 2: ggamma, 4: gbeta given; 8: x is xhat;
              // 32: gy scaled
} p;
#include "bn_reduce.glsl"
#include "bn_backward_coef.glsl"

void bn_backward_finish(uint ch, uint j, vec2 sums) {
  if (!bn_last_partial(ch, j, sums)) return;
  vec2 s = bn_channel_sum(ch);
  if (!bn_writes()) return;
  float sc = (p.flags & 32u) != 0u ? scale[0] : 1.0;
  vec4 k = bn_backward_coef(ch, sc * s, true);
  coef[ch] = vec4(sc * k.x, k.yzw);
}

#endif
