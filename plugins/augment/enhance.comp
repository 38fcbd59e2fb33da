// The enhancers of enhance.c: out = clamp(d + f * (x - d), 0, 1) with
// f = m / 8 * 1.8 + 0.1 and d the mode's degenerate image.  `pass` picks
// what one dispatch does (n = count * channels * plane, k < n relative to
// the call's first image, i = first * channels * plane + k):
//   MEAN     per image r < count: dst[r] = mean grayscale (contrast's d)
//   FORWARD  per element: dst[i] = out;  stat = the MEAN pass's means
//   GRAD     per element, aux = grad_out: gm = aux[i] where the clamp is
//            inactive, else 0; dst[k] = gm, dst[n + k] = gm * (x - d)
//   INPUT    per element, aux = the GRAD pass's output, stat = per-image
//            sums of its gm (contrast): dst[i] += d out / d x^T grad_out
// Bindings a pass does not use take any readable tensor.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) readonly buffer Mag { float mag[]; };
layout(std430, binding = 2) readonly buffer Stat { float stat[]; };
layout(std430, binding = 3) readonly buffer Aux { float aux[]; };
layout(std430, binding = 4) buffer Dst { float dst[]; };
layout(push_constant) uniform P {
  uint first, count, channels, height, width, mode, pass;
} p;

const uint BRIGHTNESS = 0u, CONTRAST = 1u, COLOR = 2u, SHARPNESS = 3u;
const uint MEAN = 0u, FORWARD = 1u, GRAD = 2u, INPUT = 3u;

// The grayscale weight of channel c (ITU-R 601 for RGB).
float gray_weight(uint c) {
  if (p.channels != 3u) return 1.0;
  return c == 0u ? 0.299 : c == 1u ? 0.587 : 0.114;
}

bool border(int y, int x) {
  return y <= 0 || x <= 0 || y >= int(p.height) - 1 || x >= int(p.width) - 1;
}

float factor(uint image) { return mag[image] / 8.0 * 1.8 + 0.1; }

void mean_pass(uint r) {
  if (r >= p.count) return;
  uint plane = p.height * p.width;
  uint base = (p.first + r) * p.channels * plane;
  float l = 0.0;
  for (uint c = 0u; c < p.channels; c++) {
    float s = 0.0;
    for (uint k = 0u; k < plane; k++) s += x[base + c * plane + k];
    l += gray_weight(c) * s;
  }
  dst[r] = l / float(plane);
}

// d at element i (image r relative to first, channel c, row y, column xx).
float degenerate(uint i, uint r, uint c, int y, int xx) {
  uint plane = p.height * p.width;
  if (p.mode == BRIGHTNESS) return 0.0;
  if (p.mode == CONTRAST) return stat[r];
  if (p.mode == COLOR) {
    uint pixel = i - c * plane;
    float l = 0.0;
    for (uint cc = 0u; cc < p.channels; cc++)
      l += gray_weight(cc) * x[pixel + cc * plane];
    return l;
  }
  if (border(y, xx)) return x[i];
  float s = 4.0 * x[i];
  for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++)
      s += x[uint(int(i) + dy * int(p.width) + dx)];
  return s / 13.0;
}

// The sum of gm * d d / d x at element k: what reaches x through d.
float through_degenerate(uint k, uint r, uint c, int y, int xx) {
  uint plane = p.height * p.width;
  if (p.mode == BRIGHTNESS) return 0.0;
  if (p.mode == CONTRAST) return gray_weight(c) * stat[r] / float(plane);
  if (p.mode == COLOR) {
    uint pixel = k - c * plane;
    float s = 0.0;
    for (uint cc = 0u; cc < p.channels; cc++) s += aux[pixel + cc * plane];
    return gray_weight(c) * s;
  }
  float s = 0.0;
  for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++)
      if (!border(y + dy, xx + dx))
        s += aux[uint(int(k) + dy * int(p.width) + dx)] *
             (dy == 0 && dx == 0 ? 5.0 : 1.0);
  return (border(y, xx) ? aux[k] : 0.0) + s / 13.0;
}

void main() {
  uint k = dam_linear_id();
  if (p.pass == MEAN) {
    mean_pass(k);
    return;
  }
  uint plane = p.height * p.width, len = p.channels * plane;
  uint n = p.count * len;
  if (k >= n) return;
  uint r = k / len, c = (k % len) / plane, pix = k % plane;
  int y = int(pix / p.width), xx = int(pix % p.width);
  uint i = p.first * len + k;
  float f = factor(p.first + r);
  if (p.pass == INPUT) {
    dst[i] += f * aux[k] + (1.0 - f) * through_degenerate(k, r, c, y, xx);
    return;
  }
  float v = x[i];
  float d = degenerate(i, r, c, y, xx);
  float u = d + f * (v - d);
  if (p.pass == FORWARD) {
    dst[i] = clamp(u, 0.0, 1.0);
  } else {
    float gm = u >= 0.0 && u <= 1.0 ? aux[i] : 0.0;
    dst[k] = gm;
    dst[n + k] = gm * (v - d);
  }
}
