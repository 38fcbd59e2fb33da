// Body of the conv2d_dw_*_flat*.comp shaders: depthwise convolution at
// stride 1 with a K x K kernel (K = 3 or 5), dilation D on both axes and
// the padding P = D (K - 1) / 2 that keeps the size, over planes seen as
// flat groups of 4 pixels: planes of 4k pixels, or with ODD_PLANES (the
// _odd variants, shaders/meson.build) of any size, where a plane starts
// anywhere in a vec4.  Groups are the output's aligned vec4s, so a
// plane's first and last group may hold pixels of its neighbours (never
// stored, and never counted in a weight's gradient).  The includer
// defines K and D,
// and GRAD for the gradient to the input (the same correlation with the
// kernel flipped, added into binding 2, through the relu of binding 3
// with relu_x: conv2d_gx_relu.glsl) instead of the forward (written),
// or GRAD_WEIGHT for the gradient to the weights: binding 1 is then gy
// (vec4 texels), each tap's sum of gy times the input it reads, and
// binding 2 partial sums, one copy of the weights' shape per (part,
// chunk), a part being rows_per_part images (several where planes are
// small: a part's stores cost about as much as a few dozen groups),
// summed by conv2d_sum_parts.
// Binding 0 is x (or gy; vec4 texels), 1 the weights, 2 y (or gx); push
// constants as conv2d.glsl with tiles_n chunks per plane and tiles_m
// groups per chunk.
// Invocation id owns one chunk of one output plane (of gx for GRAD, of
// gy for GRAD_WEIGHT) and walks its output groups in order.  The forward
// and GRAD_WEIGHT also take a channel multiplier (K = C Kg, one input
// channel per group: the stems on one-channel images), output channel k
// reading input channel k / Kg.  The taps of kernel row j lie at flat
// distances (j D - P) W - P + s D from an output, so each kernel row is
// one span read through aligned vec4s in a sliding window of NV (3, or 4
// for a span of 12 at 5x5 dilated by 2): one vec4 load per kernel row and
// output group, its misalignment fixed by a select per float, or
// compiled in (FLAT_W4, set where it follows from the width: planes of
// 4k pixels, or depthwise, where input and output planes start alike).
// Outputs are stored as vec4s, a group that holds a neighbour's pixels
// per float.
// Each output's row and column mask the padding and the neighbours across
// row and plane edges; the weights of the plane's channel stay in
// registers.
// With KEEP2 (the _keep2 variants) the forward is a stride-2 conv's
// stride-1 twin: it stores only the outputs at even rows and columns, each
// at (row / 2, col / 2) of an OH x OW plane.
// With BN_X (the _bn variants) the input, or for the gradient to the input
// the relu's, is a batch norm's not yet made, read through the plane's
// channel's coefficients at the binding after the others
// (conv2d_bn_x.glsl).
#extension GL_EXT_control_flow_attributes : require
layout(binding = 0) uniform samplerBuffer s4;  // vec4 texels
#ifdef GRAD
#define BN_COEF 5
#else
#define BN_COEF 3
#endif
#include "conv2d_bn_x.glsl"
#if defined(GRAD_WEIGHT)
layout(binding = 1) uniform samplerBuffer g4;
layout(std430, binding = 2) writeonly buffer O { float part[]; };
#elif defined(GRAD)
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer O { float out_f[]; };
layout(std430, binding = 2) writeonly buffer O4 { vec4 out4[]; };
layout(binding = 4) uniform samplerBuffer gx_old;  // binding 2 as texels
#include "conv2d_gx_relu.glsl"
#else
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer O { float out_f[]; };
layout(std430, binding = 2) writeonly buffer O4 { vec4 out4[]; };
#endif

// FLAT_W4 as above, set by core/conv_depthwise.c (flat_shape).
#include "flat_w4.glsl"

#define P (D * (K - 1) / 2)
#define SPAN (4 + 2 * P)
#define NV ((SPAN + 6) / 4)  // vec4s holding SPAN floats at any alignment

// Out-of-range vec4s (and the floats of a last partial vec4 past the
// tensor) only ever feed masked outputs.
vec4 load(int v, int n4) {
  vec4 t = texelFetch(s4, clamp(v, 0, n4 - 1));
#ifdef GRAD
  return t; // gy: the relu applies to the output (conv_gx4)
#else
  return conv_x(bn_x(t));
#endif
}

