// Body of the conv2d_dw_*_flat*.comp shaders: depthwise convolution at
// stride 1 with a K x K kernel (K = 3 or 5), dilation D on both axes and
// the padding P = D (K - 1) / 2 that keeps the size, over planes of a
// multiple of 4 pixels seen as flat vec4s.  The includer defines K and D,
// and GRAD for the gradient to the input (the same correlation with the
// kernel flipped, added into binding 2, through the relu of binding 3
// with relu_x: conv2d_gx_relu.glsl) instead of the forward (written),
// or GRAD_WEIGHT for the gradient to the weights: binding 1 is then gy
// (vec4 texels), each tap's sum of gy times the input it reads, and
// binding 2 partial sums, one copy of the weights' shape per (image,
// chunk), summed by conv2d_sum_parts.
// Binding 0 is x (or gy; vec4 texels), 1 the weights, 2 y (or gx); push
// constants as conv2d.glsl with tiles_n chunks per plane and tiles_m
// vec4s per chunk.
// Invocation id owns one chunk of one plane and walks its output vec4s in
// order.  The taps of kernel row j lie at flat distances (j D - P) W - P
// + s D from an output, so each kernel row is one span read through
// aligned vec4s in a sliding window of NV (3, or 4 for a span of 12 at 5x5
// dilated by 2): one vec4 load per kernel row and output vec4, the
// misalignment fixed by a select per float.
// Each output's row and column mask the padding and the neighbours across
// row and plane edges; the weights of the plane's channel stay in
// registers.
#extension GL_EXT_control_flow_attributes : require
layout(binding = 0) uniform samplerBuffer s4;  // vec4 texels
#if defined(GRAD_WEIGHT)
layout(binding = 1) uniform samplerBuffer g4;
layout(std430, binding = 2) writeonly buffer O { float part[]; };
#elif defined(GRAD)
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer O { vec4 o4[]; };
#include "conv2d_gx_relu.glsl"
#else
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer O { vec4 o4[]; };
#endif

#define P (D * (K - 1) / 2)
#define SPAN (4 + 2 * P)
#define NV ((SPAN + 6) / 4)  // vec4s holding SPAN floats at any alignment

// Out-of-range vec4s only ever feed masked outputs.
vec4 load(int v, int n4) {
  vec4 t = texelFetch(s4, clamp(v, 0, n4 - 1));
#ifdef GRAD
  return t; // gy: the relu applies to the output (conv_gx4)
#else
  return conv_x(t);
#endif
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint chunk = id % p.tiles_n, plane = id / p.tiles_n, c = plane % p.C;
  uint hw4 = p.H * p.W / 4u, first = chunk * p.tiles_m;
  int n4 = int(p.N * p.C * hw4);
  int v0 = int(plane * hw4 + first);
  int v1 = int(plane * hw4 + min(first + p.tiles_m, hw4));
  int h = int(p.H), wd = int(p.W);
  float wk[K][K];
  [[unroll]] for (int j = 0; j < K; j++)
    [[unroll]] for (int s = 0; s < K; s++)
#ifdef GRAD_WEIGHT
      wk[j][s] = 0.0;  // the tap's gradient
#elif defined(GRAD)
      wk[j][s] = w[c * uint(K * K) + uint((K - 1 - j) * K + K - 1 - s)];
#else
      wk[j][s] = w[c * uint(K * K) + uint(j * K + s)];
#endif
  int y = int(4u * first / p.W), x = int(4u * first % p.W);
  // Kernel row j's taps for the four outputs of vec4 v are floats
  // r[j] .. r[j] + SPAN - 1 of vec4s v + e[j] .. v + e[j] + NV - 1.
  int r[K], e[K];
  vec4 win[K][NV];
  [[unroll]] for (int j = 0; j < K; j++) {
    int dist = (j * D - P) * wd - P;
    r[j] = dist & 3;
    e[j] = (dist - r[j]) >> 2;
    [[unroll]] for (int i = 0; i < NV - 1; i++)
      win[j][i] = load(v0 + e[j] + i, n4);
  }
  for (int v = v0; v < v1; v++) {
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
#ifdef GRAD_WEIGHT
    vec4 g = texelFetch(g4, v);
#endif
    [[unroll]] for (int j = 0; j < K; j++) {
      win[j][NV - 1] = load(v + e[j] + NV - 1, n4);
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
#ifdef GRAD_WEIGHT
        float gk = uint(row[k] + j * D - P) < uint(h) ? g[k] : 0.0;
        [[unroll]] for (int s = 0; s < K; s++)
          wk[j][s] = fma(gk, col_ok[k][s] ? sv[k + s * D] : 0.0, wk[j][s]);
#else
        float acc = 0.0;
        [[unroll]] for (int s = 0; s < K; s++)
          acc = fma(wk[j][s], col_ok[k][s] ? sv[k + s * D] : 0.0, acc);
        o[k] += uint(row[k] + j * D - P) < uint(h) ? acc : 0.0;
#endif
      }
      [[unroll]] for (int i = 0; i < NV - 1; i++)
        win[j][i] = win[j][i + 1];
    }
#if defined(GRAD)
    o4[v] += conv_gx4(uint(v), vec4(o[0], o[1], o[2], o[3]));
#elif !defined(GRAD_WEIGHT)
    o4[v] = vec4(o[0], o[1], o[2], o[3]);
#endif
  }
#ifdef GRAD_WEIGHT
  // part (n, chunk) of the plane's image n
  uint at = ((plane / p.C) * p.tiles_n + chunk) * p.C * uint(K * K) +
            c * uint(K * K);
  [[unroll]] for (int j = 0; j < K; j++)
    [[unroll]] for (int s = 0; s < K; s++)
      part[at + uint(j * K + s)] = wk[j][s];
#endif
}
