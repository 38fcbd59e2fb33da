// Body of pool2d_flat_max.comp, pool2d_flat_avg.comp and
// pool2d_flat_avg_backward.comp: 3 x 3 windows with padding 1 and stride 1
// over all planes seen as one flat array of n4 vec4s (so the element count
// must be a multiple of 4).  Forward: d = max pooling of s, or average
// pooling with AVG defined.  With BACKWARD (and AVG): d += the gather of
// each window's gradient s divided by its count of in-bounds inputs, d's
// old value read through binding 2, its range as texels (CPU devices load
// a storage buffer one lane at a time).  Stride 1 keeps the shape, so an
// output and the inputs of its window, or a gx element and the windows
// reaching it, lie at flat distances -w, 0 and +w (the three spans) plus
// -1, 0, +1.
// Invocation i owns the vec4s [i steps, (i + 1) steps) of d and walks them
// in order; each span is read through aligned vec4s in a sliding window of
// three, so a step loads one vec4 per span and writes one.  Each element's
// row and column mask out the padding and the neighbours across row and
// plane edges.  With BN_X (forwards) s is a batch norm's input and the
// outputs are normalized (pool2d_bn.glsl).
#extension GL_EXT_control_flow_attributes : require
layout(binding = 0) uniform samplerBuffer s4;  // vec4 texels
layout(std430, binding = 1) writeonly buffer D { vec4 d4[]; };
#ifdef BACKWARD
layout(binding = 2) uniform samplerBuffer d_old;  // binding 1 as texels
#endif
layout(push_constant) uniform P {
  uint n4, steps, h, w, avg;
#ifdef BN_X
  uint c;
#endif
} p;
#include "flat_w4.glsl"  // always set (core/pool.c)
#include "pool2d_bn.glsl"  // planes of 16 floats or more (core/pool.c)

// Out-of-range vec4s only ever feed masked elements.
vec4 load(int v) { return texelFetch(s4, clamp(v, 0, int(p.n4) - 1)); }

// The six floats at flat distance -1 .. 4 from a step's first element,
// float 3 + r .. 8 + r of the 12 floats of a, b, c (r in 0..3).
void shift(vec4 a, vec4 b, vec4 c, int r, out float o[6]) {
  float f[12] = float[12](a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w, c.x, c.y,
                          c.z, c.w);
  [[unroll]] for (int m = 0; m < 6; m++)
    o[m] = r == 0 ? f[m + 3] : r == 1 ? f[m + 4] : r == 2 ? f[m + 5]
                                                          : f[m + 6];
}

// In-bounds extent of the window centred at i along an axis of n.
int extent(int i, int n) { return min(i + 2, n) - max(i - 1, 0); }

void main() {
  uint i = dam_linear_id();
  if (i >= (p.n4 + p.steps - 1u) / p.steps) return;
  int v0 = int(i * p.steps), v1 = int(min(i * p.steps + p.steps, p.n4));
  int w = int(p.w), h = int(p.h);
  uint q = (4u * uint(v0)) % (p.h * p.w);
  int y = int(q / p.w), x = int(q % p.w);
#ifdef BN_X
  // The coefficients of the plane of the step's element 0 and of the next
  // two (an invocation's elements lie in three planes at most), moved
  // along as the steps cross planes.
  uint pl = (4u * uint(v0)) / (p.h * p.w);
  vec4 k0 = bn_coef(pl), k1 = bn_coef(pl + 1u), k2 = bn_coef(pl + 2u);
#endif
  const float NONE = uintBitsToFloat(0xff800000u);
#ifdef AVG
  const float NONE_OR_ZERO = 0.0;
#else
  const float NONE_OR_ZERO = NONE;
#endif
  // Span j holds the floats at flat distance (j - 1) w: the float at
  // distance k from vec4 v's first is float 4 + r[j] + k of a, b, c, the
  // vec4s v + e[j] - 1 .. v + e[j] + 1.
  int r[3], e[3];
  vec4 a[3], b[3], c[3];
  [[unroll]] for (int j = 0; j < 3; j++) {
    int dist = (j - 1) * w;
    r[j] = flat_offset(dist, j - 1, 0);
    e[j] = (dist - r[j]) / 4;
    a[j] = load(v0 + e[j] - 1);
    b[j] = load(v0 + e[j]);
  }
  for (int v = v0; v < v1; v++) {
    [[unroll]] for (int j = 0; j < 3; j++) c[j] = load(v + e[j] + 1);
    // col[m]: the column of the float at distance m - 1; row[k], that of
    // element k.
    int col[6], row[4];
    col[0] = x == 0 ? w - 1 : x - 1;
    col[1] = x;
    row[0] = y;
    [[unroll]] for (int m = 2; m < 6; m++)
      col[m] = col[m - 1] + 1 == w ? 0 : col[m - 1] + 1;
    [[unroll]] for (int k = 1; k < 4; k++)
      row[k] = col[k + 1] == 0 ? (row[k - 1] + 1 == h ? 0 : row[k - 1] + 1)
                               : row[k - 1];
    x = col[5];
    y = col[5] == 0 ? (row[3] + 1 == h ? 0 : row[3] + 1) : row[3];
    float sv[3][6];
    [[unroll]] for (int j = 0; j < 3; j++) shift(a[j], b[j], c[j], r[j], sv[j]);
#ifdef BACKWARD
    [[unroll]] for (int m = 0; m < 6; m++) {
      float inv = 1.0 / float(extent(col[m], w));
      [[unroll]] for (int j = 0; j < 3; j++) sv[j][m] *= inv;
    }
#endif
    float o[4];
    [[unroll]] for (int k = 0; k < 4; k++) {
      bool left = col[k + 1] > 0, right = col[k + 1] < w - 1;
      bool in_y[3] = bool[3](row[k] > 0, true, row[k] < h - 1);
      float acc = NONE_OR_ZERO;
      [[unroll]] for (int j = 0; j < 3; j++) {
#ifdef AVG
        float s = sv[j][k + 1] + (left ? sv[j][k] : 0.0) +
                  (right ? sv[j][k + 2] : 0.0);
#ifdef BACKWARD
        s /= float(extent(row[k] + j - 1, h));
#endif
        acc += in_y[j] ? s : 0.0;
#else
        float s = max(sv[j][k + 1], max(left ? sv[j][k] : NONE,
                                        right ? sv[j][k + 2] : NONE));
        acc = max(acc, in_y[j] ? s : NONE);
#endif
      }
#if defined(AVG) && !defined(BACKWARD)
      acc /= float(extent(row[k], h) * extent(col[k + 1], w));
#endif
      o[k] = acc;
    }
#ifdef BN_X
    bool next = false;  // element k lies in the plane after element 0's
    [[unroll]] for (int k = 0; k < 4; k++) {
      next = next || (k > 0 && row[k] == 0 && col[k + 1] == 0);
      o[k] = bn_norm(o[k], next ? k1 : k0);
    }
    if (next || (x == 0 && y == 0)) {  // the next step starts there
      k0 = k1;
      k1 = k2;
    }
#endif
#ifdef BACKWARD
    d4[v] = texelFetch(d_old, int(v)) + vec4(o[0], o[1], o[2], o[3]);
#else
    d4[v] = vec4(o[0], o[1], o[2], o[3]);
#endif
    [[unroll]] for (int j = 0; j < 3; j++) {
      a[j] = b[j];
      b[j] = c[j];
    }
  }
}
