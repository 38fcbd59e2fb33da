// From a channel's backward sums s = (sum gy, sum gy * (x - mean)): the
// gradients ggamma += sum gy * xhat and gbeta += sum gy (flags 2, 4; only
// where `grads`), and coefficients (a, b, c0, mean) such that
// gx += a * gy - b * (x - mean) - c0, with a = gamma * invstd (flag 1:
// gamma given).  With flag 8, x holds xhat = (x - mean) * invstd itself:
// the sums read it with a zero mean and unit scale.  Include after the
// push constants P { n, hw, flags, ... } p and the buffers save_mean,
// save_invstd, gamma, ggamma and gbeta.
#ifndef DAM_BN_BACKWARD_COEF_GLSL
#define DAM_BN_BACKWARD_COEF_GLSL

// The mean the sums centre x on.
float bn_centre(uint ch) {
  return (p.flags & 8u) != 0u ? 0.0 : save_mean[ch];
}

// The coefficients alone, from a channel's invstd, gamma (1 without) and
// the mean its sums centred x on.
vec4 bn_backward_coef_of(vec2 s, float invstd, float g, float centre) {
  float k = (p.flags & 8u) != 0u ? 1.0 : invstd; // x units per xhat unit
  float m = float(p.n * p.hw);
  float a = g * invstd;
  return vec4(a, a * k * k * s.y / m, a * s.x / m, centre);
}

vec4 bn_backward_coef(uint ch, vec2 s, bool grads) {
  float invstd = save_invstd[ch];
  float k = (p.flags & 8u) != 0u ? 1.0 : invstd;
  if (grads && (p.flags & 2u) != 0u) ggamma[ch] += s.y * k;
  if (grads && (p.flags & 4u) != 0u) gbeta[ch] += s.x;
  return bn_backward_coef_of(s, invstd,
                             (p.flags & 1u) != 0u ? gamma[ch] : 1.0,
                             bn_centre(ch));
}

#endif
