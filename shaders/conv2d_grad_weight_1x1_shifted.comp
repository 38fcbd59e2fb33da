// 1x1 convolution gradient to the weights on planes of any size, read at
// a shift: see conv2d_grad_weight_1x1.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#define SHIFTED 1
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_grad_weight_1x1.glsl"
