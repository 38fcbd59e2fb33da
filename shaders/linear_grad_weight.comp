// gw[O,I] += gy[N,O]^T x[N,I] and, with has_b, gb[O] += sum_n gy[n,:].
// Each invocation keeps TO rows x TC columns of gw in registers; the
// columns of one invocation are 64 apart, so neighbouring invocations load
// neighbouring x and update neighbouring gw elements, while all of them
// share the gy loads.  Out-of-range rows and columns load clamped indices
// and are not stored.  The invocation holding column 0 also sums the bias
// gradient of its rows.  No shared memory, no barrier.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer GY { float gy[]; };
layout(std430, binding = 2) buffer GW { float gw[]; };
layout(std430, binding = 3) buffer GB { float gb[]; };
layout(push_constant) uniform P { uint n; uint i; uint o; uint has_b; } p;
#define TO 8
#define TC 4
void main() {
  uint id = dam_linear_id();
  uint blocks = (p.i + 64 * TC - 1) / (64 * TC);
  uint group = id / 64, lane = id % 64;
  uint o0 = group / blocks * TO;
  uint c0 = group % blocks * (64 * TC) + lane;
  if (o0 >= p.o) return;
  uint oc[TO], xc[TC];
  for (uint a = 0; a < TO; a++) oc[a] = min(o0 + a, p.o - 1);
  for (uint c = 0; c < TC; c++) xc[c] = min(c0 + 64 * c, p.i - 1);
  float acc[TO][TC];
  for (uint a = 0; a < TO; a++)
    for (uint c = 0; c < TC; c++) acc[a][c] = 0.0;
  for (uint r = 0; r < p.n; r++) {
    float gv[TO], xv[TC];
    for (uint a = 0; a < TO; a++) gv[a] = gy[r * p.o + oc[a]];
    for (uint c = 0; c < TC; c++) xv[c] = x[r * p.i + xc[c]];
    for (uint a = 0; a < TO; a++)
      for (uint c = 0; c < TC; c++) acc[a][c] += gv[a] * xv[c];
  }
  for (uint c = 0; c < TC; c++) {
    uint col = c0 + 64 * c;
    if (col >= p.i) break;
    for (uint a = 0; a < TO; a++)
      if (o0 + a < p.o) gw[(o0 + a) * p.i + col] += acc[a][c];
  }
  if (p.has_b == 0u || c0 != 0u) return;
  for (uint a = 0; a < TO && o0 + a < p.o; a++) {
    float s = 0.0;
    for (uint r = 0; r < p.n; r++) s += gy[r * p.o + o0 + a];
    gb[o0 + a] += s;
  }
}
