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
// With PLANE_TILES (bit 0 of the shape key, conv2d_1x1_key.glsl: planes
// of 16k + 1 pixels and 4k output channels a group) tiles stay inside a
// plane instead: its first 16k pixels in tiles of 16, the last pixel an
// extra column of the plane's last tile.  Output channel k0 + i's plane
// then starts at float i mod 4 of a vec4, a constant, so of a row's 16
// floats all but the 4 that share a vec4 with the next tile (or plane) go
// out as vec4s.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer wp;
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#define DAM_WIDE_STORES 1
#include "store8.glsl"
DAM_OUT_BUFFER(2, Y4, y4);
#include "conv2d_1x1_key.glsl"

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
  if (PLANE_TILES) {  // tile pt % (m / 4) of plane pt / (m / 4)
    n = pt / (m / TV);
    j = (pt - n * (m / TV)) * TV;
  }
  bool plane_last = PLANE_TILES && j + TV == m;
  for (uint v = 0u; v < TV; v++) {
    xo[v] = (n * p.C + g * p.Cg) * hw / 4u + j;
    yb[v] = (n * p.K + g * p.Kg + k0) * hw + 4u * j;
    nv[v] = pt * TV + v < ngroups ? min(4u, hw - 4u * j) : 0u;
    if (PLANE_TILES)
      j++;
    else if (pt * TV + v + 1u < ngroups && ++j == hv) {
      j = 0u;
      n++;
    }
  }
#if !W_TRANSPOSED
  uint wb[TM], ws = pk_w_step();
  for (uint i = 0u; i < TM; i++) wb[i] = pk_w_first(g, mt, i);
#endif

  vec4 acc[TM][TV];
  float last_px[TM];  // with PLANE_TILES: the plane's last pixel
  for (uint i = 0u; i < TM; i++) {
    for (uint v = 0u; v < TV; v++) acc[i][v] = vec4(0.0);
    last_px[i] = 0.0;
  }

  for (uint c = 0u; c < c4; c++) {
    uint co = c * hw;
    vec4 b[4][TV];
    for (uint v = 0u; v < TV; v++) b[0][v] = conv_x(texelFetch(x, int(xo[v] + co)));
    // the pixel after the tile's, channels 4c .. 4c + 3 (PLANE_TILES)
    vec4 after;
    if (PLANE_TILES)
      after.x = conv_x(texelFetch(x, int(min(xo[TV - 1u] + co + 1u, xlast)))).x;
    for (uint q = 1u; q < 4u; q++) {
      uint cq = co + q * m;
      vec4 a[TV + 1];
      for (uint v = 0u; v < TV; v++) a[v] = conv_x(texelFetch(x, int(xo[v] + cq)));
      a[TV] = conv_x(texelFetch(x, int(min(xo[TV - 1u] + cq + 1u, xlast))));
      after[q] = a[TV][q];
      for (uint v = 0u; v < TV; v++)
        b[q][v] = q == 1u   ? vec4(a[v].yzw, a[v + 1u].x)
                  : q == 2u ? vec4(a[v].zw, a[v + 1u].xy)
                            : vec4(a[v].w, a[v + 1u].xyz);
    }
    vec4 wt[TM];
#if W_TRANSPOSED
    pk_w_transposed(wp, g, mt, c, wt);
#else
    for (uint i = 0u; i < TM; i++) wt[i] = texelFetch(wp, int(wb[i] + c * ws));
#endif
    for (uint v = 0u; v < TV; v++)
      for (uint i = 0u; i < TM; i++) {
        vec4 w = wt[i];
        vec4 s = fma(vec4(w.x), b[0][v], acc[i][v]);
        s = fma(vec4(w.y), b[1][v], s);
        s = fma(vec4(w.z), b[2][v], s);
        acc[i][v] = fma(vec4(w.w), b[3][v], s);
      }
    if (PLANE_TILES)
      for (uint i = 0u; i < TM; i++) last_px[i] += dot(wt[i], after);
  }
  if (PLANE_TILES) {
    // row i's 16 floats from float i mod 4 of vec4 r: the first 4 - i mod 4
    // and the last i mod 4 share a vec4 with a neighbour, so go per float
    [[unroll]] for (uint i = 0u; i < TM; i++) {
      uint sh = i % 4u, o = yb[0] + i * hw, r = o / 4u;
      if (k0 + i < p.Kg) {
        float f[4 * TV];
        [[unroll]] for (uint e = 0u; e < 4u * TV; e++)
          f[e] = acc[i][e / 4u][e % 4u];
        [[unroll]] for (uint e = 0u; e < 4u; e++)
          if (sh != 0u && e < 4u - sh)
            SET_OR_ADD_TO(y[o + e], dam_texel_float(y_old, o + e),
                          relu_gx(o + e, f[e]));
        [[unroll]] for (uint u = 0u; u < TV; u++)
          if (u != 0u || sh == 0u) {
            uint e = 4u * u - sh;
            vec4 t = vec4(f[e], f[e + 1u], f[e + 2u], f[e + 3u]);
            DAM_STORE4(y4, r + u, SET_OR_ADDED(texelFetch(y_old, int(r + u)),
                                               relu_gx4(r + u, t)));
          }
        [[unroll]] for (uint e = 0u; e < 4u; e++)
          if (e < sh) {
            uint at = o + 4u * TV - sh + e;
            SET_OR_ADD_TO(y[at], dam_texel_float(y_old, at),
                          relu_gx(at, f[4u * TV - sh + e]));
          }
        if (plane_last) {
          uint at = o - 4u * (j - TV) + hw - 1u;  // the plane's last float
          SET_OR_ADD_TO(y[at], dam_texel_float(y_old, at),
                        relu_gx(at, last_px[i]));
        }
      }
    }
    return;
  }
  for (uint i = 0u; i < TM; i++) {
    if (k0 + i >= p.Kg) break;
    for (uint v = 0u; v < TV; v++)
      for (uint e = 0u; e < 4u; e++)
        if (e < nv[v]) {
          uint o = yb[v] + i * hw + e;
          SET_OR_ADD_TO(y[o], dam_texel_float(y_old, o),
                        relu_gx(o, acc[i][v][e]));
        }
  }
}
