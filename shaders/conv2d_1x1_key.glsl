// The shape key of the in-place 1x1 shaders (specialization constant 2,
// core/conv_packed.c).  Bit 0, PLANE_TILES: tiles inside planes of
// 16k + 1 pixels (conv2d_fwd_1x1_odd.comp).  Bit 1, RELU_GX: a transposed
// pass, the gradient to the input of a conv whose input was relu(x),
// keeps its result only where x (binding 4, vec4 texels) is positive: the
// relu's backward folded in.  Unset, binding 4 is never read.
#ifndef DAM_CONV2D_1X1_KEY_GLSL
#define DAM_CONV2D_1X1_KEY_GLSL
layout(constant_id = 2) const uint SHAPE_KEY = 0u;
const bool PLANE_TILES = (SHAPE_KEY & 1u) != 0u;
const bool RELU_GX = (SHAPE_KEY & 2u) != 0u;
layout(binding = 4) uniform samplerBuffer relu_in;

// g at vec4 v of the output, through the relu's backward with RELU_GX.
vec4 relu_gx4(uint v, vec4 g) {
  if (RELU_GX)
    g = mix(vec4(0.0), g, greaterThan(texelFetch(relu_in, int(v)), vec4(0.0)));
  return g;
}

// g at float i of the output, the same.
float relu_gx(uint i, float g) {
  if (RELU_GX && !(dam_texel_float(relu_in, i) > 0.0)) g = 0.0;
  return g;
}
#endif
