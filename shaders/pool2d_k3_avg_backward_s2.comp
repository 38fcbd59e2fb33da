// Average pooling backward over 3 x 3 windows with padding 1 and stride
// 2; see pool2d_k3_avg_backward.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
#define S 2
#include "pool2d_k3_avg_backward.glsl"
