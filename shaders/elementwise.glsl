// Elementwise kernels run over vec4s: on CPU devices a vec4 load costs
// about what a float load does, and each invocation takes DAM_EW_SPAN of
// them (fewer invocations: lavapipe pays per invocation too).  With
// q = ceil((n/4) / DAM_EW_SPAN) invocations over the vec4s, invocation i
// takes vec4s i, i + q, i + 2q, ... below n/4 (neighbouring invocations
// read neighbouring vec4s), and invocations i < n%4 take one float each
// of the n%4 left over.  Shaders loop over DAM_EW_SLOTS slots.  Kernels
// that store 8 floats at once (store8.glsl) take pairs of vec4s instead:
// with q8 = ceil((n/8) / DAM_EW_PAIRS), invocation i takes pairs i,
// i + q8, ... below n/8, and invocations i < n%8 one float each of the
// n%8 left over (DAM_EW_PAIR_SLOTS slots).  The host dispatches
// max(q, n%8) invocations, enough for both (dam__k_elementwise_invocations).
// Include after the layout line (dam_linear_id reads the local size).
#ifndef DAM_ELEMENTWISE_GLSL
#define DAM_ELEMENTWISE_GLSL

const uint DAM_VEC4 = 1u, DAM_FLOAT = 2u, DAM_PAIR = 3u;
const uint DAM_EW_SPAN = 4u, DAM_EW_SLOTS = DAM_EW_SPAN + 1u;
const uint DAM_EW_PAIRS = 2u, DAM_EW_PAIR_SLOTS = DAM_EW_PAIRS + 1u;

// Slot j < runs: `tag` with k the index of a unit of `unit` floats; slot
// runs: DAM_FLOAT with k a float index; 0 when the slot has no element.
uint dam_elementwise_unit_slot(uint n, uint j, uint unit, uint runs,
                               uint tag, out uint k) {
  uint i = dam_linear_id(), units = n / unit;
  uint q = (units + runs - 1u) / runs;
  if (j < runs) {
    k = i + j * q;
    return i < q && k < units ? tag : 0u;
  }
  k = unit * units + i;
  return i < n % unit ? DAM_FLOAT : 0u;
}

// Slot j of DAM_EW_SLOTS: DAM_VEC4 with k a vec4 index, or DAM_FLOAT.
uint dam_elementwise_slot(uint n, uint j, out uint k) {
  return dam_elementwise_unit_slot(n, j, 4u, DAM_EW_SPAN, DAM_VEC4, k);
}

// Slot j of DAM_EW_PAIR_SLOTS: DAM_PAIR with k the index of vec4 pair
// (2k, 2k + 1), or DAM_FLOAT.
uint dam_elementwise_pair_slot(uint n, uint j, out uint k) {
  return dam_elementwise_unit_slot(n, j, 8u, DAM_EW_PAIRS, DAM_PAIR, k);
}

#endif
