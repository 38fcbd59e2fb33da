// The transforms of pointwise.c.  `pass` picks what one dispatch does:
//   FORWARD   per element of the call's images: dst = T(x); for equalize,
//             aux holds the LUT pass's tables
//   BACKWARD  per element: dst += T'(x) * aux, aux = grad_out
//             (T' = +-1, or 1 straight-through)
//   LUT       per image channel j (relative to `first`): equalize's table,
//             the 256 output levels at dst[j * 256 ...] as floats
// Bindings a pass does not use take any readable tensor.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) readonly buffer Mag { float mag[]; };
layout(std430, binding = 2) readonly buffer Aux { float aux[]; };
layout(std430, binding = 3) buffer Dst { float dst[]; };
layout(push_constant) uniform P {
  uint first, count, channels, plane, mode, pass;
} p;

const uint IDENTITY = 0u, INVERT = 1u, POSTERIZE = 2u, SOLARIZE = 3u,
           EQUALIZE = 4u;
const uint FORWARD = 0u, BACKWARD = 1u, LUT = 2u;

// The 0..255 level of an intensity: floor(v * 255 + 0.5), clamped.
int level(float v) {
  precise float s = v * 255.0 + 0.5;
  return int(clamp(floor(s), 0.0, 255.0));
}

float posterize(float v, float m) {
  precise float b = m / 8.0 * 3.0 + 1.0;
  int bits = clamp(int(b), 0, 8);
  return float(level(v) & ~((1 << (8 - bits)) - 1)) / 255.0;
}

bool negated(float v, float m) {
  precise float t = m / 8.0 * 256.0;
  return p.mode == INVERT || (p.mode == SOLARIZE && level(v) >= int(t));
}

// PIL's ImageOps.equalize on one channel's levels.
void lut_pass(uint j) {
  if (j >= p.count * p.channels) return;
  uint base = (p.first * p.channels + j) * p.plane;
  uint h[256];
  for (uint b = 0u; b < 256u; b++) h[b] = 0u;
  for (uint k = 0u; k < p.plane; k++) h[level(x[base + k])]++;
  uint last = 0u;
  for (int b = 255; b >= 0 && last == 0u; b--) last = h[b];
  uint step = (p.plane - last) / 255u;
  uint n = step / 2u;
  for (uint b = 0u; b < 256u; b++) {
    dst[j * 256u + b] = float(step == 0u ? b : min(255u, n / step));
    n += h[b];
  }
}

void main() {
  uint k = dam_linear_id();
  if (p.pass == LUT) {
    lut_pass(k);
    return;
  }
  uint len = p.channels * p.plane;
  if (k >= p.count * len) return;
  uint i = p.first * len + k;
  float m = mag[p.first + k / len];
  float v = x[i];
  if (p.pass == BACKWARD) {
    dst[i] += negated(v, m) ? -aux[i] : aux[i];
  } else if (p.mode == POSTERIZE) {
    dst[i] = posterize(v, m);
  } else if (p.mode == EQUALIZE) {
    dst[i] = aux[(k / p.plane) * 256u + uint(level(v))] / 255.0;
  } else {
    dst[i] = negated(v, m) ? 1.0 - v : v;
  }
}
