// Body of the 1x1 convolution gradient to the weights at stride 1
// without padding (CPU devices): gw[k][c] += the dot of gy's plane k and
// x's plane c, summed over the images of one part.  x and gy are read in
// NCHW as vec4 texels (dam_shader.texel_mask).  Planes of 4m pixels start
// on a texel (SHIFTED 0, conv2d_grad_weight_1x1.comp); otherwise a plane
// starts s = its float offset mod 4 floats into a texel: four pixels from
// 4q on are the last 4 - s floats of one texel and the first s of the
// next, and walking a plane takes one fetch per four pixels.  SHIFTED 1
// (conv2d_grad_weight_1x1_shifted.comp) takes any plane, s picked per
// lane; SHIFTED 2 (conv2d_grad_weight_1x1_odd.comp) planes of 4m + 1
// pixels with 4k channels and outputs per group, where tile row i and
// column j start at s = i mod 4 and j mod 4: constant shifts, which
// llvmpipe compiles to no instructions (17 % faster at 64->64 @7).  The
// last group of a plane of 4m + r pixels keeps r of gy's four values.
// Each invocation keeps a TM x TN tile of sums: TM + TN fetches feed
// TM * TN dots of 4.  The sums are floats, not vec4s of partial products:
// under llvmpipe a lane's 4 * TM * TN floats lived on the stack, read and
// written at every multiply-add (docs/BENCHMARKS.md, twenty-first pass).
// Output as in conv2d_grad_weight.comp: into gw with accumulate set, else
// into part `part`'s own copy of gw's shape.
// Includers define SHIFTED and include conv2d.glsl first.
#ifndef DAM_CONV2D_GRAD_WEIGHT_1X1_GLSL
#define DAM_CONV2D_GRAD_WEIGHT_1X1_GLSL

layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) buffer O { float o[]; };

#define TM 8
#define TN 8

// The four floats from s into lo on, continuing into hi.
vec4 shifted(vec4 lo, vec4 hi, uint s) {
  return s == 0u   ? lo
         : s == 1u ? vec4(lo.yzw, hi.x)
         : s == 2u ? vec4(lo.zw, hi.xy)
                   : vec4(lo.w, hi.xyz);
}

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint c0 = (id % p.tiles_n) * TN, rest = id / p.tiles_n;
  uint k0 = (rest % p.tiles_m) * TM;
  rest /= p.tiles_m;
  uint g = rest % p.groups, part = rest / p.groups;
  uint hw = p.H * p.W, groups = (hw + 3u) / 4u;
  bvec4 tail = lessThan(uvec4(0u, 1u, 2u, 3u), uvec4(hw - 4u * (groups - 1u)));
  int xlast = int(p.N * p.C * hw / 4u) - 1, ylast = int(p.N * p.K * hw / 4u) - 1;

  float acc[TM][TN];
  for (uint i = 0u; i < TM; i++)
    for (uint j = 0u; j < TN; j++) acc[i][j] = 0.0;

  uint n0 = part * p.rows_per_part, n1 = min(n0 + p.rows_per_part, p.N);
  for (uint n = n0; n < n1; n++) {
    int xt[TN], yt[TM];
    uint xs[TN], ys[TM];
    vec4 xc[TN], yc[TM];
    for (uint j = 0u; j < TN; j++) {
      uint f = (n * p.C + g * p.Cg + min(c0 + j, p.Cg - 1u)) * hw;
      xt[j] = int(f / 4u);
      xs[j] = f % 4u;
#if SHIFTED
      xc[j] = conv_x(texelFetch(x, xt[j]));
#endif
    }
    for (uint i = 0u; i < TM; i++) {
      uint f = (n * p.K + g * p.Kg + min(k0 + i, p.Kg - 1u)) * hw;
      yt[i] = int(f / 4u);
      ys[i] = f % 4u;
#if SHIFTED
      yc[i] = texelFetch(gy, yt[i]);
#endif
    }
    for (uint q = 1u; q <= groups; q++) {
      vec4 a[TM], b[TN];
#if SHIFTED
      for (uint i = 0u; i < TM; i++) {
        vec4 next = texelFetch(gy, min(yt[i] + int(q), ylast));
        a[i] = shifted(yc[i], next, SHIFTED == 2 ? i & 3u : ys[i]);
        yc[i] = next;
      }
      if (q == groups)
        for (uint i = 0u; i < TM; i++) a[i] = mix(vec4(0.0), a[i], tail);
      for (uint j = 0u; j < TN; j++) {
        vec4 next = conv_x(texelFetch(x, min(xt[j] + int(q), xlast)));
        b[j] = shifted(xc[j], next, SHIFTED == 2 ? j & 3u : xs[j]);
        xc[j] = next;
      }
#else
      for (uint i = 0u; i < TM; i++) a[i] = texelFetch(gy, yt[i] + int(q) - 1);
      for (uint j = 0u; j < TN; j++)
        b[j] = conv_x(texelFetch(x, xt[j] + int(q) - 1));
#endif
      for (uint i = 0u; i < TM; i++)
        for (uint j = 0u; j < TN; j++) acc[i][j] += dot(a[i], b[j]);
    }
  }
  uint base = p.accumulate != 0u ? 0u : part * p.K * p.Cg;
  for (uint i = 0u; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint j = 0u; j < TN; j++) {
      if (c0 + j >= p.Cg) break;
      uint at = base + (g * p.Kg + k0 + i) * p.Cg + c0 + j;
      float s = acc[i][j];
      o[at] = p.accumulate != 0u ? o[at] + s : s;
    }
  }
}

#endif
