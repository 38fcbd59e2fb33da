// Push constants shared by the conv2d shaders (core/conv.c fills the same
// struct).  x [N, C, H, W], w [K, Cg, KH, KW], y [N, K, OH, OW]; Cg and Kg
// are the input and output channels of one group.  count is the number of
// invocations that do work; tiles_n and tiles_m are tile counts along the
// two fastest-varying dimensions of the invocation index; parts and
// rows_per_part split a weight-gradient sum over the N * OH output rows.
#ifndef DAM_CONV2D_GLSL
#define DAM_CONV2D_GLSL

layout(push_constant) uniform P {
  uint N, C, H, W;
  uint K, OH, OW, KH;
  uint KW, sh, sw, ph;
  uint pw, dh, dw, Cg;
  uint Kg, groups, count, tiles_n;
  uint tiles_m, parts, rows_per_part, accumulate;
} p;

#endif
