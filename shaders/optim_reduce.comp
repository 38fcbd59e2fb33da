// One pass of the set reductions: invocation i < parts writes
// out[i] = sum over j = i, i + parts, ... < n of a[j] (* b[j] when dot),
// replaced by its square root with root (the last pass of a norm).  The
// host repeats passes until one value is left.  Strided so neighbouring
// invocations read neighbouring elements; no shared memory, no barrier.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint n; uint parts; uint dot; uint root; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.parts) return;
  float s = 0.0;
  if (p.dot != 0u)
    for (uint j = i; j < p.n; j += p.parts) s += a[j] * b[j];
  else
    for (uint j = i; j < p.n; j += p.parts) s += a[j];
  o[i] = p.root != 0u ? sqrt(s) : s;
}
