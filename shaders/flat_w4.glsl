// FLAT_W4, specialization constant 2 (the shape key of run_shaped and
// dam__k_run_shaped in core/): 4 + the width mod 4 where the dispatch
// guarantees that the offset within its vec4 of a float at flat distance
// a W + b from a vec4's first follows from the width alone, 0 where it
// does not.  Shaders that realign spans by that offset then compile it in
// instead of selecting per float.
#ifndef DAM_FLAT_W4_GLSL
#define DAM_FLAT_W4_GLSL
layout(constant_id = 2) const int FLAT_W4 = 0;

// dist & 3, for dist = a W + b plus a multiple of 4 where FLAT_W4 is set.
int flat_offset(int dist, int a, int b) {
  return FLAT_W4 != 0 ? (a * (FLAT_W4 - 4) + b) & 3 : dist & 3;
}
#endif
