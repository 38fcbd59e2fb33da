// diffautoml shader helpers for plugin and core compute shaders.
// The host dispatches `invocations` threads over a 2-D grid of workgroups
// (maxComputeWorkGroupCount is 65535 per dimension on some devices), so a
// shader computes its flat index with dam_linear_id() and returns when it is
// past its element count.
#ifndef DAM_SHADER_GLSL
#define DAM_SHADER_GLSL

// A macro, not a function: gl_WorkGroupSize is only known after the
// shader's `layout(local_size_x = ...) in;`, which usually comes after this
// #include; a function body here would see a local size of 1.
#define dam_linear_id()                                                     \
  (gl_GlobalInvocationID.x +                                                \
   gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x)

#endif
