// Batch-norm evaluation coefficients, one invocation per channel:
// coef[c] = (running_mean, 0, gamma / sqrt(running_var + eps), beta) for
// bn_apply.comp.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer RM { float running_mean[]; };
layout(std430, binding = 1) readonly buffer RV { float running_var[]; };
layout(std430, binding = 2) readonly buffer G { float gamma[]; };
layout(std430, binding = 3) readonly buffer B { float beta[]; };
layout(std430, binding = 4) writeonly buffer C { vec4 coef[]; };
layout(push_constant) uniform P {
  uint c, flags; // 1: gamma, 2: beta given
  float eps;
} p;
void main() {
  uint ch = dam_linear_id();
  if (ch >= p.c) return;
  float g = (p.flags & 1u) != 0u ? gamma[ch] : 1.0;
  float b = (p.flags & 2u) != 0u ? beta[ch] : 0.0;
  coef[ch] = vec4(running_mean[ch], 0.0, g / sqrt(running_var[ch] + p.eps),
                  b);
}
