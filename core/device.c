/* Vulkan instance and device lifetime, memory-type choice, validation. */
#include "device.h"
#include "cpu_pin.h"
#include "cpu_spin.h"
#include "cpu_threads.h"
#include "error.h"
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

const char *dam_vk_result_name(VkResult r) {
  switch (r) {
#define R(x) \
  case x:    \
    return #x;
    R(VK_SUCCESS) R(VK_NOT_READY) R(VK_TIMEOUT) R(VK_INCOMPLETE)
    R(VK_ERROR_OUT_OF_HOST_MEMORY) R(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    R(VK_ERROR_INITIALIZATION_FAILED) R(VK_ERROR_DEVICE_LOST)
    R(VK_ERROR_MEMORY_MAP_FAILED) R(VK_ERROR_LAYER_NOT_PRESENT)
    R(VK_ERROR_EXTENSION_NOT_PRESENT) R(VK_ERROR_FEATURE_NOT_PRESENT)
    R(VK_ERROR_INCOMPATIBLE_DRIVER) R(VK_ERROR_TOO_MANY_OBJECTS)
    R(VK_ERROR_FORMAT_NOT_SUPPORTED) R(VK_ERROR_FRAGMENTED_POOL)
    R(VK_ERROR_OUT_OF_POOL_MEMORY) R(VK_ERROR_INVALID_SHADER_NV)
    R(VK_ERROR_UNKNOWN)
#undef R
  default:
    return "VK_ERROR_(unnamed)";
  }
}

int dam_vk_check(VkResult r, const char *what) {
  if (r == VK_SUCCESS)
    return DAM_OK;
  return dam_fail(DAM_EVULKAN, "%s: %s", what, dam_vk_result_name(r));
}

/* Whether llvmpipe compiles for AVX-512 here: it does where the host has
 * it. */
static bool host_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

/* The CPU paths' store width (shaders/store8.glsl): DIFFAUTOML_WIDE_STORES
 * 1 or 0 if set, else 64-bit stores unless llvmpipe compiles for AVX-512,
 * where they lose (docs/KERNELS.md). */
static bool wide_stores_wanted(void) {
  const char *v = getenv("DIFFAUTOML_WIDE_STORES");
  if (v && (!strcmp(v, "0") || !strcmp(v, "1")))
    return v[0] == '1';
  return !host_has_avx512();
}

static bool validation_requested(void) {
  const char *v = getenv("DIFFAUTOML_VALIDATION");
  return v && v[0] && strcmp(v, "0") != 0;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                      VkDebugUtilsMessageTypeFlagsEXT types,
                      const VkDebugUtilsMessengerCallbackDataEXT *data,
                      void *user) {
  (void)types;
  dam_device *d = user;
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
    __atomic_add_fetch(&d->validation_errors, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "diffautoml: validation error: %s\n", data->pMessage);
  } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    fprintf(stderr, "diffautoml: validation warning: %s\n", data->pMessage);
  }
  return VK_FALSE;
}

