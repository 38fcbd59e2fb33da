// The input in the packed layout of conv2d_packed.glsl, a plane per
// invocation from vec4s: planes of 4m pixels, groups of 4k channels
// (conv2d_pack_planes.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64, local_size_x_id = 0) in;
#include "diffautoml/dam_shader.glsl"
#include "conv2d.glsl"
#include "conv2d_packed.glsl"
#define PK_SHIFTED 0
#include "conv2d_pack_planes.glsl"
