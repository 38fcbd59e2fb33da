// From a channel's sums s = (sum d, sum d * d) of d = x - shift, with
// shift = x[0, ch, 0, 0] (bn_shift): the batch mean and biased variance
// into save_mean and save_invstd, the running statistics updated when
// asked (flags 4, 8; unbiased variance), and the coefficients of
// bn_apply.comp, (shift, mean - shift, invstd * gamma, beta) (flags 1, 2:
// gamma, beta given).  Include after the push constants
// P { n, hw, flags, eps, momentum, ... } p and the buffers x (vec4
// texels), gamma, beta, running_mean, running_var, save_mean and
// save_invstd.
#ifndef DAM_BN_STATS_COEF_GLSL
#define DAM_BN_STATS_COEF_GLSL

float bn_shift(uint ch) { return dam_texel_float(x, ch * p.hw); }

vec4 bn_stats_coef(uint ch, vec2 s) {
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
  return vec4(shift, shifted, invstd * g, b);
}

#endif
