// The per-channel reductions of batch norm (bn_stats*.comp and
// bn_backward_stats*.comp) in one pass each.  A channel's elements are
// slots n * U + u (image n < N, unit u < U of its plane: a float, or a
// vec4); `parts` invocations share the channel, invocation j taking slots
// j, j + parts, ... so neighbours read neighbouring units.  Each writes
// its partial sums to part[ch * parts + j]; the last invocation of the
// channel to finish (an atomic count in arrived[ch], zero before the
// dispatch) adds the channel's partials in order of j, so the result does
// not depend on which invocation that is.  Include after the push constants
// P { n, c, hw, parts, ... } p.
#ifndef DAM_BN_REDUCE_GLSL
#define DAM_BN_REDUCE_GLSL

struct bn_slot {
  uint n, u;   // the current slot
  uint dn, du; // parts, in images and units
};

bn_slot bn_slot_first(uint j, uint units) {
  return bn_slot(j / units, j % units, p.parts / units, p.parts % units);
}

void bn_slot_next(inout bn_slot s, uint units) {
  s.n += s.dn;
  s.u += s.du;
  if (s.u >= units) {
    s.u -= units;
    s.n++;
  }
}

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
