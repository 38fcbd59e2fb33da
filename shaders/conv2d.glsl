// Push constants shared by the conv2d shaders (core/conv.c fills the same
// struct).  x [N, C, H, W], w [K, Cg, KH, KW], y [N, K, OH, OW]; Cg and Kg
// are the input and output channels of one group.  count is the number of
// invocations that do work; tiles_n and tiles_m are tile counts along the
// two fastest-varying dimensions of the invocation index; parts and
// rows_per_part split a weight-gradient sum over the N * OH output rows;
// accumulate adds into the output instead of overwriting it; transpose
// has conv2d_pack_w pack w^T (the gradient to the input of a 1x1
// convolution runs as the forward of the transposed one); raw_w has the
// 1x1 forwards read w unpacked (conv2d_packed.glsl); relu_x has the
// forward (or its packing) and the weight gradient read relu(x) (conv_x),
// and the depthwise gradients to the input add through the relu's mask
// (conv2d_gx_relu.glsl): a conv whose input was a relu reads the relu's
// input.
#ifndef DAM_CONV2D_GLSL
#define DAM_CONV2D_GLSL

layout(push_constant) uniform P {
  uint N, C, H, W;
  uint K, OH, OW, KH;
  uint KW, sh, sw, ph;
  uint pw, dh, dw, Cg;
  uint Kg, groups, count, tiles_n;
  uint tiles_m, parts, rows_per_part, accumulate;
  uint transpose, raw_w, relu_x;
} p;

// An input value as the conv sees it (relu is idempotent, so reading
// packed values through it again is harmless).
float conv_x(float v) { return p.relu_x != 0u ? max(v, 0.0) : v; }
vec4 conv_x(vec4 v) { return p.relu_x != 0u ? max(v, vec4(0.0)) : v; }

#endif
