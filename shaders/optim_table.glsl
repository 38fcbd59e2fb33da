// The tensor table of the set kernels (sgd_table.comp, optim_dot_table.comp:
// one dispatch over a whole set of tensors that share their buffers).
// Entry e, at table[8e ..], holds the float offsets of the tensor's ranges
// within the bound buffers (up to three), its element count and the first
// invocation that works on it; entry `tensors` is a sentinel whose first
// invocation is the total.  Tensor e takes invocations begin[e] ..
// begin[e + 1], which stride over its elements, so neighbouring
// invocations read neighbouring elements.  Include after the binding
// `readonly buffer T { uint table[]; }`.
#ifndef DAM_OPTIM_TABLE_GLSL
#define DAM_OPTIM_TABLE_GLSL

const uint OPTIM_ENTRY = 8u;

uint optim_begin(uint e) { return table[OPTIM_ENTRY * e + 4u]; }

// The entry of invocation id, or `tensors` past the last one.
uint optim_entry(uint id, uint tensors) {
  if (id >= optim_begin(tensors)) return tensors;
  uint lo = 0u, hi = tensors; // begin[lo] <= id < begin[hi]
  while (hi - lo > 1u) {
    uint mid = (lo + hi) / 2u;
    if (optim_begin(mid) <= id) lo = mid;
    else hi = mid;
  }
  return lo;
}

#endif
