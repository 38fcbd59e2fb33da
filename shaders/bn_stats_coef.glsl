// The batch-norm statistics' bindings 0-7 and push constants (bn_stats.glsl
// and bn_stats_channel.comp), and their finish: from a channel's sums
// s = (sum d, sum d * d) of d = x - shift, with shift = x[0, ch, 0, 0]
// (bn_shift), the batch mean and biased variance into save_mean and
// save_invstd, the running statistics updated when asked (flags 4, 8;
// unbiased variance), and the coefficients of bn_apply.comp,
// (shift, mean - shift, invstd * gamma, beta) (flags 1, 2: gamma, beta
// given).
#ifndef DAM_BN_STATS_COEF_GLSL
#define DAM_BN_STATS_COEF_GLSL

layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer B { float beta[]; };
layout(std430, binding = 3) buffer RM { float running_mean[]; };
layout(std430, binding = 4) buffer RV { float running_var[]; };
layout(std430, binding = 5) writeonly buffer SM { float save_mean[]; };
layout(std430, binding = 6) writeonly buffer SI { float save_invstd[]; };
layout(std430, binding = 7) writeonly buffer C { vec4 coef[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint wide;  // bn_stats.comp: planes read as vec4s
  uint flags; // 1: gamma, 2: beta, 4: running_mean, 8: running_var given
  float eps, momentum;
} p;

float bn_shift(uint ch) { return dam_texel_float(x, ch * p.hw); }

// Channel ch's finish from its sums s of d = x - shift (gamma g, beta b)
// into the buffers named SM, SI, RM, RV; COEF gets its coefficients.
#define BN_STATS_FINISH(ch, shift, s, g, b, SM, SI, RM, RV, COEF)          \
  {                                                                        \
    float m = float(p.n * p.hw);                                           \
    float shifted = s.x / m;                                               \
    float var = max(s.y / m - shifted * shifted, 0.0);                     \
    float mu = shift + shifted, invstd = 1.0 / sqrt(var + p.eps);          \
    SM[ch] = mu;                                                           \
    SI[ch] = invstd;                                                       \
    float keep = 1.0 - p.momentum;                                         \
    if ((p.flags & 4u) != 0u)                                              \
      RM[ch] = keep * RM[ch] + p.momentum * mu;                            \
    if ((p.flags & 8u) != 0u)                                              \
      RV[ch] = keep * RV[ch] + p.momentum * var * (m / (m - 1.0));         \
    COEF = vec4(shift, shifted, invstd * g, b);                            \
  }

vec4 bn_stats_coef(uint ch, vec2 s) {
  float g = (p.flags & 1u) != 0u ? gamma[ch] : 1.0;
  float b = (p.flags & 2u) != 0u ? beta[ch] : 0.0;
  vec4 k;
  BN_STATS_FINISH(ch, bn_shift(ch), s, g, b, save_mean, save_invstd,
                  running_mean, running_var, k)
  return k;
}

#endif
