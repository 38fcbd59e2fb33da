// auto_contrast of enhance.c, per image channel: out = (x - lo) / (hi - lo)
// with lo, hi its minimum and maximum, out = x where hi - lo < 1e-6.
// `pass` picks what one dispatch does (j: image channel relative to the
// call's first image, i: an element's index in the batch):
//   STATS    per channel j: dst[6j ...] = lo, hi, argmin, argmax (first
//            on ties; offsets in the channel as floats, exact below 2^24
//            pixels), and when `with_grad` (aux = grad_out)
//            s_lo = sum aux * (x - hi), s_hi = sum aux * (x - lo)
//   FORWARD  per element: dst[i] = out, from stat = the STATS pass's output
//   INPUT    per element, aux = grad_out, stat as in FORWARD:
//            dst[i] += d out / d x^T grad_out
// Bindings a pass does not use take any readable tensor.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) readonly buffer Aux { float aux[]; };
layout(std430, binding = 2) readonly buffer Stat { float stat[]; };
layout(std430, binding = 3) buffer Dst { float dst[]; };
layout(push_constant) uniform P {
  uint first, count, channels, plane, pass, with_grad;
} p;

const uint STATS = 0u, FORWARD = 1u, INPUT = 2u;

void stats_pass(uint j) {
  if (j >= p.count * p.channels) return;
  uint base = (p.first * p.channels + j) * p.plane;
  float lo = x[base], hi = lo;
  uint amin = 0u, amax = 0u;
  for (uint k = 1u; k < p.plane; k++) {
    float v = x[base + k];
    if (v < lo) { lo = v; amin = k; }
    if (v > hi) { hi = v; amax = k; }
  }
  float s_lo = 0.0, s_hi = 0.0;
  if (p.with_grad != 0u)
    for (uint k = 0u; k < p.plane; k++) {
      float g = aux[base + k], v = x[base + k];
      s_lo += g * (v - hi);
      s_hi += g * (v - lo);
    }
  uint o = 6u * j;
  dst[o] = lo;
  dst[o + 1u] = hi;
  dst[o + 2u] = float(amin);
  dst[o + 3u] = float(amax);
  dst[o + 4u] = s_lo;
  dst[o + 5u] = s_hi;
}

void main() {
  uint k = dam_linear_id();
  if (p.pass == STATS) {
    stats_pass(k);
    return;
  }
  if (k >= p.count * p.channels * p.plane) return;
  uint i = p.first * p.channels * p.plane + k, o = 6u * (k / p.plane);
  float lo = stat[o], hi = stat[o + 1u];
  float range = hi - lo;
  if (p.pass == FORWARD) {
    dst[i] = range < 1e-6 ? x[i] : (x[i] - lo) / range;
    return;
  }
  float g = aux[i];
  if (range >= 1e-6) {
    float at = float(k % p.plane);
    g /= range;
    if (at == stat[o + 2u]) g += stat[o + 4u] / (range * range);
    if (at == stat[o + 3u]) g -= stat[o + 5u] / (range * range);
  }
  dst[i] += g;
}
