// The per-channel reductions of batch norm (bn_stats*.comp and
// bn_backward_stats*.comp) in one pass each.  `parts` invocations share
// the channel (bn_slot.glsl).  Each writes its partial sums to
// part[ch * parts + j]; the last invocation of the channel to finish (an
// atomic count in arrived[ch], zero before the dispatch) adds the
// channel's partials in order of j, so the result does not depend on
// which invocation that is.  Include after the push constants
// P { n, c, hw, parts, ... } p.
#ifndef DAM_BN_REDUCE_GLSL
#define DAM_BN_REDUCE_GLSL

#include "bn_slot.glsl"

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

#endif
