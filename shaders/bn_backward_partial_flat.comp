// bn_backward_partial.comp's pass 1 for tensors of a multiple of 4 floats
// whose planes are not: `parts` invocations share a plane, each taking
// every parts-th of the vec4s covering it, masked to the plane.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "diffautoml/dam_shader.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer x;  // vec4 texels
layout(binding = 1) uniform samplerBuffer gy;
layout(std430, binding = 2) readonly buffer M { float mean[]; };
layout(std430, binding = 3) writeonly buffer O { vec2 part[]; };
layout(push_constant) uniform P { uint planes, c, hw, parts, wide; } p;
void main() {
  uint i = dam_linear_id();
  if (i >= p.planes * p.parts) return;
  uint plane = i / p.parts, e = i - plane * p.parts;
  float mu = mean[plane % p.c];
  float s1 = 0.0, s2 = 0.0;
  uint first = plane * p.hw, last = first + p.hw;
  for (uint v = first / 4u + e; v < (last + 3u) / 4u; v += p.parts) {
    uvec4 at = uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u);
    bvec4 in_plane = bvec4(uvec4(greaterThanEqual(at, uvec4(first))) &
                           uvec4(lessThan(at, uvec4(last))));
    vec4 g = texelFetch(gy, int(v));
    s1 += dot(mix(vec4(0.0), g, in_plane), vec4(1.0));
    s2 += dot(mix(vec4(0.0), g * (texelFetch(x, int(v)) - mu), in_plane), vec4(1.0));
  }
  part[i] = vec2(s1, s2);
}
