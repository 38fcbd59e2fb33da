// Body of the conv2d_dw_*_flat*.comp shaders: depthwise convolution at
// stride 1 with a K x K kernel (K = 3 or 5), dilation D on both axes and
// the padding P = D (K - 1) / 2 that keeps the size, over planes seen as
// flat groups of 4 pixels: planes of 4k pixels, or with ODD_PLANES (the
// _odd variants, shaders/meson.build) of any size, where a plane starts
// anywhere in a vec4 and its last group ends past it.  The includer
// defines K and D,
// and GRAD for the gradient to the input (the same correlation with the
// kernel flipped, added into binding 2, through the relu of binding 3
// with relu_x: conv2d_gx_relu.glsl) instead of the forward (written),
// or GRAD_WEIGHT for the gradient to the weights: binding 1 is then gy
// (vec4 texels), each tap's sum of gy times the input it reads, and
// binding 2 partial sums, one copy of the weights' shape per (image,
// chunk), summed by conv2d_sum_parts.
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
// output group, the
// misalignment (of the span, and with ODD_PLANES of the plane) fixed by a
// select per float.  With ODD_PLANES outputs are stored per float, those
// past the plane dropped; otherwise as vec4s.
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

// FLAT_W4 is set on planes of 4k pixels (core/conv_depthwise.c), where
// every plane starts on a vec4.
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

// Floats a .. a + 3 of the 8 in (lo, hi).
vec4 shifted(vec4 lo, vec4 hi, int a) {
  return a == 0 ? lo
       : a == 1 ? vec4(lo.yzw, hi.x)
       : a == 2 ? vec4(lo.zw, hi.xy)
                : vec4(lo.w, hi.xyz);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint chunk = id % p.tiles_n, plane = id / p.tiles_n;
  uint outs = p.C * p.Kg;  // output channels (K names the kernel size here)
  uint k_out = plane % outs, c = k_out / p.Kg;  // equal for depthwise
  bn_x_begin(c);
  int h = int(p.H), wd = int(p.W), hw = h * wd;
  int groups = (hw + 3) / 4, first = int(chunk * p.tiles_m);
  int last = min(first + int(p.tiles_m), groups);
  int n4 = int((p.N * p.C * uint(hw) + 3u) / 4u);  // the input's vec4s
  int base = int(plane) * hw;  // the output plane's first float
  int src = int((plane / outs) * p.C + c) * hw;  // the input plane's
  float wk[K][K];
  [[unroll]] for (int j = 0; j < K; j++)
    [[unroll]] for (int s = 0; s < K; s++)
#ifdef GRAD_WEIGHT
      wk[j][s] = 0.0;  // the tap's gradient
#elif defined(GRAD)
      wk[j][s] = w[k_out * uint(K * K) + uint((K - 1 - j) * K + K - 1 - s)];
#else
      wk[j][s] = w[k_out * uint(K * K) + uint(j * K + s)];
#endif
  int y = 4 * first / wd, x = 4 * first % wd;
  // Kernel row j's taps for the four outputs of group q are floats
  // r[j] .. r[j] + SPAN - 1 of vec4s q + e[j] .. q + e[j] + NV - 1.
  int r[K], e[K];
  vec4 win[K][NV];
  [[unroll]] for (int j = 0; j < K; j++) {
    int dist = src + (j * D - P) * wd - P;
    r[j] = flat_offset(dist, j * D - P, -P);
    e[j] = (dist - r[j]) >> 2;
    [[unroll]] for (int i = 0; i < NV - 1; i++)
      win[j][i] = load(first + e[j] + i, n4);
  }
  int a = base & 3, b = base >> 2;  // the plane starts at float a of vec4 b
#ifdef GRAD_WEIGHT
  int g4_n = int((p.N * outs * uint(hw) + 3u) / 4u);  // gy's vec4s
#endif
#if defined(GRAD_WEIGHT) && defined(ODD_PLANES)
  // gy of group q: floats a .. a + 3 of vec4s q + b, q + b + 1
  vec4 g_lo = texelFetch(g4, clamp(first + b, 0, g4_n - 1));
#endif
  for (int q = first; q < last; q++) {
    int col[4], row[4];
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
    float o[4] = float[4](0.0, 0.0, 0.0, 0.0);
#if defined(GRAD_WEIGHT) && defined(ODD_PLANES)
    vec4 g_hi = texelFetch(g4, clamp(q + b + 1, 0, g4_n - 1));
    vec4 g = shifted(g_lo, g_hi, a);
    g_lo = g_hi;
#elif defined(GRAD_WEIGHT)
    vec4 g = texelFetch(g4, q + b);
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
        bool ok = row_ok && row[k] < h;
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
#if defined(KEEP2)
    uint kept = plane * p.OH * p.OW;
    // On even widths (FLAT_W4 4 or 6) a group's odd places are odd
    // columns: no store is compiled for them.
    const bool even_w = FLAT_W4 == 4 || FLAT_W4 == 6;
    [[unroll]] for (int k = 0; k < 4; k++)
      if (!(even_w && (k & 1) == 1) && row[k] < h &&
          ((row[k] | col[k]) & 1) == 0)
        out_f[kept + uint(row[k] >> 1) * p.OW + uint(col[k] >> 1)] = o[k];
#elif defined(ODD_PLANES) && !defined(GRAD_WEIGHT)
    [[unroll]] for (int k = 0; k < 4; k++) {
      uint at = uint(base + 4 * q + k);
      if (row[k] < h)
#ifdef GRAD
        out_f[at] = dam_texel_float(gx_old, at) + conv_gx(at, o[k]);
#else
        out_f[at] = o[k];
#endif
    }
#elif defined(GRAD)
    uint at = uint(b + q);
    out4[at] = texelFetch(gx_old, int(at)) +
               conv_gx4(at, vec4(o[0], o[1], o[2], o[3]));
#elif !defined(GRAD_WEIGHT)
    out4[b + q] = vec4(o[0], o[1], o[2], o[3]);
#endif
  }
#ifdef GRAD_WEIGHT
  // part (n, chunk) of the plane's image n
  uint at = ((plane / outs) * p.tiles_n + chunk) * outs * uint(K * K) +
            k_out * uint(K * K);
  [[unroll]] for (int j = 0; j < K; j++)
    [[unroll]] for (int s = 0; s < K; s++)
      part[at + uint(j * K + s)] = wk[j][s];
#endif
}
