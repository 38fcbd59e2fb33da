// The DHA weight step of sgd.comp over a set of parameter tensors in one
// dispatch (optim_table.glsl: w, g and buf of each at its offsets in
// bindings 1, 2 and 3), with gradient clipping folded in: each gradient is
// read as g * min(1, max_norm / (norm[0] + 1e-6)) when max_norm > 0 (the
// factor of clip.comp, the norm read on the device), else as is.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer N { float norm[]; };
layout(std430, binding = 1) buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer G { float g[]; };
layout(std430, binding = 3) buffer B { float b[]; };
layout(std430, binding = 4) readonly buffer T { uint table[]; };
layout(push_constant) uniform P {
  float lr; float wd; float momentum; uint nesterov; float max_norm;
  uint tensors;
} p;
#include "optim_table.glsl"
void main() {
  uint id = dam_linear_id(), e = optim_entry(id, p.tensors);
  if (e == p.tensors) return;
  uint at = OPTIM_ENTRY * e, wo = table[at], go = table[at + 1u];
  uint bo = table[at + 2u], n = table[at + 3u], first = optim_begin(e);
  uint parts = optim_begin(e + 1u) - first;
  float f = p.max_norm > 0.0 ? min(1.0, p.max_norm / (norm[0] + 1e-6)) : 1.0;
  for (uint j = id - first; j < n; j += parts) {
    float wj = w[wo + j];
    precise float gj = g[go + j] * f; /* rounded as clip.comp writes it */
    float d = gj + p.wd * wj;
    float bj = p.momentum * b[bo + j] + d;
    b[bo + j] = bj;
    w[wo + j] = wj - p.lr * (p.nesterov != 0u ? d + p.momentum * bj : bj);
  }
}
