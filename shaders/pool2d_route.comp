// Max pooling's window winners for the backward: r[o] = (gy[o], index in
// the input plane of window o's first maximum); see pool2d.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
#define ROUTE
#include "pool2d.glsl"
