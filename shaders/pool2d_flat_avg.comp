// Average pooling over 3 x 3 windows with padding 1 and stride 1
// through vec4s; see pool2d_flat.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
#define AVG
#include "pool2d_flat.glsl"
