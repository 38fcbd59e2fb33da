// y[N,O] = x[N,I] w[O,I]^T (+ b[O]).  Each invocation keeps a TN x TO
// register tile of y (rows n0.., columns o0..); invocations next to each
// other take neighbouring column tiles of the same rows, so they share the
// x loads.  Out-of-range rows and columns load clamped indices and are not
// stored, which keeps the inner loop free of branches.  No shared memory,
// no barrier (fast on CPU devices; the layer is small in DARTS networks).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; uint i; uint o; uint has_b; } p;
#define TN 8
#define TO 8
void main() {
  uint id = dam_linear_id();
  uint o_tiles = (p.o + TO - 1) / TO;
  uint n0 = id / o_tiles * TN, o0 = id % o_tiles * TO;
  if (n0 >= p.n) return;
  uint xr[TN], wr[TO];
  for (uint a = 0; a < TN; a++) xr[a] = min(n0 + a, p.n - 1) * p.i;
  for (uint c = 0; c < TO; c++) wr[c] = min(o0 + c, p.o - 1) * p.i;
  float acc[TN][TO];
  for (uint a = 0; a < TN; a++)
    for (uint c = 0; c < TO; c++) acc[a][c] = 0.0;
  for (uint k = 0; k < p.i; k++) {
    float xv[TN], wv[TO];
    for (uint a = 0; a < TN; a++) xv[a] = x[xr[a] + k];
    for (uint c = 0; c < TO; c++) wv[c] = w[wr[c] + k];
    for (uint a = 0; a < TN; a++)
      for (uint c = 0; c < TO; c++) acc[a][c] += xv[a] * wv[c];
  }
  for (uint c = 0; c < TO; c++) {
    uint o = o0 + c;
    if (o >= p.o) break;
    float bias = p.has_b != 0u ? b[o] : 0.0;
    for (uint a = 0; a < TN; a++)
      if (n0 + a < p.n) y[(n0 + a) * p.o + o] = acc[a][c] + bias;
  }
}
