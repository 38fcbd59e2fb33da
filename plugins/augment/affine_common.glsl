// Shared by the affine shaders (affine.c): the push constants, the
// per-image map T from output to input coordinates, its derivative in the
// magnitude, the bilinear footprint of a sampling point, and (opt-in) the
// input images with a fill outside.
//
// T(p) = c + A (p - c) + t with c = ((W-1)/2, (H-1)/2); each kind has one
// scalar q = sign * scale * m (scale comes from the host, see affine.c).
#ifndef AFFINE_COMMON_GLSL
#define AFFINE_COMMON_GLSL

#include "diffautoml/dam_shader.glsl"

#define AFF_ROTATE 0u
#define AFF_SHEAR_X 1u
#define AFF_SHEAR_Y 2u
#define AFF_TRANSLATE_X 3u
#define AFF_TRANSLATE_Y 4u
#define AFF_FLIP_H 5u

layout(push_constant) uniform Push {
  uint kind, first, count, C, H, W;
  float scale; // dq/dm before the sign
  float fill;
} p;

// A = (a00, a01, a10, a11); da, dt: derivatives of A and t in m.
struct Affine {
  vec4 a;
  vec2 t;
  vec4 da;
  vec2 dt;
};

// (sin x, cos x) for |x| <= pi to a few ulp, whatever the precision of
// the driver's sin() (Vulkan only asks 2^-11 of it): quadrant reduction
// and Taylor polynomials on [-pi/4, pi/4].  x == 0 gives exactly (0, 1).
vec2 aff_sincos(float x) {
  const float PI_2_HI = 1.5707963705062866;
  const float PI_2_LO = -4.371139000186243e-08;
  float k = round(x * 0.6366197723675814);
  float r = (x - k * PI_2_HI) - k * PI_2_LO;
  float r2 = r * r;
  float s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 +
            r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
  float c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 +
            r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
  int quadrant = int(k) & 3;
  if (quadrant == 0) return vec2(s, c);
  if (quadrant == 1) return vec2(c, -s);
  if (quadrant == 2) return vec2(-s, -c);
  return vec2(-c, s);
}

// The transform of an image with magnitude m and seed `seed`.
Affine aff_transform(float m, uint seed) {
  float g = (dam_draw(seed, 0u) & 1u) != 0u ? -p.scale : p.scale;
  float q = g * m;
  Affine T;
  T.a = vec4(1.0, 0.0, 0.0, 1.0);
  T.t = vec2(0.0);
  T.da = vec4(0.0);
  T.dt = vec2(0.0);
  if (p.kind == AFF_ROTATE) {
    vec2 sc = aff_sincos(q);
    T.a = vec4(sc.y, -sc.x, sc.x, sc.y);
    T.da = g * vec4(-sc.x, -sc.y, sc.y, -sc.x);
  } else if (p.kind == AFF_SHEAR_X) {
    T.a.y = q;
    T.da.y = g;
  } else if (p.kind == AFF_SHEAR_Y) {
    T.a.z = q;
    T.da.z = g;
  } else if (p.kind == AFF_TRANSLATE_X) {
    T.t.x = -q;
    T.dt.x = -g;
  } else if (p.kind == AFF_TRANSLATE_Y) {
    T.t.y = -q;
    T.dt.y = -g;
  } else {
    T.a.x = -1.0;
  }
  return T;
}

vec2 aff_centre() { return 0.5 * vec2(float(p.W - 1u), float(p.H - 1u)); }

// T(xy): the input point output pixel xy samples.  With A = I and t = 0
// every step is exact, so T(xy) == xy bit for bit.
vec2 aff_apply(Affine T, vec2 xy) {
  vec2 c = aff_centre();
  vec2 d = xy - c;
  return (c + vec2(T.a.x * d.x + T.a.y * d.y, T.a.z * d.x + T.a.w * d.y)) +
         T.t;
}

// dT(xy)/dm.
vec2 aff_dapply(Affine T, vec2 xy) {
  vec2 d = xy - aff_centre();
  return vec2(T.da.x * d.x + T.da.y * d.y, T.da.z * d.x + T.da.w * d.y) +
         T.dt;
}

// Bilinear footprint: corners c0 .. c0 + (1, 1), fractions f in [0, 1).
struct Footprint {
  ivec2 c0;
  vec2 f;
};

Footprint aff_footprint(vec2 uv) {
  vec2 fl = floor(uv);
  return Footprint(ivec2(fl), uv - fl);
}

// Weights of corners (0,0), (1,0), (0,1), (1,1).
vec4 aff_weights(vec2 f) {
  return vec4((1.0 - f.x) * (1.0 - f.y), f.x * (1.0 - f.y),
              (1.0 - f.x) * f.y, f.x * f.y);
}

bool aff_inside(ivec2 q) {
  return q.x >= 0 && q.y >= 0 && q.x < int(p.W) && q.y < int(p.H);
}

#ifdef AFF_SAMPLES_INPUT
// For shaders that define AFF_SAMPLES_INPUT before including this file:
// the images at binding 0, and aff_fetch, the value of pixel q of the
// channel starting at `plane`, p.fill outside the image.
layout(std430, binding = 0) readonly buffer In { float src[]; };

float aff_fetch(uint plane, ivec2 q) {
  if (!aff_inside(q)) return p.fill;
  return src[plane + uint(q.y) * p.W + uint(q.x)];
}
#endif

#endif