// The walk's state: one invocation's, kept at module scope so that step()
// can run where main peels a chunk's first and last group.
uint plane;
int h, wd, n4, a, b, x, y;  // x, y: the next group's first pixel
int r[K], e[K];
vec4 win[K][NV];
float wk[K][K];
#ifdef GRAD_WEIGHT
int g4_n;  // gy's vec4s
#endif
float o[4];      // step()'s outputs
int row[4], col[4];  // and their rows and columns

// Group q (the next): its outputs o (or for GRAD_WEIGHT its share of the
// taps' gradients, added into wk); moves the walk past it.
void step(int q) {
  col[0] = x;
  row[0] = y;
  [[unroll]] for (int k = 1; k < 4; k++) {
    col[k] = col[k - 1] + 1 == wd ? 0 : col[k - 1] + 1;
    row[k] = col[k] == 0 ? row[k - 1] + 1 : row[k - 1];
  }
  x = col[3] + 1 == wd ? 0 : col[3] + 1;
  y = x == 0 ? row[3] + 1 : row[3];
  bool col_ok[4][K];
  [[unroll]] for (int k = 0; k < 4; k++)
    [[unroll]] for (int s = 0; s < K; s++)
      col_ok[k][s] = uint(col[k] + s * D - P) < uint(wd);
  o = float[4](0.0, 0.0, 0.0, 0.0);
#if defined(GRAD_WEIGHT)
  vec4 g = texelFetch(g4, min(q + b, g4_n - 1));
#endif
  [[unroll]] for (int j = 0; j < K; j++) {
    win[j][NV - 1] = load(q + e[j] + NV - 1, n4);
    float f[4 * NV];
    [[unroll]] for (int i = 0; i < NV; i++) {
      f[4 * i] = win[j][i].x;
      f[4 * i + 1] = win[j][i].y;
      f[4 * i + 2] = win[j][i].z;
      f[4 * i + 3] = win[j][i].w;
    }
    float sv[SPAN];
    [[unroll]] for (int m = 0; m < SPAN; m++)
      sv[m] = r[j] == 0 ? f[m] : r[j] == 1 ? f[m + 1]
            : r[j] == 2 ? f[m + 2] : f[m + 3];
    [[unroll]] for (int k = 0; k < 4; k++) {
      bool row_ok = uint(row[k] + j * D - P) < uint(h);
#if defined(GRAD_WEIGHT) && defined(ODD_PLANES)
      // selected, not multiplied by 0: the floats past the tensor in its
      // last vec4 are garbage, and only masked taps read them
      bool ok = row_ok && uint(row[k]) < uint(h);
      [[unroll]] for (int s = 0; s < K; s++)
        wk[j][s] += ok && col_ok[k][s] ? g[k] * sv[k + s * D] : 0.0;
#elif defined(GRAD_WEIGHT)
      float gk = row_ok ? g[k] : 0.0;
      [[unroll]] for (int s = 0; s < K; s++)
        wk[j][s] = fma(gk, col_ok[k][s] ? sv[k + s * D] : 0.0, wk[j][s]);
#else
      float acc = 0.0;
      [[unroll]] for (int s = 0; s < K; s++)
        acc = fma(wk[j][s], col_ok[k][s] ? sv[k + s * D] : 0.0, acc);
      o[k] += row_ok ? acc : 0.0;
#endif
    }
    [[unroll]] for (int i = 0; i < NV - 1; i++)
      win[j][i] = win[j][i + 1];
  }
}

#if defined(KEEP2)
// Group q's outputs at even rows and columns.
void store(int q) {
  uint kept = plane * p.OH * p.OW;
  // On even widths (FLAT_W4 4 or 6) a group's odd places are odd
  // columns: no store is compiled for them.
  const bool even_w = FLAT_W4 == 4 || FLAT_W4 == 6;
  [[unroll]] for (int k = 0; k < 4; k++)
    if (!(even_w && (k & 1) == 1) && uint(row[k]) < uint(h) &&
        ((row[k] | col[k]) & 1) == 0)
      out_f[kept + uint(row[k] >> 1) * p.OW + uint(col[k] >> 1)] = o[k];
}
#elif !defined(GRAD_WEIGHT)
// Group q's outputs, as a vec4.
void store(int q) {
  uint at = uint(b + q);
#ifdef GRAD
  out4[at] = texelFetch(gx_old, int(at)) +
             conv_gx4(at, vec4(o[0], o[1], o[2], o[3]));
#else
  out4[at] = vec4(o[0], o[1], o[2], o[3]);
#endif
}

