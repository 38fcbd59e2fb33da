// A channel's elements as slots n * U + u (image n < N, unit u < U of its
// plane: a float, or a vec4); `parts` invocations share the channel,
// invocation j taking slots j, j + parts, ... so neighbours read
// neighbouring units.  Include after the push constants
// P { n, c, hw, parts, ... } p.
#ifndef DAM_BN_SLOT_GLSL
#define DAM_BN_SLOT_GLSL

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

#endif
