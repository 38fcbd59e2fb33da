// Stores of 4 or 8 floats for the CPU paths.  llvmpipe (Mesa 22.3) makes
// each storage-buffer store a loop over the lanes that takes one component
// at a time, so its cost goes with the components stored, not the bytes
// (docs/KERNELS.md).  Stored as 64-bit integers, 8 floats are 4
// components instead of 8.  Whether that wins depends on the host: where
// llvmpipe compiles for AVX-512 a 64-bit component costs more than two
// 32-bit ones, and the vec4 stores win.  So a shader built with
// DAM_WIDE_STORES 1 (CPU-only shaders, and the _wide twins of shared
// ones: shaders/meson.build) has both, and specialization constant 1
// (dam_wide_stores, set from dam_device.wide_stores) picks one when the
// pipeline is made.  The 64-bit views need shaderInt64 (core/device.c:
// the CPU paths require it); without DAM_WIDE_STORES only vec4s are
// declared, so other devices need nothing new.
//   DAM_OUT_BUFFER(b, Block, name): binding b as vec4s `name` (read and
//     written), and as the 64-bit views the stores below use;
//   DAM_STORE4(name, k, a): name[k] = a;
//   DAM_STORE8(name, k, a, b): pair k, name[2k] = a and name[2k + 1] = b.
#ifndef DAM_STORE8_GLSL
#define DAM_STORE8_GLSL
#ifndef DAM_WIDE_STORES
#define DAM_WIDE_STORES 0
#endif

#if DAM_WIDE_STORES
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(constant_id = 1) const bool dam_wide_stores = true;

uint64_t dam_pack2(float a, float b) {
  return packUint2x32(uvec2(floatBitsToUint(a), floatBitsToUint(b)));
}

u64vec2 dam_pack4(vec4 a) {
  return u64vec2(dam_pack2(a.x, a.y), dam_pack2(a.z, a.w));
}

#define DAM_OUT_BUFFER(b, Block, name)                                     \
  layout(std430, binding = b) buffer Block { vec4 name[]; };               \
  layout(std430, binding = b) writeonly buffer Block##W4 {                 \
    u64vec2 name##_w4[];                                                   \
  };                                                                       \
  layout(std430, binding = b) writeonly buffer Block##W8 {                 \
    u64vec4 name##_w8[];                                                   \
  }
#define DAM_STORE4(name, k, a)                                             \
  {                                                                        \
    vec4 dam_a_ = (a);                                                     \
    if (dam_wide_stores)                                                   \
      name##_w4[k] = dam_pack4(dam_a_);                                    \
    else                                                                   \
      name[k] = dam_a_;                                                    \
  }
#define DAM_STORE8(name, k, a, b)                                          \
  {                                                                        \
    vec4 dam_a_ = (a), dam_b_ = (b);                                       \
    uint dam_k_ = (k);                                                     \
    if (dam_wide_stores) {                                                 \
      name##_w8[dam_k_] = u64vec4(dam_pack4(dam_a_), dam_pack4(dam_b_));   \
    } else {                                                               \
      name[2u * dam_k_] = dam_a_;                                          \
      name[2u * dam_k_ + 1u] = dam_b_;                                     \
    }                                                                      \
  }
#else
#define DAM_OUT_BUFFER(b, Block, name)                                     \
  layout(std430, binding = b) buffer Block { vec4 name[]; }
#define DAM_STORE4(name, k, a) name[k] = (a)
#define DAM_STORE8(name, k, a, b)                                          \
  {                                                                        \
    uint dam_k_ = (k);                                                     \
    name[2u * dam_k_] = (a);                                               \
    name[2u * dam_k_ + 1u] = (b);                                          \
  }
#endif

#endif
