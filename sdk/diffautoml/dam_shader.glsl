// diffautoml shader helpers for plugin and core compute shaders.
// The host dispatches `invocations` threads over a 2-D grid of workgroups
// (maxComputeWorkGroupCount is 65535 per dimension on some devices), so a
// shader computes its flat index with dam_linear_id() and returns when it is
// past its element count.
#ifndef DAM_SHADER_GLSL
#define DAM_SHADER_GLSL

// A macro, not a function: gl_WorkGroupSize is only known after the
// shader's `layout(local_size_x = ...) in;`, which usually comes after this
// #include; a function body here would see a local size of 1.
#define dam_linear_id()                                                     \
  (gl_GlobalInvocationID.x +                                                \
   gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x)

// a / d for a < 2^31 and 0 < d < 2^31, exact, through float reciprocals:
// CPU devices (llvmpipe) divide integer vectors one lane at a time.  The
// first estimate is within a / 2^22 + 1 of the quotient, the second (from
// the remainder) within 1, and the last compare fixes that.
uint dam_udiv(uint a, uint d) {
  float inv = 1.0 / float(d);
  uint q = uint(float(a) * inv);
  q += uint(int(floor(float(int(a - q * d)) * inv)));
  int r = int(a - q * d);
  return r < 0 ? q - 1u : uint(r) >= d ? q + 1u : q;
}

// Float i of a binding read as vec4 texels (dam_shader.texel_mask).
#define dam_texel_float(buf, i) (texelFetch(buf, int((i) >> 2))[(i) & 3u])

// Twins of the SDK's dam_hash32, dam_draw and dam_draw_unit (plugin.h):
// per-image random decisions that the host can reproduce.
uint dam_hash32(uint x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

uint dam_draw(uint seed, uint k) { return dam_hash32(seed ^ dam_hash32(k + 0x9e3779b9u)); }

float dam_draw_unit(uint seed, uint k) {
  return float(dam_draw(seed, k) >> 8) * (1.0 / 16777216.0);
}

#endif