static int create_instance(bool validate, dam_device *d) {
  VkApplicationInfo app = {
      .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
      .pApplicationName = "diffautoml",
      .pEngineName = "diffautoml",
      .apiVersion = VK_API_VERSION_1_1,
  };
  const char *layers[] = {VALIDATION_LAYER};
  const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
  VkValidationFeatureEnableEXT enables[] = {
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkValidationFeaturesEXT features = {
      .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
      .enabledValidationFeatureCount = 1,
      .pEnabledValidationFeatures = enables,
  };
  VkInstanceCreateInfo ci = {
      .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
      .pApplicationInfo = &app,
  };
  if (validate) {
    ci.pNext = &features;
    ci.enabledLayerCount = 1;
    ci.ppEnabledLayerNames = layers;
    ci.enabledExtensionCount = 1;
    ci.ppEnabledExtensionNames = exts;
  }
  VkResult r = vkCreateInstance(&ci, NULL, &d->instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    return dam_fail(DAM_ENODEV,
                    "no Vulkan driver found (install mesa-vulkan-drivers for "
                    "the CPU device lavapipe, or your GPU's driver)");
  if (r == VK_ERROR_LAYER_NOT_PRESENT)
    return dam_fail(DAM_ENODEV, "DIFFAUTOML_VALIDATION is set but %s is "
                    "missing (install vulkan-validationlayers)",
                    VALIDATION_LAYER);
  if (r != VK_SUCCESS)
    return dam_vk_check(r, "vkCreateInstance");
  if (!validate)
    return DAM_OK;
  PFN_vkCreateDebugUtilsMessengerEXT create_messenger =
      (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
          d->instance, "vkCreateDebugUtilsMessengerEXT");
  VkDebugUtilsMessengerCreateInfoEXT mi = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
      .pfnUserCallback = on_validation_message,
      .pUserData = d,
  };
  if (!create_messenger)
    return dam_fail(DAM_EVULKAN, "vkCreateDebugUtilsMessengerEXT missing");
  return dam_vk_check(create_messenger(d->instance, &mi, NULL, &d->messenger),
                      "vkCreateDebugUtilsMessengerEXT");
}

static void describe(VkPhysicalDevice pd, uint32_t index,
                     dam_device_info *info) {
  VkPhysicalDeviceSubgroupProperties sub = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceIDProperties id = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES,
      .pNext = &sub};
  VkPhysicalDeviceProperties2 p2 = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &id};
  vkGetPhysicalDeviceProperties2(pd, &p2);
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(pd, &mp);
  memset(info, 0, sizeof *info);
  info->index = index;
  snprintf(info->name, sizeof info->name, "%s", p2.properties.deviceName);
  info->type = p2.properties.deviceType;
  info->vendor_id = p2.properties.vendorID;
  info->device_id = p2.properties.deviceID;
  info->driver_version = p2.properties.driverVersion;
  info->api_version = p2.properties.apiVersion;
  memcpy(info->uuid, id.deviceUUID, VK_UUID_SIZE);
  bool compute = sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
  info->subgroup_size = sub.subgroupSize;
  info->subgroup_add =
      compute && (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  for (uint32_t h = 0; h < mp.memoryHeapCount; h++)
    if ((mp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
        mp.memoryHeaps[h].size > info->memory_bytes)
      info->memory_bytes = mp.memoryHeaps[h].size;
}

static int enumerate(VkInstance inst, VkPhysicalDevice **pds, uint32_t *n) {
  int err = dam_vk_check(vkEnumeratePhysicalDevices(inst, n, NULL),
                         "vkEnumeratePhysicalDevices");
  if (err)
    return err;
  if (*n == 0)
    return dam_fail(DAM_ENODEV, "no Vulkan device found (install "
                    "mesa-vulkan-drivers for the CPU device lavapipe)");
  *pds = calloc(*n, sizeof **pds);
  if (!*pds)
    return dam_fail(DAM_ENOMEM, "out of memory listing devices");
  err = dam_vk_check(vkEnumeratePhysicalDevices(inst, n, *pds),
                     "vkEnumeratePhysicalDevices");
  if (err)
    free(*pds);
  return err;
}

static int describe_all(VkInstance inst, VkPhysicalDevice **pds,
                        dam_device_info **infos, uint32_t *n) {
  int err = enumerate(inst, pds, n);
  if (err)
    return err;
  *infos = calloc(*n, sizeof **infos);
  if (!*infos) {
    free(*pds);
    return dam_fail(DAM_ENOMEM, "out of memory listing devices");
  }
  for (uint32_t i = 0; i < *n; i++)
    describe((*pds)[i], i, &(*infos)[i]);
  return DAM_OK;
}

int dam_device_list(dam_device_info **out, uint32_t *count) {
  dam_device tmp = {0};
  VkPhysicalDevice *pds = NULL;
  int err = create_instance(false, &tmp);
  if (err)
    return err;
  err = describe_all(tmp.instance, &pds, out, count);
  free(pds);
  vkDestroyInstance(tmp.instance, NULL);
  return err;
}

static int find_mem_type(const VkPhysicalDeviceMemoryProperties *mp,
                         uint32_t allowed, VkMemoryPropertyFlags want) {
  for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
    if ((allowed & (1u << i)) &&
        (mp->memoryTypes[i].propertyFlags & want) == want)
      return (int)i;
  return -1;
}

/* Tensors live in DEVICE_LOCAL memory; on UMA devices (CPU, integrated)
 * that memory is also host-visible and is mapped directly, unless the
 * device takes a discrete GPU's paths (then staging copies reach it). */
static int choose_memory(dam_device *d) {
  VkBufferCreateInfo bi = {
      .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
      .size = 4096,
      .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT,
  };
  VkBuffer probe;
  int err = dam_vk_check(vkCreateBuffer(d->dev, &bi, NULL, &probe),
                         "vkCreateBuffer");
  if (err)
    return err;
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(d->dev, probe, &req);
  vkDestroyBuffer(d->dev, probe, NULL);

  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  bool shared = d->info.type != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU &&
                !d->discrete_paths;
  int t = shared ? find_mem_type(&d->mem_props, req.memoryTypeBits,
                                 local | host) : -1;
  d->uma = t >= 0;
  if (t < 0)
    t = find_mem_type(&d->mem_props, req.memoryTypeBits, local);
  if (t < 0)
    t = find_mem_type(&d->mem_props, req.memoryTypeBits, 0);
  int s = find_mem_type(&d->mem_props, req.memoryTypeBits,
                        host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  if (s < 0)
    s = find_mem_type(&d->mem_props, req.memoryTypeBits, host);
  if (t < 0 || s < 0)
    return dam_fail(DAM_ENODEV, "%s: no usable memory type for storage "
                    "buffers", d->info.name);
  d->tensor_mem_type = (uint32_t)t;
  d->staging_mem_type = (uint32_t)s;
  return DAM_OK;
}

static int create_device(dam_device *d) {
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(d->phys, &nq, NULL);
  VkQueueFamilyProperties qf[16];
  if (nq > 16)
    nq = 16;
  vkGetPhysicalDeviceQueueFamilyProperties(d->phys, &nq, qf);
  int family = -1;
  for (uint32_t i = 0; i < nq; i++) /* prefer a compute-only queue */
    if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
        (family < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
      family = (int)i;
  if (family < 0)
    return dam_fail(DAM_ENODEV, "%s has no compute queue", d->info.name);
  d->queue_family = (uint32_t)family;
  d->timestamps = qf[family].timestampValidBits > 0 &&
                  d->props.limits.timestampComputeAndGraphics;
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qi = {
      .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
      .queueFamilyIndex = d->queue_family,
      .queueCount = 1,
      .pQueuePriorities = &prio,
  };
  VkPhysicalDeviceFeatures has, wants = {0};
  vkGetPhysicalDeviceFeatures(d->phys, &has);
  wants.shaderInt64 = d->int64 = has.shaderInt64;
  VkDeviceCreateInfo di = {
      .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
      .queueCreateInfoCount = 1,
      .pQueueCreateInfos = &qi,
      .pEnabledFeatures = &wants,
  };
  int err = dam_vk_check(vkCreateDevice(d->phys, &di, NULL, &d->dev),
                         "vkCreateDevice");
  if (err)
    return dam_fail(err, "%s (device %s)", dam_last_error(), d->info.name);
  vkGetDeviceQueue(d->dev, d->queue_family, 0, &d->queue);
  return DAM_OK;
}

int dam_device_open(const char *spec, dam_device **out) {
  dam_device *d = calloc(1, sizeof *d);
  VkPhysicalDevice *pds = NULL;
  dam_device_info *infos = NULL;
  uint32_t n = 0, index = 0;
  if (!d)
    return dam_fail(DAM_ENOMEM, "out of memory opening a device");
  int err = create_instance(validation_requested(), d);
  if (err)
    goto fail;
  err = describe_all(d->instance, &pds, &infos, &n);
  if (err)
    goto fail;
  err = dam_device_pick(infos, n, spec, &index);
  if (err)
    goto fail;
  d->phys = pds[index];
  d->info = infos[index];
  vkGetPhysicalDeviceProperties(d->phys, &d->props);
  vkGetPhysicalDeviceMemoryProperties(d->phys, &d->mem_props);
  dam_threads before = {0};
  bool cpu = d->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  if (cpu)
    dam_threads_snapshot(&before);
  err = create_device(d);
  if (err) {
    dam_threads_free(&before);
    goto fail;
  }
  const char *discrete = getenv("DIFFAUTOML_DISCRETE_PATHS");
  d->discrete_paths = discrete && !strcmp(discrete, "1");
  if (cpu && !d->discrete_paths && d->int64) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    d->cpu_workers = cores > 0 ? (uint32_t)cores : 1;
    d->wide_stores = wide_stores_wanted();
    if (dam_cpu_threads_workers())
      d->spin = dam_cpu_spin_start(d->cpu_workers);
    if (d->spin)
      d->pinned_workers = dam_cpu_pin_workers(
          &before, dam_cpu_threads_driver(d->cpu_workers));
  }
  dam_threads_free(&before);
  err = choose_memory(d);
  if (err)
    goto fail;
  err = dam_pipelines_open(d);
  if (err)
    goto fail;
  free(pds);
  free(infos);
  *out = d;
  return DAM_OK;
fail:
  free(pds);
  free(infos);
  dam_device_close(d);
  return err;
}

void dam_device_close(dam_device *d) {
  if (!d)
    return;
  if (d->dev)
    vkDeviceWaitIdle(d->dev);
  dam_cpu_spin_stop(d->spin);
  if (d->dev) {
    dam_pipelines_close(d);
    vkDestroyDevice(d->dev, NULL);
  }
  if (d->messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            d->instance, "vkDestroyDebugUtilsMessengerEXT");
    if (destroy)
      destroy(d->instance, d->messenger, NULL);
  }
  if (d->instance)
    vkDestroyInstance(d->instance, NULL);
  free(d);
}
