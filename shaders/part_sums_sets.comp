// dst_t[i] += sum over p < parts[t] of part_t[first[t] + p * stride[t] +
// i], in order of p, for up to SETS queued sums in one dispatch
// (core/part_sums.c).
// Sum t binds its parts at 2t and its destination at 2t + 1 and takes
// count[t] invocations after those of the sums before it, one per element
// (neighbouring invocations read neighbouring elements of each part).
// Sums with count 0 are placeholders.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "diffautoml/dam_shader.glsl"
#define SETS 7
#define SET(T)                                                                 \
  layout(std430, binding = 2 * T) readonly buffer P##T { float v[]; } part##T; \
  layout(std430, binding = 2 * T + 1) buffer D##T { float v[]; } dst##T;
SET(0)
SET(1)
SET(2)
SET(3)
SET(4)
SET(5)
SET(6)
layout(push_constant) uniform P {
  uint count[SETS], parts[SETS], first[SETS], stride[SETS];
} p;
#define SUM(T)                                                                 \
  if (t == T) {                                                                \
    float s = 0.0;                                                             \
    for (uint q = 0u; q < p.parts[T]; q++)                                     \
      s += part##T.v[p.first[T] + q * p.stride[T] + i];                        \
    dst##T.v[i] += s;                                                          \
  }
void main() {
  uint i = dam_linear_id(), t = 0u;
  for (; t < SETS && i >= p.count[t]; t++) i -= p.count[t];
  if (t == SETS) return;
  SUM(0)
  SUM(1)
  SUM(2)
  SUM(3)
  SUM(4)
  SUM(5)
  SUM(6)
}
