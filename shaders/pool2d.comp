// y = max or average pooling of x (avg != 0: average over the in-bounds
// elements of each window) for any window; see pool2d.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
#include "pool2d.glsl"
