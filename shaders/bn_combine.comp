// Batch-norm training statistics, pass 2: one invocation per channel adds
// its partial sums (bn_partial.comp; over the N planes and their parts, in
// a fixed order) into the batch mean and the biased variance, writes
// save_mean and save_invstd, updates the running statistics (unbiased
// variance) when asked, and leaves for bn_apply.comp
// coef[c] = (shift, mean - shift, invstd * gamma, beta): x - shift is exact
// for x near the mean, so a large mean does not cost y its precision.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer PART { vec2 part[]; };
layout(std430, binding = 2) readonly buffer G { float gamma[]; };
layout(std430, binding = 3) readonly buffer B { float beta[]; };
layout(std430, binding = 4) buffer RM { float running_mean[]; };
layout(std430, binding = 5) buffer RV { float running_var[]; };
layout(std430, binding = 6) writeonly buffer SM { float save_mean[]; };
layout(std430, binding = 7) writeonly buffer SI { float save_invstd[]; };
layout(std430, binding = 8) writeonly buffer C { vec4 coef[]; };
layout(push_constant) uniform P {
  uint c, hw, parts, n;
  uint flags; // 1: gamma, 2: beta, 4: running_mean, 8: running_var given
  float eps, momentum;
} p;
void main() {
  uint ch = dam_linear_id();
  if (ch >= p.c) return;
  vec2 s = vec2(0.0);
  for (uint n = 0u; n < p.n; n++)
    for (uint j = 0u; j < p.parts; j++)
      s += part[(n * p.c + ch) * p.parts + j];
  float m = float(p.n * p.hw);
  float shifted = s.x / m;
  float var = max(s.y / m - shifted * shifted, 0.0);
  float shift = x[ch * p.hw], mu = shift + shifted;
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
