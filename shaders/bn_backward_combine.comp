// Batch-norm backward, pass 2: one invocation per channel adds its partial
// sums (bn_backward_partial.comp: sum gy and sum gy * (x - mean)) and
// accumulates ggamma += sum gy * xhat and gbeta += sum gy when asked.  For
// bn_backward_apply.comp it leaves coef[c] = (a, b, c0, mean) such that
// gx += a * gy - b * (x - mean) - c0, with a = gamma * invstd.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer PART { vec2 part[]; };
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer SM { float save_mean[]; };
layout(std430, binding = 3) readonly buffer SI { float save_invstd[]; };
layout(std430, binding = 4) buffer GG { float ggamma[]; };
layout(std430, binding = 5) buffer GB { float gbeta[]; };
layout(std430, binding = 6) writeonly buffer C { vec4 coef[]; };
layout(push_constant) uniform P {
  uint c, hw, parts, n;
  uint flags; // 1: gamma, 2: ggamma, 4: gbeta given
} p;
void main() {
  uint ch = dam_linear_id();
  if (ch >= p.c) return;
  vec2 s = vec2(0.0);
  for (uint n = 0u; n < p.n; n++)
    for (uint j = 0u; j < p.parts; j++)
      s += part[(n * p.c + ch) * p.parts + j];
  float invstd = save_invstd[ch];
  if ((p.flags & 2u) != 0u) ggamma[ch] += s.y * invstd;
  if ((p.flags & 4u) != 0u) gbeta[ch] += s.x;
  float m = float(p.n * p.hw);
  float a = ((p.flags & 1u) != 0u ? gamma[ch] : 1.0) * invstd;
  coef[ch] = vec4(a, a * invstd * invstd * s.y / m, a * s.x / m,
                  save_mean[ch]);
}
