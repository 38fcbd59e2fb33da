// Depthwise 3x3 dilated by 2, gradient to the input, stride 1, flat vec4s;
// see conv2d_dw_flat.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#define K 3
#define D 2
#define GRAD
#include "conv2d_dw_flat.glsl"
