// The end of a batch-norm training reduction (bn_stats.glsl and
// bn_train_fused.comp): from a channel's sums of d = x - shift and d * d
// (shift = bn_shift(c) = x[0, c, 0, 0], which keeps the variance from
// cancelling when the mean is large), the batch mean and biased variance.
// With store set, writes save_mean and save_invstd and updates the running
// statistics (unbiased variance) when asked.  Returns the coefficients of the elementwise
// pass, (shift, mean - shift, invstd * gamma, beta): x - shift is exact for
// x near the mean, so a large mean does not cost y its precision.
// Include after the bindings x (texels), gamma, beta, running_mean,
// running_var, save_mean, save_invstd and the push constants
// P { n, c, hw, ..., flags, eps, momentum } p (flags 1: gamma, 2: beta,
// 4: running_mean, 8: running_var given).
#ifndef DAM_BN_TRAIN_COEF_GLSL
#define DAM_BN_TRAIN_COEF_GLSL

float bn_shift(uint ch) { return dam_texel_float(x, ch * p.hw); }

vec4 bn_train_coef(uint ch, vec2 s, float shift, bool store) {
  float m = float(p.n * p.hw);
  float shifted = s.x / m;
  float var = max(s.y / m - shifted * shifted, 0.0);
  float mu = shift + shifted, invstd = 1.0 / sqrt(var + p.eps);
  if (store) {
    save_mean[ch] = mu;
    save_invstd[ch] = invstd;
    float keep = 1.0 - p.momentum;
    if ((p.flags & 4u) != 0u)
      running_mean[ch] = keep * running_mean[ch] + p.momentum * mu;
    if ((p.flags & 8u) != 0u)
      running_var[ch] = keep * running_var[ch] +
                        p.momentum * var * (m / (m - 1.0));
  }
  float g = (p.flags & 1u) != 0u ? gamma[ch] : 1.0;
  float b = (p.flags & 2u) != 0u ? beta[ch] : 0.0;
  return vec4(shift, shifted, invstd * g, b);
}

#endif
