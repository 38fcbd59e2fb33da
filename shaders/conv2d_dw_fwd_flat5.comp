// Depthwise 5x5 forward at stride 1 over flat vec4s; see
// conv2d_dw_flat.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
// Before the includes: dam_linear_id() reads gl_WorkGroupSize.
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#define K 5
#define D 1
#include "conv2d_dw_flat.glsl"
