// Shared by the cutout shaders (cutout.c): the push constants and the test
// whether a pixel is cut.
#ifndef CUTOUT_COMMON_GLSL
#define CUTOUT_COMMON_GLSL

#include "diffautoml/dam_shader.glsl"

layout(push_constant) uniform Push {
  uint first, count, C, H, W;
  float half_per_level; // half the side per magnitude level
  float fill;
} p;

// Whether pixel (x, y) of an image with magnitude m and seed `seed` lies
// strictly inside its square: |x - cx| < half and |y - cy| < half.
bool cut(uint x, uint y, float m, uint seed) {
  float half_side = m * p.half_per_level;
  float cx = dam_draw_unit(seed, 1u) * float(p.W);
  float cy = dam_draw_unit(seed, 2u) * float(p.H);
  return abs(float(x) - cx) < half_side && abs(float(y) - cy) < half_side;
}

#endif
