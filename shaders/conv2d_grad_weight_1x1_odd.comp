// 1x1 convolution gradient to the weights on planes of 4m + 1 pixels
// with 4k channels and outputs per group, read at constant shifts: see
// conv2d_grad_weight_1x1.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#define SHIFTED 2
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_grad_weight_1x1.glsl"
