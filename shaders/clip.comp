// Gradient clipping over up to SETS tensors (g_t at binding 1 + t) in one
// dispatch: g_t *= min(1, max_norm / (norm[0] + 1e-6)) with the norm read
// on the device.  Tensor t takes parts(n[t]) = min(ceil(n[t] / per),
// max_parts) invocations, after those of the tensors before it, and each
// strides over its tensor, so neighbouring invocations touch neighbouring
// elements.  The code of each tensor is a loop, which the SIMD lanes of
// other tensors leave at once on CPU devices.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#define SETS 15
layout(std430, binding = 0) readonly buffer N { float norm[]; };
layout(std430, binding = 1) buffer G0 { float v[]; } g0;
layout(std430, binding = 2) buffer G1 { float v[]; } g1;
layout(std430, binding = 3) buffer G2 { float v[]; } g2;
layout(std430, binding = 4) buffer G3 { float v[]; } g3;
layout(std430, binding = 5) buffer G4 { float v[]; } g4;
layout(std430, binding = 6) buffer G5 { float v[]; } g5;
layout(std430, binding = 7) buffer G6 { float v[]; } g6;
layout(std430, binding = 8) buffer G7 { float v[]; } g7;
layout(std430, binding = 9) buffer G8 { float v[]; } g8;
layout(std430, binding = 10) buffer G9 { float v[]; } g9;
layout(std430, binding = 11) buffer G10 { float v[]; } g10;
layout(std430, binding = 12) buffer G11 { float v[]; } g11;
layout(std430, binding = 13) buffer G12 { float v[]; } g12;
layout(std430, binding = 14) buffer G13 { float v[]; } g13;
layout(std430, binding = 15) buffer G14 { float v[]; } g14;
layout(push_constant) uniform P {
  uint n[SETS]; float max_norm; uint per; uint max_parts;
} p;
#define SCALE(G) for (uint j = i; j < n; j += parts) G.v[j] *= f
void main() {
  uint id = dam_linear_id(), begin = 0u, t = 0u, parts = 0u;
  for (; t < SETS; t++) {
    parts = min(p.n[t] / p.per + uint(p.n[t] % p.per != 0u), p.max_parts);
    if (id < begin + parts) break;
    begin += parts;
  }
  if (t == SETS) return;
  uint i = id - begin, n = p.n[t];
  float f = min(1.0, p.max_norm / (norm[0] + 1e-6));
  switch (t) {
  case 0u: SCALE(g0); break;
  case 1u: SCALE(g1); break;
  case 2u: SCALE(g2); break;
  case 3u: SCALE(g3); break;
  case 4u: SCALE(g4); break;
  case 5u: SCALE(g5); break;
  case 6u: SCALE(g6); break;
  case 7u: SCALE(g7); break;
  case 8u: SCALE(g8); break;
  case 9u: SCALE(g9); break;
  case 10u: SCALE(g10); break;
  case 11u: SCALE(g11); break;
  case 12u: SCALE(g12); break;
  case 13u: SCALE(g13); break;
  case 14u: SCALE(g14); break;
  }
}