// Those of group q's outputs that are the plane's, a float at a time.
void store_floats(int q) {
  [[unroll]] for (int k = 0; k < 4; k++) {
    uint f = 4u * uint(b + q) + uint(k);
    if (uint(row[k]) < uint(h))
#ifdef GRAD
      out_f[f] = dam_texel_float(gx_old, f) + conv_gx(f, o[k]);
#else
      out_f[f] = o[k];
#endif
  }
}
#else
void store(int q) {}
#endif

// Walks chunk `chunk` of plane `plane` (an output channel of input
// channel c): stores its groups' outputs, or for GRAD_WEIGHT adds their
// share of the taps' gradients into wk.
void walk(uint chunk, uint c) {
  uint outs = p.C * p.Kg;
  h = int(p.H), wd = int(p.W);
  int hw = h * wd, base = int(plane) * hw;  // the output plane's first float
#ifdef ODD_PLANES
  a = base & 3;  // the plane starts at float a of vec4 b
#else
  a = 0;
#endif
  b = base >> 2;
  // group q: vec4 b + q of the output, the plane's pixels 4 q - a .. + 3
  int groups = (hw + a + 3) / 4, first = int(chunk * p.tiles_m);
  int last = min(first + int(p.tiles_m), groups);
  n4 = int((p.N * p.C * uint(hw) + 3u) / 4u);  // the input's vec4s
  int src = int((plane / outs) * p.C + c) * hw;  // the input plane's
  int at0 = 4 * first - a;  // the first group's first pixel, maybe < 0
  y = at0 >= 0 ? at0 / wd : -((wd - 1 - at0) / wd), x = at0 - y * wd;
  // Kernel row j's taps for the four outputs of group q are floats
  // r[j] .. r[j] + SPAN - 1 of vec4s q + e[j] .. q + e[j] + NV - 1.
  [[unroll]] for (int j = 0; j < K; j++) {
    int dist = src - a + (j * D - P) * wd - P;
    r[j] = flat_offset(dist, j * D - P, -P);
    e[j] = (dist - r[j]) >> 2;
    [[unroll]] for (int i = 0; i < NV - 1; i++)
      win[j][i] = load(first + e[j] + i, n4);
  }
#ifdef GRAD_WEIGHT
  g4_n = int((p.N * outs * uint(hw) + 3u) / 4u);
#endif
#if defined(ODD_PLANES) && !defined(GRAD_WEIGHT) && !defined(KEEP2)
  // A chunk's first and last group may hold a neighbouring plane's pixels,
  // so they are stored a float at a time, and outside the loop: llvmpipe
  // walks a masked store's lanes even when none is on.
  step(first);
  store_floats(first);
  for (int q = first + 1; q < last - 1; q++) {
    step(q);
    store(q);
  }
  if (last - first > 1) {
    step(last - 1);
    store_floats(last - 1);
  }
#else
  for (int q = first; q < last; q++) {
    step(q);
    store(q);
  }
#endif
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint chunk = id % p.tiles_n;
  plane = id / p.tiles_n;
  uint outs = p.C * p.Kg;  // output channels (K names the kernel size here)
  uint k_out = plane % outs, c = k_out / p.Kg;  // equal for depthwise
  bn_x_begin(c);
  [[unroll]] for (int j = 0; j < K; j++)
    [[unroll]] for (int s = 0; s < K; s++)
#ifdef GRAD_WEIGHT
      wk[j][s] = 0.0;  // the tap's gradient
#elif defined(GRAD)
      wk[j][s] = w[k_out * uint(K * K) + uint((K - 1 - j) * K + K - 1 - s)];
#else
      wk[j][s] = w[k_out * uint(K * K) + uint(j * K + s)];
#endif
#ifdef GRAD_WEIGHT
  // part (pt, chunk): a chunk of each of images pt * rows_per_part on
  uint pt = plane / outs, n0 = pt * p.rows_per_part;
  uint n1 = min(n0 + p.rows_per_part, p.N);
  for (uint n = n0; n < n1; n++) {
    plane = n * outs + k_out;
    walk(chunk, c);
  }
  uint at = (pt * p.tiles_n + chunk) * outs * uint(K * K) +
            k_out * uint(K * K);
  [[unroll]] for (int j = 0; j < K; j++)
    [[unroll]] for (int s = 0; s < K; s++)
      part[at + uint(j * K + s)] = wk[j][s];
#else
  walk(chunk, c);
#endif
}
