// Batch-norm backward in one dispatch (CPU devices, where a launch costs
// more than the channels' work): workgroup ch, one subgroup of 8
// invocations, takes channel ch.  Each sums gy and gy * (x - mean) over its
// texels of the channel (bn_channel.glsl; the _flat variant for planes of
// other than 4k floats), subgroupAdd adds the eight up (no barrier:
// llvmpipe runs barrier shaders as coroutines), and the same texels then
// get gx from the coefficients still in registers (bn_backward_coef.glsl;
// the pass of bn_backward_apply.comp), a texel shared with another plane
// one float at a time.  Flag 16: gx given (else only ggamma and gbeta);
// flag 32: gy is read as scale[0] * gy (a node sum's term); flag 64 (with
// 32, no gamma): binding 5 gets the channel's sum of gy * xhat, gy before
// its scale (the channel's share of the scale's gradient <gy, xhat>),
// written at ch, or for a pair's term t at 2 ch + t.  The _set variant
// writes gx over (set_or_add.glsl).  With PAIR (the _pair variants: a
// node sum's two terms) workgroups c .. 2c - 1 do the same for a second
// norm of the same shape on the same gy, bound at 9 .. 13, with flags 16
// and 32 and no gamma (so do the first c).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 8) in;
#include "set_or_add.glsl"
#define DAM_WIDE_STORES 1
#include "store8.glsl"
// gx's whole texels, stored with DAM_STORE4 with SET
#if SET
#define SET_OR_ADD4(GX4, v, d) DAM_STORE4(GX4, v, d)
#else
#define SET_OR_ADD4(GX4, v, d) GX4[v] += (d)
#endif
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer SM { float save_mean[]; };
layout(std430, binding = 3) readonly buffer SI { float save_invstd[]; };
layout(std430, binding = 4) readonly buffer G { float gamma[]; };
layout(std430, binding = 5) buffer GG { float ggamma[]; };
layout(std430, binding = 5) writeonly buffer DOT { float dot_xhat[]; };
layout(std430, binding = 6) buffer GB { float gbeta[]; };
layout(std430, binding = 7) buffer GX { float gx[]; };
DAM_OUT_BUFFER(7, GX4, gx4);
layout(std430, binding = 8) readonly buffer SC { float scale[]; };
#ifndef PAIR
#define PAIR 0
#endif
#if PAIR
layout(binding = 9) uniform samplerBuffer x_1;
layout(std430, binding = 10) readonly buffer SM1 { float save_mean_1[]; };
layout(std430, binding = 11) readonly buffer SI1 { float save_invstd_1[]; };
layout(std430, binding = 12) buffer GX1 { float gx_1[]; };
DAM_OUT_BUFFER(12, GX41, gx4_1);
layout(std430, binding = 13) readonly buffer SC1 { float scale_1[]; };
#endif
layout(push_constant) uniform P {
  uint n, c, hw, parts;
  uint flags; // bn_backward_coef.glsl's, and 16: gx given, 32: gy scaled
} p;
#include "bn_channel.glsl"
#include "bn_backward_coef.glsl"

// Invocation j's part of channel ch's sums of gy and gy (x - mu).
vec2 bn_sums(samplerBuffer xb, uint ch, uint j, float mu) {
  vec2 s = vec2(0.0);
  bn_walk w = bn_walk_begin(ch, j);
  uint v;
  bvec4 lanes;
  while (bn_walk_next(w, v, lanes)) {
    vec4 g = mix(vec4(0.0), texelFetch(gy, int(v)), lanes);
    s.x += (g.x + g.y) + (g.z + g.w);
    s.y += dot(g, mix(vec4(0.0), texelFetch(xb, int(v)) - mu, lanes));
  }
  return s;
}

// The gradient of texel v from input XB, coefficients K and gy's scale SC.
#define BN_GX(XB, K, SC, v)                                                 \
  (K.x * SC * texelFetch(gy, int(v)) - K.y * (texelFetch(XB, int(v)) - K.w) - \
   K.z)

#if FLAT
// GX (GX4 as vec4s) += (or = with SET) the gradient of invocation j's
// planes n = j, j + 8, ... of channel ch: the texels inside a plane as
// vec4s, then the first and last, shared with the neighbouring planes,
// one float at a time (once a plane, not under a mask at every texel:
// llvmpipe walks the lanes of a masked store whether any is on or not).
#define BN_APPLY(XB, GX, GX4, K, SC)                                        \
  for (uint n = j; n < p.n; n += 8u) {                                      \
    uint first = (n * p.c + ch) * p.hw, last = first + p.hw;                \
    uint v0 = (first + 3u) / 4u, v1 = max(last / 4u, v0);                  \
    for (uint v = v0; v < v1; v++)                                          \
      SET_OR_ADD4(GX4, v, BN_GX(XB, K, SC, v));                             \
    uint head = first / 4u, tail = min(v1, p.n * p.c * p.hw / 4u - 1u);    \
    vec4 dh = BN_GX(XB, K, SC, head), dt = BN_GX(XB, K, SC, tail);          \
    for (uint l = 0u; l < 4u; l++) {                                        \
      uint fh = 4u * head + l, ft = 4u * tail + l;                          \
      if (fh >= first && fh < min(4u * v0, last))                           \
        SET_OR_ADD(GX[fh], dh[l]);                                          \
      if (ft >= 4u * v1 && ft < last) SET_OR_ADD(GX[ft], dt[l]);            \
    }                                                                       \
  }
#else
// GX (GX4 as vec4s) += (or = with SET) the gradient of invocation j's
// texels of channel ch.
#define BN_APPLY(XB, GX, GX4, K, SC)                                        \
  {                                                                         \
    bn_walk w = bn_walk_begin(ch, j);                                       \
    uint v;                                                                 \
    bvec4 lanes;                                                            \
    while (bn_walk_next(w, v, lanes))                                       \
      SET_OR_ADD4(GX4, v, BN_GX(XB, K, SC, v));                             \
  }
#endif

// With flag 64, term t's share of its scale's gradient from channel ch,
// whose sums s are of the unscaled gy.
void put_dot(uint ch, uint t, uint j, vec2 s, float invstd) {
  if ((p.flags & 64u) != 0u && j == 0u)
    dot_xhat[ch * (PAIR != 0 ? 2u : 1u) + t] = s.y * invstd;
}

void main() {
  uint wg = dam_linear_id() / 8u, j = gl_LocalInvocationID.x;
  uint term = PAIR != 0 && wg >= p.c ? 1u : 0u, ch = wg - term * p.c;
  if (ch >= p.c) return; // whole workgroups
#if PAIR
  if (term == 1u) {
    float mu = save_mean_1[ch], sc = scale_1[0];
    vec2 s = subgroupAdd(bn_sums(x_1, ch, j, mu));
    put_dot(ch, 1u, j, s, save_invstd_1[ch]);
    vec4 k = bn_backward_coef_of(sc * s, save_invstd_1[ch], 1.0, mu);
    BN_APPLY(x_1, gx_1, gx4_1, k, sc);
    return;
  }
#endif
  float mu = bn_centre(ch);
  float sc = (p.flags & 32u) != 0u ? scale[0] : 1.0;
  vec2 s = subgroupAdd(bn_sums(x, ch, j, mu));
  put_dot(ch, 0u, j, s, save_invstd[ch]);
  vec4 k = bn_backward_coef(ch, sc * s, j == 0u);
  if ((p.flags & 16u) == 0u) return;
  BN_APPLY(x, gx, gx4, k, sc);
}
