// The DHA weight step: buf = momentum buf + (g + wd w); w -= lr buf, or
// with nesterov w -= lr (g + wd w + momentum buf) using the new buf.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) buffer B { float buf[]; };
layout(push_constant) uniform P {
  uint n; float lr; float wd; float momentum; uint nesterov;
} p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  float wi = w[i];
  float d = g[i] + p.wd * wi;
  float b = p.momentum * buf[i] + d;
  buf[i] = b;
  w[i] = wi - p.lr * (p.nesterov != 0u ? d + p.momentum * b : b);
}
