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
#include "bn_stats_coef.glsl"
layout(std430, binding = 8) coherent buffer PART { vec2 part[]; };
layout(std430, binding = 9) buffer ARRIVED { uint arrived[]; };
#include "bn_reduce.glsl"

void bn_stats_finish(uint ch, uint j, vec2 sums) {
  if (!bn_last_partial(ch, j, sums)) return;
  vec2 s = bn_channel_sum(ch);
  if (bn_writes()) coef[ch] = bn_stats_coef(ch, s);
}

#endif
