// Wide stores for the CPU paths.  llvmpipe (Mesa 22.3) makes each
// storage-buffer store a loop over the lanes, whatever its width, and
// that loop, not the bytes, is what a store costs: a u64vec4 store moves
// 8 floats in one loop where a vec4 store moves 4 (docs/KERNELS.md).  A
// shader declares its output again as u64vec2 (any vec4) or u64vec4
// (vec4 pairs 2i, 2i + 1 of the binding) and stores through these.  The
// CPU paths need shaderInt64 (core/device.c).
#ifndef DAM_STORE8_GLSL
#define DAM_STORE8_GLSL
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

uint64_t dam_pack2(float a, float b) {
  return packUint2x32(uvec2(floatBitsToUint(a), floatBitsToUint(b)));
}

// a as the 16 bytes of a u64vec2
u64vec2 dam_pack4(vec4 a) {
  return u64vec2(dam_pack2(a.x, a.y), dam_pack2(a.z, a.w));
}

// a then b as the 32 bytes of a u64vec4
u64vec4 dam_pack8(vec4 a, vec4 b) {
  return u64vec4(dam_pack2(a.x, a.y), dam_pack2(a.z, a.w),
                 dam_pack2(b.x, b.y), dam_pack2(b.z, b.w));
}

#endif
