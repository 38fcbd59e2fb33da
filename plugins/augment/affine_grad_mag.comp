// Affine backward to the magnitude, first pass: one invocation per (image
// of the call, row y) writes partial[j * H + y] = the sum over channels and
// columns of grad_out(p) * d out(p) / dm, where
// d out / dm = (d out / du, d out / dv) . dT(p)/dm through the bilinear
// weights (fill corners included).
#version 450
#extension GL_GOOGLE_include_directive : require
#define AFF_SAMPLES_INPUT
#include "affine_common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer GOut { float gout[]; };
layout(std430, binding = 2) readonly buffer Mag { float magnitude[]; };
layout(std430, binding = 3) readonly buffer Seed { uint seed[]; };
layout(std430, binding = 4) writeonly buffer Partial { float partial[]; };

void main() {
  uint id = dam_linear_id();
  if (id >= p.count * p.H) return;
  uint j = id / p.H, y = id % p.H;
  uint img = p.first + j;
  uint hw = p.H * p.W;
  Affine T = aff_transform(magnitude[img], seed[img]);
  float acc = 0.0;
  for (uint x = 0u; x < p.W; x++) {
    vec2 xy = vec2(x, y);
    vec2 dt = aff_dapply(T, xy);
    Footprint fp = aff_footprint(aff_apply(T, xy));
    for (uint ch = 0u; ch < p.C; ch++) {
      uint plane = (img * p.C + ch) * hw;
      float i00 = aff_fetch(plane, fp.c0);
      float i10 = aff_fetch(plane, fp.c0 + ivec2(1, 0));
      float i01 = aff_fetch(plane, fp.c0 + ivec2(0, 1));
      float i11 = aff_fetch(plane, fp.c0 + ivec2(1, 1));
      float du = (1.0 - fp.f.y) * (i10 - i00) + fp.f.y * (i11 - i01);
      float dv = (1.0 - fp.f.x) * (i01 - i00) + fp.f.x * (i11 - i10);
      acc += gout[plane + y * p.W + x] * (du * dt.x + dv * dt.y);
    }
  }
  partial[id] = acc;
}
