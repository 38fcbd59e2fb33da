// The depthwise gradients to the input of a conv whose input was relu(x):
// added only where x > 0, the relu's backward folded in (relu_x set;
// binding 3 is x, never read otherwise).  Include after conv2d.glsl.
#ifndef DAM_CONV2D_GX_RELU_GLSL
#define DAM_CONV2D_GX_RELU_GLSL

layout(std430, binding = 3) readonly buffer XR { float x_relu[]; };
layout(std430, binding = 3) readonly buffer XR4 { vec4 x_relu4[]; };

float conv_gx(uint i, float g) {
  return p.relu_x == 0u || x_relu[i] > 0.0 ? g : 0.0;
}

vec4 conv_gx4(uint i, vec4 g) {
  return p.relu_x == 0u ? g
                        : mix(vec4(0.0), g, greaterThan(x_relu4[i], vec4(0.0)));
}

#endif
