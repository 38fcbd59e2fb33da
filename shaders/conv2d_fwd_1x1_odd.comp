// 1x1 convolution forward at stride 1 without padding, when an image plane
// has 4m + 1 pixels (every odd square: 7x7, 5x5...) and the channels of a
// group are a multiple of 4 (CPU devices).  x is read in NCHW as vec4s in
// place: the plane of channel 4c + q then starts q floats past a vec4
// boundary, so four pixels from 4j on are the last 4 - q floats of one
// aligned vec4 and the first q of the next.  A plane is cut into m + 1
// groups of four pixels (the last holds one real pixel), and each
// invocation keeps a PK_TM x TN register tile of y: output channels by TV
// consecutive groups of the flattened N x (m + 1) list, so tiles cross
// images.  Group v's second vec4 is group v + 1's first; where v + 1 is in
// the next image, v is a plane's last group and that vec4 only feeds its
// dropped pixels.  Weights are packed as in conv2d_packed.glsl; y is
// written per float: added to (with accumulate set, read through binding
// 3, its range as texels), or written over by the _set variants
// (set_or_add.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer wp;
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

#include "set_or_add.glsl"
#if !SET
layout(binding = 3) uniform samplerBuffer y_old;  // binding 2 as texels
#endif
#define TM PK_TM
#define TV 4

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint pt = id % p.tiles_n, rest = id / p.tiles_n;
  uint mt = rest % p.tiles_m, g = rest / p.tiles_m;
  uint k0 = mt * TM, hw = p.H * p.W, m = hw / 4u, hv = m + 1u;
  uint ngroups = p.N * hv, c4 = p.Cg / 4u;
  uint xlast = p.N * p.C * hw / 4u - 1u;

  uint xo[TV], yb[TV], nv[TV];
  uint grp = min(pt * TV, ngroups - 1u);
  uint n = grp / hv, j = grp - n * hv;
  for (uint v = 0u; v < TV; v++) {
    xo[v] = (n * p.C + g * p.Cg) * hw / 4u + j;
    yb[v] = (n * p.K + g * p.Kg + k0) * hw + 4u * j;
    nv[v] = pt * TV + v < ngroups ? min(4u, hw - 4u * j) : 0u;
    if (pt * TV + v + 1u < ngroups && ++j == hv) {
      j = 0u;
      n++;
    }
  }
#if !W_TRANSPOSED
  uint wb[TM], ws = pk_w_step();
  for (uint i = 0u; i < TM; i++) wb[i] = pk_w_first(g, mt, i);
#endif

  vec4 acc[TM][TV];
  for (uint i = 0u; i < TM; i++)
    for (uint v = 0u; v < TV; v++) acc[i][v] = vec4(0.0);

  for (uint c = 0u; c < c4; c++) {
    uint co = c * hw;
    vec4 b[4][TV];
    for (uint v = 0u; v < TV; v++) b[0][v] = conv_x(texelFetch(x, int(xo[v] + co)));
    for (uint q = 1u; q < 4u; q++) {
      uint cq = co + q * m;
      vec4 a[TV + 1];
      for (uint v = 0u; v < TV; v++) a[v] = conv_x(texelFetch(x, int(xo[v] + cq)));
      a[TV] = conv_x(texelFetch(x, int(min(xo[TV - 1u] + cq + 1u, xlast))));
      for (uint v = 0u; v < TV; v++)
        b[q][v] = q == 1u   ? vec4(a[v].yzw, a[v + 1u].x)
                  : q == 2u ? vec4(a[v].zw, a[v + 1u].xy)
                            : vec4(a[v].w, a[v + 1u].xyz);
    }
#if W_TRANSPOSED
    vec4 wt[TM];
    pk_w_transposed(wp, g, mt, c, wt);
#endif
    for (uint i = 0u; i < TM; i++) {
#if W_TRANSPOSED
      vec4 w = wt[i];
#else
      vec4 w = texelFetch(wp, int(wb[i] + c * ws));
#endif
      for (uint v = 0u; v < TV; v++) {
        vec4 s = fma(vec4(w.x), b[0][v], acc[i][v]);
        s = fma(vec4(w.y), b[1][v], s);
        s = fma(vec4(w.z), b[2][v], s);
        acc[i][v] = fma(vec4(w.w), b[3][v], s);
      }
    }
  }
  for (uint i = 0u; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint v = 0u; v < TV; v++)
      for (uint e = 0u; e < 4u; e++)
        if (e < nv[v]) {
          uint o = yb[v] + i * hw + e;
          SET_OR_ADD_TO(y[o], dam_texel_float(y_old, o), acc[i][v][e]);
        }
  }
}
