/*
 * Compute pipelines, created on first use from a dam_shader and kept per
 * device.  The driver's VkPipelineCache is persisted under the user's
 * cache dir, one file per device UUID and driver version.
 */
#ifndef DAM_PIPELINE_H
#define DAM_PIPELINE_H

#include "device.h"

#include <diffautoml/plugin.h>

#define DAM_MAX_BINDINGS 16
#define DAM_MAX_PUSH 128

typedef struct dam_pipeline {
  const uint32_t *spirv; /* the key, with the layout and local size below */
  size_t spirv_size;
  uint32_t n_bindings, push_size, texel_mask, local_size, shape;
  /* the SPIR-V's local size x is specialization constant 0
   * (`layout(local_size_x = N, local_size_x_id = 0) in;`) */
  bool resizable;
  VkShaderModule module;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkPipeline pipeline;
} dam_pipeline;

/* Create the table and load the on-disk cache (a missing or foreign file
 * is ignored).  Called by dam_device_open. */
int dam_pipelines_open(dam_device *dev);

/* Save the cache atomically (if pipelines were added) and destroy every
 * pipeline.  Called by dam_device_close. */
void dam_pipelines_close(dam_device *dev);

/* The pipeline of `shader` at local size `local_size` (0: the shader's
 * own; another only for a resizable shader) and shape key `shape`
 * (specialization constant 2, for core shaders that compile a property
 * of their operands' shape in; 0: none, the constant keeps the shader's
 * default), created on first use and keyed by
 * its SPIR-V array, layout, local size and shape (the dam_shader struct
 * itself may be temporary; the SPIR-V must stay loaded while the device
 * lives).  DAM_EINVAL for a malformed dam_shader, DAM_EVULKAN naming the
 * shader otherwise. */
int dam_pipeline_get(dam_device *dev, const dam_shader *shader,
                     uint32_t local_size, uint32_t shape,
                     const dam_pipeline **out);

/* s->texel_mask, or 0 for a shader built against SDK 1.2 or older. */
uint32_t dam_shader_texel_mask(const dam_shader *s);

/* How binding i of s is bound: a uniform texel buffer or a storage
 * buffer. */
VkDescriptorType dam_shader_binding_type(const dam_shader *s, uint32_t i);

/* Path of the pipeline cache file for this device (for messages/tests). */
const char *dam_pipeline_cache_path(const dam_device *dev);

#endif
