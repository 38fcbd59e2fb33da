// Batch-norm statistics, pass 1: `parts` invocations share each (n, c)
// plane, each summing every parts-th element, so neighbours read
// neighbouring addresses.  With d = x - x[0, c, 0, 0] (a shift that keeps
// the variance from cancelling when the mean is large),
// part[(n * C + c) * parts + j] = (sum d, sum d * d).  With wide set (hw a
// multiple of 4) x is read through its vec4 view.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(std430, binding = 1) writeonly buffer O { vec2 part[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, e = i - plane * p.parts;
  float shift = dam_texel_float(x, (plane % p.c) * p.hw);
  float s1 = 0.0, s2 = 0.0;
  if (p.wide != 0u) {
    uint n = p.hw / 4u, base = plane * n;
    for (; e < n; e += p.parts) {
      vec4 d = texelFetch(x, int(base + e)) - shift;
      s1 += (d.x + d.y) + (d.z + d.w);
      s2 += dot(d, d);
    }
  } else {
    uint base = plane * p.hw;
    for (; e < p.hw; e += p.parts) {
      float d = dam_texel_float(x, base + e) - shift;
      s1 += d;
      s2 += d * d;
    }
  }
  part[i] = vec2(s1, s2);
}
