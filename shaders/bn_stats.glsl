// Batch-norm training statistics in one pass (bn_stats.comp, and
// bn_stats_flat.comp for tensors of 4k floats whose planes are not): with
// d = x - x[0, c, 0, 0] (a shift that keeps the variance from cancelling
// when the mean is large) each invocation sums d and d * d over its slots
// (bn_reduce.glsl), and the channel's last one turns the sums into the
// statistics and the coefficients of bn_apply.comp (bn_stats_coef.glsl):
// x - shift is exact for x near the mean, so a large mean does not cost y
// its precision.
#ifndef DAM_BN_STATS_GLSL
#define DAM_BN_STATS_GLSL

layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer B { float beta[]; };
layout(std430, binding = 3) buffer RM { float running_mean[]; };
layout(std430, binding = 4) buffer RV { float running_var[]; };
layout(std430, binding = 5) writeonly buffer SM { float save_mean[]; };
layout(std430, binding = 6) writeonly buffer SI { float save_invstd[]; };
layout(std430, binding = 7) writeonly buffer C { vec4 coef[]; };
layout(std430, binding = 8) coherent buffer PART { vec2 part[]; };
layout(std430, binding = 9) buffer ARRIVED { uint arrived[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint wide;  // bn_stats.comp: planes read as vec4s
  uint flags; // 1: gamma, 2: beta, 4: running_mean, 8: running_var given
  float eps, momentum;
} p;
#include "bn_reduce.glsl"
#include "bn_stats_coef.glsl"

void bn_stats_finish(uint ch, uint j, vec2 sums) {
  if (bn_last_partial(ch, j, sums))
    coef[ch] = bn_stats_coef(ch, bn_channel_sum(ch));
}

#endif
