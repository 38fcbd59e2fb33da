// gx[N,I] += gy[N,O] w[O,I].  Each invocation keeps TN rows x TC columns
// of gx in registers; the columns of one invocation are 64 apart, so the
// 64 invocations of a workgroup cover 64 TC neighbouring columns and
// neighbouring invocations load neighbouring w and update neighbouring gx
// elements, while all of them share the gy loads.  Out-of-range rows and
// columns load clamped indices and are not stored.  No shared memory, no
// barrier.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer GY { float gy[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) buffer GX { float gx[]; };
layout(push_constant) uniform P { uint n; uint i; uint o; } p;
#define TN 8
#define TC 4
void main() {
  uint id = dam_linear_id();
  uint blocks = (p.i + 64 * TC - 1) / (64 * TC);
  uint group = id / 64, lane = id % 64;
  uint n0 = group / blocks * TN;
  uint c0 = group % blocks * (64 * TC) + lane;
  if (n0 >= p.n) return;
  uint gr[TN], wc[TC];
  for (uint a = 0; a < TN; a++) gr[a] = min(n0 + a, p.n - 1) * p.o;
  for (uint c = 0; c < TC; c++) wc[c] = min(c0 + 64 * c, p.i - 1);
  float acc[TN][TC];
  for (uint a = 0; a < TN; a++)
    for (uint c = 0; c < TC; c++) acc[a][c] = 0.0;
  for (uint k = 0; k < p.o; k++) {
    float gv[TN], wv[TC];
    for (uint a = 0; a < TN; a++) gv[a] = gy[gr[a] + k];
    for (uint c = 0; c < TC; c++) wv[c] = w[k * p.i + wc[c]];
    for (uint a = 0; a < TN; a++)
      for (uint c = 0; c < TC; c++) acc[a][c] += gv[a] * wv[c];
  }
  for (uint c = 0; c < TC; c++) {
    uint col = c0 + 64 * c;
    if (col >= p.i) break;
    for (uint a = 0; a < TN; a++)
      if (n0 + a < p.n) gx[(n0 + a) * p.i + col] += acc[a][c];
  }
}
