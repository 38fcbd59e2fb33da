// Body of conv2d_pack_x_planes and conv2d_pack_x_odd: the input in the
// packed layout of conv2d_packed.glsl when a group has 4k channels and a
// plane 4m pixels (PK_SHIFTED 0) or 4m + 1 (PK_SHIFTED 1).  One
// invocation per plane of four channels (n, g, c4), walking it four pixels
// at a time: four vec4 loads (one per channel) are transposed into four
// pixel vec4s, so rows need not start on a vec4.  With 4m + 1 pixels,
// channel 4c + q's plane starts q floats past a vec4 boundary: its four
// pixels from 4j on are the last 4 - q floats of one aligned vec4 and the
// first q of the next, which the next step reuses.  The invocation also
// writes its planes' zero padding.
#ifndef DAM_CONV2D_PACK_PLANES_GLSL
#define DAM_CONV2D_PACK_PLANES_GLSL

layout(std430, binding = 0) readonly buffer X { vec4 x[]; };
layout(std430, binding = 1) writeonly buffer XP { vec4 xp[]; };

void main() {
  uint id = dam_linear_id();
  if (id >= p.count) return;
  uint c4 = pk_c4(), wp = pk_wp(), hp = pk_hp();
  uint c = id % c4, ng = id / c4;
  uint g = ng % p.groups, n = ng / p.groups;
  uint hw = p.H * p.W, m = hw / 4u;
  uint o0 = ng * hp * wp * c4 + c;
  uint row = wp * c4, edge = p.pw * c4;

  for (uint i = 0u; i < p.ph * wp; i++) {
    xp[o0 + i * c4] = vec4(0.0);
    xp[o0 + (hp * wp - 1u - i) * c4] = vec4(0.0);
  }
  for (uint ih = 0u; ih < p.H; ih++) {
    uint r = o0 + (p.ph + ih) * row;
    for (uint iw = 0u; iw < p.pw; iw++) {
      xp[r + iw * c4] = vec4(0.0);
      xp[r + row - edge + iw * c4] = vec4(0.0);
    }
  }

  uint b = (n * p.C + g * p.Cg + 4u * c) * hw / 4u;
  uint o = o0 + p.ph * row + edge, iw = 0u;
#if PK_SHIFTED
  vec4 a1 = x[b + m], a2 = x[b + 2u * m], a3 = x[b + 3u * m];
#endif
  for (uint j = 0u; j < m; j++) {
    vec4 v0 = x[b + j];
#if PK_SHIFTED
    vec4 n1 = x[b + m + j + 1u], n2 = x[b + 2u * m + j + 1u],
         n3 = x[b + 3u * m + j + 1u];
    vec4 v1 = vec4(a1.yzw, n1.x), v2 = vec4(a2.zw, n2.xy),
         v3 = vec4(a3.w, n3.xyz);
    a1 = n1, a2 = n2, a3 = n3;
#else
    vec4 v1 = x[b + m + j], v2 = x[b + 2u * m + j], v3 = x[b + 3u * m + j];
#endif
    for (uint e = 0u; e < 4u; e++) {
      xp[o] = conv_x(vec4(v0[e], v1[e], v2[e], v3[e]));
      o += c4;
      if (++iw == p.W) {
        iw = 0u;
        o += 2u * edge;
      }
    }
  }
#if PK_SHIFTED
  xp[o] = conv_x(vec4(x[b + m].x, a1.y, a2.z, a3.w));
#endif
}

#endif
