// Wide stores for the CPU paths.  llvmpipe (Mesa 22.3) makes each
// storage-buffer store a loop over the lanes, whatever its width, and
// that loop, not the bytes, is what a store costs: a 32-byte store of 8
// floats costs about what a 16-byte vec4 store does (docs/KERNELS.md).
// A shader declares its output a second time as DAM_OUT4s (one vec4 each)
// or DAM_OUT8s (vec4s 2i and 2i + 1) and stores dam_out4(a) or
// dam_out8(a, b) there.  With DAM_WIDE_STORES 1 (CPU-only shaders, and
// the _wide twins of shared ones: shaders/meson.build) these are 64-bit
// integer vectors, which need shaderInt64 (core/device.c: the CPU paths
// require it); otherwise plain vec4s, so other devices need nothing new.
#ifndef DAM_STORE8_GLSL
#define DAM_STORE8_GLSL
#ifndef DAM_WIDE_STORES
#define DAM_WIDE_STORES 0
#endif

#if DAM_WIDE_STORES
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#define DAM_OUT4 u64vec2
#define DAM_OUT8 u64vec4

uint64_t dam_pack2(float a, float b) {
  return packUint2x32(uvec2(floatBitsToUint(a), floatBitsToUint(b)));
}

DAM_OUT4 dam_out4(vec4 a) {
  return u64vec2(dam_pack2(a.x, a.y), dam_pack2(a.z, a.w));
}

DAM_OUT8 dam_out8(vec4 a, vec4 b) {
  return u64vec4(dam_pack2(a.x, a.y), dam_pack2(a.z, a.w),
                 dam_pack2(b.x, b.y), dam_pack2(b.z, b.w));
}
#else
struct dam_vec8 {
  vec4 lo, hi;
};
#define DAM_OUT4 vec4
#define DAM_OUT8 dam_vec8

DAM_OUT4 dam_out4(vec4 a) { return a; }

DAM_OUT8 dam_out8(vec4 a, vec4 b) { return dam_vec8(a, b); }
#endif

#endif
