// Copy (or add, with accumulate) a run of channels between two NCHW tensors
// as channel_copy.comp does, for runs that do not fall on vec4s: `parts`
// invocations share a row (src holds src_n4 whole vec4s), and the dst
// vec4s wholly inside the run are split into spans of `span`, one per
// invocation, each filled from src through its vec4 view: the run's shift
// against src's vec4s (r, fixed per row) is taken from a sliding pair, so
// a step loads one vec4 and stores one; invocation 0 of a row also moves
// the up to 3 floats at either end.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) buffer D { float dst[]; };
layout(std430, binding = 0) readonly buffer S4 { vec4 src4[]; };
layout(std430, binding = 1) buffer D4 { vec4 dst4[]; };
layout(push_constant) uniform P {
  uint rows, len, parts, src_row, dst_row, src_off, dst_off;
  uint flags; // 1: accumulate
  uint span, src_n4;
} p;

void move(uint s, uint d, uint from, uint to, bool acc) {
  if (acc)
    for (uint e = from; e < to; ++e) dst[d + e] += src[s + e];
  else
    for (uint e = from; e < to; ++e) dst[d + e] = src[s + e];
}

void main() {
  uint i = dam_linear_id();
  if (i >= p.rows * p.parts) return;
  uint n = i / p.parts, e = i - n * p.parts;
  uint s = n * p.src_row + p.src_off, d = n * p.dst_row + p.dst_off;
  bool acc = (p.flags & 1u) != 0u;
  // Run floats [head, tail) fill whole dst vec4s [v0, v0 + count).
  uint head = min((4u - (d & 3u)) & 3u, p.len);
  uint tail = max(head, p.len - ((d + p.len) & 3u));
  if (e == 0u) {
    move(s, d, 0u, head, acc);
    move(s, d, tail, p.len, acc);
  }
  uint v0 = (d + head) / 4u, count = (tail - head) / 4u;
  uint k = e * p.span, end = min(k + p.span, count);
  if (k >= end) return;
  uint f = s + head + 4u * k, a0 = f / 4u, r = f & 3u;
  uint ahead = r == 0u ? 0u : 1u, last = p.src_n4 - 1u;
  vec4 a = src4[min(a0, last)];
  for (; k < end; ++k, ++a0) {
    vec4 b = src4[min(a0 + ahead, last)];
    vec4 o = r == 0u ? b
           : r == 1u ? vec4(a.yzw, b.x)
           : r == 2u ? vec4(a.zw, b.xy)
                     : vec4(a.w, b.xyz);
    if (acc)
      dst4[v0 + k] += o;
    else
      dst4[v0 + k] = o;
    a = b;
  }
}
