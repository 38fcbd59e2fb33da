/*
 * Vulkan devices: listing every physical device (lavapipe included),
 * choosing one, and opening it with one compute queue.
 */
#ifndef DAM_DEVICE_H
#define DAM_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

typedef struct dam_device_info {
  uint32_t index;
  char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  VkPhysicalDeviceType type;
  uint64_t memory_bytes; /* largest DEVICE_LOCAL heap */
  uint32_t vendor_id, device_id, driver_version, api_version;
  uint8_t uuid[VK_UUID_SIZE];
  uint32_t subgroup_size;
  bool subgroup_add; /* compute shaders have subgroup arithmetic */
} dam_device_info;

struct dam_pipeline_table;

typedef struct dam_device {
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice phys;
  VkDevice dev;
  VkQueue queue;
  uint32_t queue_family;
  dam_device_info info;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem_props;
  uint32_t tensor_mem_type;  /* memory type of tensor blocks */
  uint32_t staging_mem_type; /* host-visible, coherent */
  bool uma;                  /* tensor memory is host-visible */
  bool discrete_paths; /* DIFFAUTOML_DISCRETE_PATHS=1: a discrete GPU's
                          memory and kernel paths whatever the device (to
                          test them on lavapipe) */
  bool timestamps;           /* the queue supports timestamps */
  bool int64;                /* shaderInt64, enabled */
  uint32_t cpu_workers; /* a CPU device not taking the discrete paths: the
                           host's cores, its driver's threads; else 0.  The
                           CPU paths' shaders can store through 64-bit
                           integers (shaders/store8.glsl), so a CPU device
                           without shaderInt64 takes the discrete paths. */
  bool wide_stores; /* with cpu_workers: those shaders store 64-bit
                       integers, not vec4s (specialization constant 1) */
  struct dam_cpu_spin *spin; /* with cpu_workers and driver threads: a
                                spinner per core (cpu_spin.h) */
  uint32_t pinned_workers; /* with spin: lavapipe's compute workers pinned
                              one to a CPU (cpu_pin.h) */
  struct dam_pipeline_table *pipelines;
  volatile int validation_errors; /* messages of severity ERROR seen */
} dam_device;

/* Name of a physical-device type: "discrete", "integrated", "virtual",
 * "cpu", "other". */
const char *dam_device_type_name(VkPhysicalDeviceType type);

/* List every physical device into a malloc'd array (*out, caller frees).
 * DAM_ENODEV with a message when there is no Vulkan driver or device. */
int dam_device_list(dam_device_info **out, uint32_t *count);

/* Choose among `infos`: by `spec` (a decimal index or a case-insensitive
 * name substring) when non-NULL and non-empty, else discrete > integrated >
 * virtual > CPU, first of a kind.  DAM_ENOTFOUND with a message listing the
 * devices when spec matches nothing. */
int dam_device_pick(const dam_device_info *infos, uint32_t count,
                    const char *spec, uint32_t *index);

/* The spec in force: `flag` (the --device option) if set, else
 * $DIFFAUTOML_DEVICE if set, else `config` (may be NULL). */
const char *dam_device_spec(const char *flag, const char *config);

/* Open the device chosen by `spec` (see dam_device_pick).  With
 * DIFFAUTOML_VALIDATION=1 in the environment the Khronos validation layer
 * (with synchronization validation) is enabled and its errors are counted
 * in validation_errors.  Free with dam_device_close. */
int dam_device_open(const char *spec, dam_device **out);

/* Save the pipeline cache, destroy everything, free dev (NULL ok). */
void dam_device_close(dam_device *dev);

/* Name of a VkResult, e.g. "VK_ERROR_OUT_OF_DEVICE_MEMORY". */
const char *dam_vk_result_name(VkResult r);

/* Record DAM_EVULKAN with "what: VK_..." unless r is VK_SUCCESS. */
int dam_vk_check(VkResult r, const char *what);

#endif
