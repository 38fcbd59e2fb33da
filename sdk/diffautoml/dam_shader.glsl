// diffautoml shader helpers for plugin and core compute shaders.
// The host dispatches `invocations` threads over a 2-D grid of workgroups
// (maxComputeWorkGroupCount is 65535 per dimension on some devices), so a
// shader computes its flat index with dam_linear_id() and returns when it is
// past its element count.
#ifndef DAM_SHADER_GLSL
#define DAM_SHADER_GLSL

uint dam_linear_id() {
  return gl_GlobalInvocationID.x +
         gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}

#endif
