// The depthwise gradients to the input of a conv whose input was relu(x):
// added only where x > 0, the relu's backward folded in (relu_x set;
// binding 3 is x as vec4 texels, never read otherwise; with BN_X x is
// made from it: conv2d_bn_x.glsl).  Include after conv2d.glsl and
// diffautoml/dam_shader.glsl.
#ifndef DAM_CONV2D_GX_RELU_GLSL
#define DAM_CONV2D_GX_RELU_GLSL

#include "conv2d_bn_x.glsl"

layout(binding = 3) uniform samplerBuffer x_relu;

float conv_gx(uint i, float g) {
  return p.relu_x == 0u || bn_x(vec4(dam_texel_float(x_relu, i))).x > 0.0
             ? g
             : 0.0;
}

// i: a vec4 index
vec4 conv_gx4(uint i, vec4 g) {
  return p.relu_x == 0u
             ? g
             : mix(vec4(0.0), g,
                   greaterThan(bn_x(texelFetch(x_relu, int(i))), vec4(0.0)));
}

#endif
