// Batch-norm backward in one dispatch (CPU devices, where a launch costs
// more than the channels' work), for planes of 4k floats: workgroup ch, one
// subgroup of 8 invocations, takes channel ch.  Invocation j sums gy and
// gy * (x - mean) over the vec4 slots j, j + 8, ... of the channel's planes
// (bn_slot.glsl, parts = 8), subgroupAdd adds the eight up (no barrier:
// llvmpipe runs barrier shaders as coroutines), and the same slots then
// get gx from the coefficients still in registers (bn_backward_coef.glsl;
// the pass of bn_backward_apply.comp).  Flag 16: gx given (else only
// ggamma and gbeta).  The _set variant writes gx over (set_or_add.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 8) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer SM { float save_mean[]; };
layout(std430, binding = 3) readonly buffer SI { float save_invstd[]; };
layout(std430, binding = 4) readonly buffer G { float gamma[]; };
layout(std430, binding = 5) buffer GG { float ggamma[]; };
layout(std430, binding = 6) buffer GB { float gbeta[]; };
layout(std430, binding = 7) buffer GX4 { vec4 gx4[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint flags; // bn_backward_coef.glsl's, and 16: gx given
} p;
#include "bn_slot.glsl"
#include "bn_backward_coef.glsl"
#include "set_or_add.glsl"

void main() {
  uint ch = dam_linear_id() / 8u, j = gl_LocalInvocationID.x;
  if (ch >= p.c) return; // whole workgroups
  uint units = p.hw / 4u;
  float mu = bn_centre(ch);
  vec2 s = vec2(0.0);
  for (bn_slot t = bn_slot_first(j, units); t.n < p.n;
       bn_slot_next(t, units)) {
    int v = int((t.n * p.c + ch) * units + t.u);
    vec4 g = texelFetch(gy, v);
    s.x += (g.x + g.y) + (g.z + g.w);
    s.y += dot(g, texelFetch(x, v) - mu);
  }
  vec4 k = bn_backward_coef(ch, subgroupAdd(s), j == 0u);
  if ((p.flags & 16u) == 0u) return;
  for (bn_slot t = bn_slot_first(j, units); t.n < p.n;
       bn_slot_next(t, units)) {
    uint v = (t.n * p.c + ch) * units + t.u;
    SET_OR_ADD(gx4[v], k.x * texelFetch(gy, int(v)) -
                           k.y * (texelFetch(x, int(v)) - k.w) - k.z);
  }
}
