// Partial sums of a dot product over up to SETS pairs of tensors (a_t at
// binding t, b_t at binding SETS + t) in one dispatch: the slots of pair t
// are out[end[t-1] .. end[t]) (end[-1] = 0), and its slot i < parts[t]
// gets the sum over j = i, i + parts[t], ... < n[t] of a_t[j] b_t[j];
// slots past parts[t] get 0.  Strided so neighbouring invocations read
// neighbouring elements; no shared memory, no barrier.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
#define SETS 7
layout(std430, binding = 0) readonly buffer A0 { float v[]; } a0;
layout(std430, binding = 1) readonly buffer A1 { float v[]; } a1;
layout(std430, binding = 2) readonly buffer A2 { float v[]; } a2;
layout(std430, binding = 3) readonly buffer A3 { float v[]; } a3;
layout(std430, binding = 4) readonly buffer A4 { float v[]; } a4;
layout(std430, binding = 5) readonly buffer A5 { float v[]; } a5;
layout(std430, binding = 6) readonly buffer A6 { float v[]; } a6;
layout(std430, binding = 7) readonly buffer B0 { float v[]; } b0;
layout(std430, binding = 8) readonly buffer B1 { float v[]; } b1;
layout(std430, binding = 9) readonly buffer B2 { float v[]; } b2;
layout(std430, binding = 10) readonly buffer B3 { float v[]; } b3;
layout(std430, binding = 11) readonly buffer B4 { float v[]; } b4;
layout(std430, binding = 12) readonly buffer B5 { float v[]; } b5;
layout(std430, binding = 13) readonly buffer B6 { float v[]; } b6;
layout(std430, binding = 14) writeonly buffer O { float o[]; };
layout(push_constant) uniform P {
  uint n[SETS]; uint parts[SETS]; uint end[SETS];
} p;
#define SUM(A, B) for (uint j = i; j < n; j += step) s += A.v[j] * B.v[j]
void main() {
  uint id = dam_linear_id();
  if (id >= p.end[SETS - 1]) return;
  uint t = 0;
  while (id >= p.end[t]) t++;
  uint i = id - (t == 0u ? 0u : p.end[t - 1]);
  uint n = i < p.parts[t] ? p.n[t] : 0u, step = p.parts[t];
  float s = 0.0;
  switch (t) {
  case 0u: SUM(a0, b0); break;
  case 1u: SUM(a1, b1); break;
  case 2u: SUM(a2, b2); break;
  case 3u: SUM(a3, b3); break;
  case 4u: SUM(a4, b4); break;
  case 5u: SUM(a5, b5); break;
  case 6u: SUM(a6, b6); break;
  }
  o[id] = s;
}
