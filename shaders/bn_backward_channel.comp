// Batch-norm backward in one dispatch (CPU devices, where a launch costs
// more than the channels' work): workgroup ch, one subgroup of 8
// invocations, takes channel ch.  Each sums gy and gy * (x - mean) over its
// texels of the channel (bn_channel.glsl; the _flat variant for planes of
// other than 4k floats), subgroupAdd adds the eight up (no barrier:
// llvmpipe runs barrier shaders as coroutines), and the same texels then
// get gx from the coefficients still in registers (bn_backward_coef.glsl;
// the pass of bn_backward_apply.comp), a texel shared with another plane
// one float at a time.  Flag 16: gx given (else only ggamma and gbeta);
// flag 32: gy is read as scale[0] * gy (a node sum's term).  The _set
// variant writes gx over (set_or_add.glsl).
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
layout(std430, binding = 7) buffer GX { float gx[]; };
layout(std430, binding = 7) buffer GX4 { vec4 gx4[]; };
layout(std430, binding = 8) readonly buffer SC { float scale[]; };
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint flags; // bn_backward_coef.glsl's, and 16: gx given, 32: gy scaled
} p;
#include "bn_channel.glsl"
#include "bn_backward_coef.glsl"
#include "set_or_add.glsl"

void main() {
  uint ch = dam_linear_id() / 8u, j = gl_LocalInvocationID.x;
  if (ch >= p.c) return; // whole workgroups
  float mu = bn_centre(ch);
  float sc = (p.flags & 32u) != 0u ? scale[0] : 1.0;
  vec2 s = vec2(0.0);
  bn_walk w = bn_walk_begin(ch, j);
  uint v;
  bvec4 lanes;
  while (bn_walk_next(w, v, lanes)) {
    vec4 g = mix(vec4(0.0), sc * texelFetch(gy, int(v)), lanes);
    s.x += (g.x + g.y) + (g.z + g.w);
    s.y += dot(g, mix(vec4(0.0), texelFetch(x, int(v)) - mu, lanes));
  }
  vec4 k = bn_backward_coef(ch, subgroupAdd(s), j == 0u);
  if ((p.flags & 16u) == 0u) return;
  w = bn_walk_begin(ch, j);
  while (bn_walk_next(w, v, lanes)) {
    vec4 d = k.x * sc * texelFetch(gy, int(v)) -
             k.y * (texelFetch(x, int(v)) - k.w) - k.z;
    if (all(lanes)) {
      SET_OR_ADD(gx4[v], d);
    } else {
      for (uint l = 0u; l < 4u; l++)
        if (lanes[l]) SET_OR_ADD(gx[4u * v + l], d[l]);
    }
  }
}
