// Affine backward to the input, as a gather (no atomics): input pixel q
// collects grad_out(p) * w(p, q) over the output pixels p whose bilinear
// footprint holds q, with the forward's weights.  Such p satisfy
// T(p) - q in [-1, 1)^2, so p - T^-1(q) = A^-1 (T(p) - q) lies within
// r = (|B00| + |B01|, |B10| + |B11|) of T^-1(q) for B = A^-1; the loop
// scans that box plus one pixel of margin for rounding, and tests each p
// exactly as the forward places it.  One invocation per input element.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "affine_common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer GOut { float gout[]; };
layout(std430, binding = 1) buffer GIn { float gin[]; };
layout(std430, binding = 2) readonly buffer Mag { float magnitude[]; };
layout(std430, binding = 3) readonly buffer Seed { uint seed[]; };

void main() {
  uint id = dam_linear_id();
  uint hw = p.H * p.W;
  if (id >= p.count * p.C * hw) return;
  uint img = p.first + id / (p.C * hw);
  uint pix = id % hw;
  uint plane = p.first * p.C * hw + (id - pix);
  ivec2 q = ivec2(pix % p.W, pix / p.W);
  Affine T = aff_transform(magnitude[img], seed[img]);

  vec4 b = vec4(T.a.w, -T.a.y, -T.a.z, T.a.x) / (T.a.x * T.a.w - T.a.y * T.a.z);
  vec2 c = aff_centre();
  vec2 d = vec2(q) - c - T.t;
  vec2 centre = c + vec2(b.x * d.x + b.y * d.y, b.z * d.x + b.w * d.y);
  vec2 r = vec2(abs(b.x) + abs(b.y), abs(b.z) + abs(b.w));
  ivec2 lo = max(ivec2(floor(centre - r)) - 1, ivec2(0));
  ivec2 hi = min(ivec2(ceil(centre + r)) + 1, ivec2(p.W - 1u, p.H - 1u));

  float acc = 0.0;
  for (int y = lo.y; y <= hi.y; y++)
    for (int x = lo.x; x <= hi.x; x++) {
      Footprint fp = aff_footprint(aff_apply(T, vec2(x, y)));
      ivec2 o = q - fp.c0;
      if (o.x < 0 || o.y < 0 || o.x > 1 || o.y > 1) continue;
      acc += gout[plane + uint(y) * p.W + uint(x)] *
             aff_weights(fp.f)[o.y * 2 + o.x];
    }
  gin[plane + pix] += acc;
}
