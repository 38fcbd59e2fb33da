// Batch-norm training statistics in one pass (bn_stats.comp, and
// bn_stats_flat.comp for tensors of 4k floats whose planes are not): with
// d = x - x[0, c, 0, 0] (a shift that keeps the variance from cancelling
// when the mean is large) each invocation sums d and d * d over its slots
// (bn_reduce.glsl), and the channel's last one turns the sums into the
// batch mean and biased variance: it writes save_mean and save_invstd,
// updates the running statistics (unbiased variance) when asked, and
// leaves for bn_apply.comp coef[c] = (shift, mean - shift, invstd * gamma,
// beta): x - shift is exact for x near the mean, so a large mean does not
// cost y its precision.
#ifndef DAM_BN_STATS_GLSL
#define DAM_BN_STATS_GLSL

layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) coherent buffer PART { vec2 part[]; };
layout(std430, binding = 2) buffer ARRIVED { uint arrived[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) readonly buffer B { float beta[]; };
layout(std430, binding = 5) buffer RM { float running_mean[]; };
layout(std430, binding = 6) buffer RV { float running_var[]; };
layout(std430, binding = 7) writeonly buffer SM { float save_mean[]; };
layout(std430, binding = 8) writeonly buffer SI { float save_invstd[]; };
layout(std430, binding = 9) writeonly buffer C { vec4 coef[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint wide;  // bn_stats.comp: planes read as vec4s
  uint flags; // 1: gamma, 2: beta, 4: running_mean, 8: running_var given
  float eps, momentum;
} p;
#include "bn_reduce.glsl"

float bn_shift(uint ch) { return dam_texel_float(x, ch * p.hw); }

void bn_stats_finish(uint ch, uint j, vec2 sums) {
  if (!bn_last_partial(ch, j, sums)) return;
  vec2 s = bn_channel_sum(ch);
  float m = float(p.n * p.hw);
  float shifted = s.x / m;
  float var = max(s.y / m - shifted * shifted, 0.0);
  float shift = bn_shift(ch), mu = shift + shifted;
  float invstd = 1.0 / sqrt(var + p.eps);
  save_mean[ch] = mu;
  save_invstd[ch] = invstd;
  float keep = 1.0 - p.momentum;
  if ((p.flags & 4u) != 0u)
    running_mean[ch] = keep * running_mean[ch] + p.momentum * mu;
  if ((p.flags & 8u) != 0u)
    running_var[ch] = keep * running_var[ch] +
                      p.momentum * var * (m / (m - 1.0));
  float g = (p.flags & 1u) != 0u ? gamma[ch] : 1.0;
  float b = (p.flags & 2u) != 0u ? beta[ch] : 0.0;
  coef[ch] = vec4(shift, shifted, invstd * g, b);
}

#endif
