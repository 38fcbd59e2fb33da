// dst_t[i] += sum over p < parts[t] of part_t[first[t] + p * stride[t] +
// i], in order of p, for up to SETS queued sums in one dispatch
// (core/part_sums.c).  Sum t binds its parts at 2t, read as vec4 texels,
// and its destination at 2t + 1, and takes ceil(count[t] / 4) invocations
// after those of the sums before it, one per four elements (neighbouring
// invocations read neighbouring texels of each part).  Where first[t] and
// stride[t] are multiples of 4 a part's four elements are one texel;
// otherwise each is fetched on its own.  Sums with count 0 are
// placeholders.  The pipeline is specialized on the queue (SUMS, constant
// 2: core/part_sums.c): its length, so the blocks of the sums past it are
// not compiled (llvmpipe runs every block, under a mask), and which sums
// read whole texels.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#define SETS 7
#define SET(T)                                                                 \
  layout(binding = 2 * T) uniform samplerBuffer part##T;                       \
  layout(std430, binding = 2 * T + 1) buffer D##T { float v[]; } dst##T;
SET(0)
SET(1)
SET(2)
SET(3)
SET(4)
SET(5)
SET(6)
// bits 0-2: the sums queued; bit 3 + t: sum t's first and stride are
// multiples of 4
layout(constant_id = 2) const uint SUMS = SETS;
layout(push_constant) uniform P {
  uint count[SETS], parts[SETS], first[SETS], stride[SETS];
} p;
#define SUM(T)                                                                 \
  if (T < (SUMS & 7u) && t == T) {                                            \
    vec4 s = vec4(0.0);                                                        \
    uint at = p.first[T] + 4u * i;                                             \
    if ((SUMS & (8u << T)) != 0u)                                              \
      for (uint q = 0u; q < p.parts[T]; q++)                                   \
        s += texelFetch(part##T, int((at + q * p.stride[T]) >> 2));            \
    else                                                                       \
      for (uint q = 0u; q < p.parts[T]; q++)                                   \
        for (uint e = 0u; e < 4u; e++)                                         \
          s[e] += dam_texel_float(part##T, at + q * p.stride[T] + e);          \
    for (uint e = 0u; e < 4u && 4u * i + e < p.count[T]; e++)                  \
      dst##T.v[4u * i + e] += s[e];                                            \
  }
void main() {
  uint i = dam_linear_id(), t = 0u;
  for (; t < SETS && i >= (p.count[t] + 3u) / 4u; t++)
    i -= (p.count[t] + 3u) / 4u;
  if (t == SETS) return;
  SUM(0)
  SUM(1)
  SUM(2)
  SUM(3)
  SUM(4)
  SUM(5)
  SUM(6)
}
