// Affine forward: out(p) = bilinear sample of in at T(p); a corner outside
// the image reads p.fill.  One invocation per output element of images
// first .. first+count-1.
#version 450
#extension GL_GOOGLE_include_directive : require
#define AFF_SAMPLES_INPUT
#include "affine_common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 1) writeonly buffer Out { float dst[]; };
layout(std430, binding = 2) readonly buffer Mag { float magnitude[]; };
layout(std430, binding = 3) readonly buffer Seed { uint seed[]; };

void main() {
  uint id = dam_linear_id();
  uint hw = p.H * p.W;
  if (id >= p.count * p.C * hw) return;
  uint img = p.first + id / (p.C * hw);
  uint pix = id % hw;
  uint plane = p.first * p.C * hw + (id - pix);
  Affine T = aff_transform(magnitude[img], seed[img]);
  Footprint fp = aff_footprint(aff_apply(T, vec2(pix % p.W, pix / p.W)));
  vec4 w = aff_weights(fp.f);
  dst[plane + pix] = w.x * aff_fetch(plane, fp.c0) +
                     w.y * aff_fetch(plane, fp.c0 + ivec2(1, 0)) +
                     w.z * aff_fetch(plane, fp.c0 + ivec2(0, 1)) +
                     w.w * aff_fetch(plane, fp.c0 + ivec2(1, 1));
}
