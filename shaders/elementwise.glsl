// Elementwise kernels run over vec4s: on CPU devices a vec4 load costs
// about what a float load does.  Invocation i < n/4 handles elements
// 4i..4i+3 through the shader's vec4 views of its buffers; the n%4
// elements left over go one each to the invocations after those.  The
// host dispatches n/4 + n%4 invocations.  Include after the layout line
// (dam_linear_id reads the local size).
#ifndef DAM_ELEMENTWISE_GLSL
#define DAM_ELEMENTWISE_GLSL

const uint DAM_VEC4 = 1u, DAM_FLOAT = 2u;

// DAM_VEC4 with k a vec4 index, DAM_FLOAT with k a float index, or 0 past
// the end.
uint dam_elementwise_slot(uint n, out uint k) {
  uint i = dam_linear_id(), n4 = n / 4u;
  k = i < n4 ? i : 4u * n4 + (i - n4);
  return i < n4 ? DAM_VEC4 : i - n4 < n % 4u ? DAM_FLOAT : 0u;
}

#endif
