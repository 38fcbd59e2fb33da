// The DHA weight step of sgd.comp over up to SETS parameter tensors in one
// dispatch, with gradient clipping folded in: each gradient is read as
// g * min(1, max_norm / (norm[0] + 1e-6)) when max_norm > 0 (the factor
// of clip.comp, the norm read on the device), else as is.  Tensor t binds
// w, g and buf at 1 + 3t, 2 + 3t and 3 + 3t, takes parts(n[t]) invocations
// after those of the tensors before it, and each strides over its tensor
// (clip.comp's layout).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
#define SETS 5
layout(std430, binding = 0) readonly buffer N { float norm[]; };
#define SET(T, BW, BG, BB)                                                     \
  layout(std430, binding = BW) buffer W##T { float v[]; } w##T;                \
  layout(std430, binding = BG) readonly buffer G##T { float v[]; } g##T;       \
  layout(std430, binding = BB) buffer B##T { float v[]; } b##T;
SET(0, 1, 2, 3)
SET(1, 4, 5, 6)
SET(2, 7, 8, 9)
SET(3, 10, 11, 12)
SET(4, 13, 14, 15)
layout(push_constant) uniform P {
  uint n[SETS]; float lr; float wd; float momentum; uint nesterov;
  float max_norm; uint per; uint max_parts;
} p;
#define STEP(T)                                                                \
  for (uint j = i; j < n; j += parts) {                                        \
    float wj = w##T.v[j];                                                      \
    precise float gj = g##T.v[j] * f; /* rounded as clip.comp writes it */    \
    float d = gj + p.wd * wj;                                                  \
    float b = p.momentum * b##T.v[j] + d;                                      \
    b##T.v[j] = b;                                                             \
    w##T.v[j] = wj - p.lr * (p.nesterov != 0u ? d + p.momentum * b : b);       \
  }
void main() {
  uint id = dam_linear_id(), begin = 0u, t = 0u, parts = 0u;
  for (; t < SETS; t++) {
    parts = min(p.n[t] / p.per + uint(p.n[t] % p.per != 0u), p.max_parts);
    if (id < begin + parts) break;
    begin += parts;
  }
  if (t == SETS) return;
  uint i = id - begin, n = p.n[t];
  float f = p.max_norm > 0.0 ? min(1.0, p.max_norm / (norm[0] + 1e-6)) : 1.0;
  switch (t) {
  case 0u: STEP(0); break;
  case 1u: STEP(1); break;
  case 2u: STEP(2); break;
  case 3u: STEP(3); break;
  case 4u: STEP(4); break;
  }
}
