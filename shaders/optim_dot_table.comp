// Partial sums of a dot product over a set of tensor pairs in one dispatch
// (optim_table.glsl: a and b of each at its offsets in bindings 0 and 1):
// invocation id of pair e writes o[id] = the sum over its strided elements
// of a[j] b[j], and invocations past the set write 0.  No shared memory,
// no barrier; optim_reduce.comp adds the partial sums.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer T { uint table[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint tensors, slots; } p;
#include "optim_table.glsl"
void main() {
  uint id = dam_linear_id();
  if (id >= p.slots) return;
  uint e = optim_entry(id, p.tensors);
  float s = 0.0;
  if (e < p.tensors) {
    uint at = OPTIM_ENTRY * e, ao = table[at], bo = table[at + 1u];
    uint n = table[at + 3u], first = optim_begin(e);
    uint parts = optim_begin(e + 1u) - first;
    for (uint j = id - first; j < n; j += parts) s += a[ao + j] * b[bo + j];
  }
  o[id] = s;
}
