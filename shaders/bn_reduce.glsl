// The per-channel reductions of batch norm (bn_stats*.comp and
// bn_backward_stats*.comp) in one pass each.  `parts` invocations share
// the channel (bn_slot.glsl), and their partial sums go to part[]; the
// last to finish (an atomic count in arrived[ch], zero before the
// dispatch) adds the channel's partials in a fixed order, so the result
// does not depend on which that is.  Without WG_REDUCE each invocation
// stores its sums at part[ch * parts + j] and the last invocation adds
// them alone (CPU devices, where a workgroup barrier is costly).  With
// WG_REDUCE (the _wg variants, for GPUs; parts a multiple of the
// workgroup size, so no workgroup spans two channels) a workgroup adds
// its invocations' sums in shared memory and stores one partial, and the
// whole last workgroup adds the channel's partials: no lane adds more
// than a few.  Include after the push constants
// P { n, c, hw, parts, ... } p.
#ifndef DAM_BN_REDUCE_GLSL
#define DAM_BN_REDUCE_GLSL

#include "bn_slot.glsl"

#ifdef WG_REDUCE
const uint BN_WG = gl_WorkGroupSize.x;
shared vec2 bn_wg_sum[BN_WG];
shared bool bn_wg_last;

// The sum of s over the workgroup, in every lane (a tree of fixed order).
vec2 bn_wg_total(vec2 s) {
  uint l = gl_LocalInvocationID.x;
  barrier();
  bn_wg_sum[l] = s;
  barrier();
  for (uint h = BN_WG / 2u; h > 0u; h >>= 1u) {
    if (l < h) bn_wg_sum[l] += bn_wg_sum[l + h];
    barrier();
  }
  return bn_wg_sum[0];
}

// Called by every invocation of the workgroup: true, in all its lanes,
// for the channel's last workgroup, which may then read every partial.
bool bn_last_partial(uint ch, uint j, vec2 s) {
  vec2 t = bn_wg_total(s);
  uint parts = p.parts / BN_WG;
  if (gl_LocalInvocationID.x == 0u) {
    part[ch * parts + j / BN_WG] = t;
    memoryBarrierBuffer();
    bn_wg_last = atomicAdd(arrived[ch], 1u) == parts - 1u;
  }
  barrier();
  bool last = bn_wg_last;
  if (last) memoryBarrierBuffer();
  return last;
}

// Called by every invocation of the last workgroup.
vec2 bn_channel_sum(uint ch) {
  uint parts = p.parts / BN_WG;
  vec2 s = vec2(0.0);
  for (uint j = gl_LocalInvocationID.x; j < parts; j += BN_WG)
    s += part[ch * parts + j];
  return bn_wg_total(s);
}

// Whether this invocation writes the channel's results (one per channel).
bool bn_writes() { return gl_LocalInvocationID.x == 0u; }
#else
// Stores this invocation's partial sums and counts it in; true for the
// last of the channel's invocations, which may then read every partial.
bool bn_last_partial(uint ch, uint j, vec2 s) {
  part[ch * p.parts + j] = s;
  memoryBarrierBuffer();
  bool last = atomicAdd(arrived[ch], 1u) == p.parts - 1u;
  if (last) memoryBarrierBuffer();
  return last;
}

vec2 bn_channel_sum(uint ch) {
  vec2 s = vec2(0.0);
  for (uint j = 0u; j < p.parts; j++) s += part[ch * p.parts + j];
  return s;
}

bool bn_writes() { return true; }
#endif

#endif
