// One Adam step with L2 decay in the gradient, in PyTorch's arithmetic:
// w -= step_size m / (sqrt(v) inv_sqrt_bc2 + eps), where the host gives
// step_size = lr / (1 - beta1^t) and inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) buffer M { float m[]; };
layout(std430, binding = 3) buffer V { float v[]; };
layout(push_constant) uniform P {
  uint n; float step_size; float beta1; float beta2; float eps; float wd;
  float inv_sqrt_bc2;
} p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.n) return;
  float wi = w[i];
  float gi = g[i] + p.wd * wi;
  float mi = p.beta1 * m[i] + (1.0 - p.beta1) * gi;
  float vi = p.beta2 * v[i] + (1.0 - p.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  w[i] = wi - p.step_size * mi / (sqrt(vi) * p.inv_sqrt_bc2 + p.eps);
}
