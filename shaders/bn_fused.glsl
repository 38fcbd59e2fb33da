// One workgroup per channel, for CPU devices (bn_train_fused.comp,
// bn_backward_fused.comp): workgroup c owns channel c, so one dispatch can
// reduce the channel and then apply the result.  The workgroup is one
// subgroup (the host checks), so subgroupAdd sums it: llvmpipe runs a
// shader with barrier() as coroutines, which took twice as long.
// Its BN_LANES invocations walk the channel's units: the vec4 texels of
// each plane (p.wide: hw a multiple of 4), or else the texels covering
// each plane (one more than hw / 4 rounded up, for planes that start
// mid-vec4), masked to it.  Unit k < N * U is texel u = k % U of image
// n = k / U's plane; lane l takes k = l, l + BN_LANES, ...  Include after
// the push constants P { n, c, hw, parts, wide, ... } p.
#ifndef DAM_BN_FUSED_GLSL
#define DAM_BN_FUSED_GLSL
#extension GL_KHR_shader_subgroup_arithmetic : require

#define BN_LANES 8u
layout(local_size_x = BN_LANES) in;

struct bn_walk {
  uint n, u, units;
};

bn_walk bn_walk_first() {
  uint units = p.wide != 0u ? p.hw / 4u : (p.hw + 3u) / 4u + 1u;
  uint k = gl_LocalInvocationID.x;
  return bn_walk(k / units, k % units, units);
}

void bn_walk_next(inout bn_walk w) {
  w.u += BN_LANES;
  while (w.u >= w.units) {
    w.u -= w.units;
    w.n++;
  }
}

// Sets v to the texel of w's unit in channel ch and in_plane to which of
// its floats lie in the plane; false when none does.
bool bn_walk_texel(bn_walk w, uint ch, out uint v, out bvec4 in_plane) {
  uint first = (w.n * p.c + ch) * p.hw;
  v = first / 4u + w.u;
  uvec4 at = uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u);
  in_plane = bvec4(uvec4(greaterThanEqual(at, uvec4(first))) &
                   uvec4(lessThan(at, uvec4(first + p.hw))));
  return any(in_plane);
}

// The sum of every lane's s (in every lane).
vec2 bn_workgroup_sum(vec2 s) { return subgroupAdd(s); }

#endif
