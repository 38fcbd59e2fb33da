// The end of a batch-norm backward reduction (bn_backward_stats.glsl and
// bn_backward_fused.comp): from a channel's sums of gy and
// gy * (x - mean), with store set accumulates ggamma += sum gy * xhat and
// gbeta += sum gy when asked; returns coefficients (a, b, c0, mean) such that
// gx += a * gy - b * (x - mean) - c0, with a = gamma * invstd.  With flag
// 8, x holds xhat = (x - mean) * invstd itself: the sums read it with a
// zero mean and unit scale.  Include after the bindings save_mean,
// save_invstd, gamma, ggamma, gbeta and the push constants
// P { n, c, hw, ..., flags } p (flags 1: gamma, 2: ggamma, 4: gbeta given;
// 8: x is xhat).
#ifndef DAM_BN_BACKWARD_COEF_GLSL
#define DAM_BN_BACKWARD_COEF_GLSL

// The mean the sums centre x on.
float bn_centre(uint ch) {
  return (p.flags & 8u) != 0u ? 0.0 : save_mean[ch];
}

vec4 bn_backward_coef(uint ch, vec2 s, bool store) {
  float invstd = save_invstd[ch];
  float k = (p.flags & 8u) != 0u ? 1.0 : invstd; // x units per xhat unit
  if (store && (p.flags & 2u) != 0u) ggamma[ch] += s.y * k;
  if (store && (p.flags & 4u) != 0u) gbeta[ch] += s.x;
  float m = float(p.n * p.hw);
  float a = ((p.flags & 1u) != 0u ? gamma[ch] : 1.0) * invstd;
  return vec4(a, a * k * k * s.y / m, a * s.x / m, bn_centre(ch));
}

#endif
