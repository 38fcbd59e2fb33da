/* Pipeline creation on first use and the persistent VkPipelineCache. */
#include "pipeline.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dam_pipeline_table {
  VkPipelineCache cache;
  char path[4096];
  bool dirty;
  dam_pipeline **items; /* stable addresses: callers keep them */
  uint32_t n, cap;
};

static int cache_dir(char *buf, size_t size) {
  const char *dir = getenv("DIFFAUTOML_CACHE_DIR");
  if (dir && dir[0])
    return snprintf(buf, size, "%s", dir);
  const char *xdg = getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0])
    return snprintf(buf, size, "%s/diffautoml", xdg);
  const char *home = getenv("HOME");
  if (home && home[0])
    return snprintf(buf, size, "%s/.cache/diffautoml", home);
  return -1;
}

static void mkdirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
  mkdir(path, 0755);
}

/* Bytes of a cache file whose header matches this device, else NULL. */
static void *read_cache(const dam_device *dev, const char *path,
                        size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  void *data = NULL;
  long len = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    len = ftell(f);
  if (len >= 32 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)len)))
    if (fread(data, 1, (size_t)len, f) != (size_t)len) {
      free(data);
      data = NULL;
    }
  fclose(f);
  if (!data)
    return NULL;
  const uint32_t *h = data; /* VkPipelineCacheHeaderVersionOne */
  if (h[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
      h[2] != dev->props.vendorID || h[3] != dev->props.deviceID ||
      memcmp(h + 4, dev->props.pipelineCacheUUID, VK_UUID_SIZE) != 0) {
    free(data);
    return NULL;
  }
  *size = (size_t)len;
  return data;
}

static void write_cache(dam_device *dev) {
  struct dam_pipeline_table *t = dev->pipelines;
  size_t size = 0;
  if (!t->path[0] || !t->dirty ||
      vkGetPipelineCacheData(dev->dev, t->cache, &size, NULL) != VK_SUCCESS)
    return;
  void *data = malloc(size);
  char tmp[sizeof t->path + 16];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", t->path, (long)getpid());
  FILE *f = NULL;
  if (data &&
      vkGetPipelineCacheData(dev->dev, t->cache, &size, data) == VK_SUCCESS &&
      (f = fopen(tmp, "wb"))) {
    bool ok = fwrite(data, 1, size, f) == size;
    ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, t->path) != 0) {
      fprintf(stderr, "diffautoml: warning: pipeline cache %s not saved: %s\n",
              t->path, strerror(errno));
      unlink(tmp);
    }
  }
  free(data);
}

int dam_pipelines_open(dam_device *dev) {
  struct dam_pipeline_table *t = calloc(1, sizeof *t);
  if (!t)
    return dam_fail(DAM_ENOMEM, "out of memory");
  dev->pipelines = t;
  char dir[3800];
  size_t size = 0;
  void *data = NULL;
  if (cache_dir(dir, sizeof dir) > 0) {
    char uuid[2 * VK_UUID_SIZE + 1];
    for (uint32_t i = 0; i < VK_UUID_SIZE; i++)
      snprintf(uuid + 2 * i, 3, "%02x", dev->info.uuid[i]);
    mkdirs(dir);
    snprintf(t->path, sizeof t->path, "%s/pipelines-%s-%08x.bin", dir, uuid,
             dev->info.driver_version);
    data = read_cache(dev, t->path, &size);
  }
  VkPipelineCacheCreateInfo ci = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
      .initialDataSize = size,
      .pInitialData = data,
  };
  VkResult r = vkCreatePipelineCache(dev->dev, &ci, NULL, &t->cache);
  if (r != VK_SUCCESS && data) { /* a damaged file: start empty */
    ci.initialDataSize = 0;
    ci.pInitialData = NULL;
    r = vkCreatePipelineCache(dev->dev, &ci, NULL, &t->cache);
  }
  free(data);
  return dam_vk_check(r, "vkCreatePipelineCache");
}

static void destroy_pipeline(VkDevice vd, dam_pipeline *p) {
  if (p->pipeline)
    vkDestroyPipeline(vd, p->pipeline, NULL);
  if (p->layout)
    vkDestroyPipelineLayout(vd, p->layout, NULL);
  if (p->set_layout)
    vkDestroyDescriptorSetLayout(vd, p->set_layout, NULL);
  if (p->module)
    vkDestroyShaderModule(vd, p->module, NULL);
}

void dam_pipelines_close(dam_device *dev) {
  struct dam_pipeline_table *t = dev->pipelines;
  if (!t)
    return;
  if (t->cache) {
    write_cache(dev);
    vkDestroyPipelineCache(dev->dev, t->cache, NULL);
  }
  for (uint32_t i = 0; i < t->n; i++) {
    destroy_pipeline(dev->dev, t->items[i]);
    free(t->items[i]);
  }
  free(t->items);
  free(t);
  dev->pipelines = NULL;
}

const char *dam_pipeline_cache_path(const dam_device *dev) {
  return dev->pipelines ? dev->pipelines->path : "";
}

uint32_t dam_shader_texel_mask(const dam_shader *s) {
  return s->struct_size >= offsetof(dam_shader, texel_mask) +
                               sizeof s->texel_mask
             ? s->texel_mask
             : 0;
}

VkDescriptorType dam_shader_binding_type(const dam_shader *s, uint32_t i) {
  return dam_shader_texel_mask(s) & (1u << i)
             ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
             : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
}

static int check_shader(const dam_device *dev, const dam_shader *s) {
  const char *name = s->name ? s->name : "(unnamed)";
  if (s->struct_size < offsetof(dam_shader, texel_mask))
    return dam_fail(DAM_EINVAL, "shader %s: struct_size %u, expected at "
                    "least %zu", name, s->struct_size,
                    offsetof(dam_shader, texel_mask));
  if (!s->spirv ||
      s->spirv_size < 20 || s->spirv_size % 4 || s->spirv[0] != 0x07230203u)
    return dam_fail(DAM_EINVAL, "shader %s: not SPIR-V", name);
  if (s->n_bindings == 0 || s->n_bindings > DAM_MAX_BINDINGS)
    return dam_fail(DAM_EINVAL, "shader %s: %u bindings (1..%d)", name,
                    s->n_bindings, DAM_MAX_BINDINGS);
  uint32_t texel = dam_shader_texel_mask(s);
  if (texel >> s->n_bindings || texel & s->write_mask)
    return dam_fail(DAM_EINVAL, "shader %s: texel_mask 0x%x names a binding "
                    "it does not have or one it writes", name, texel);
  if (s->push_size > DAM_MAX_PUSH || s->push_size % 4 ||
      s->push_size > dev->props.limits.maxPushConstantsSize)
    return dam_fail(DAM_EINVAL, "shader %s: push constants of %u bytes",
                    name, s->push_size);
  if (s->local_size_x == 0 ||
      s->local_size_x > dev->props.limits.maxComputeWorkGroupSize[0])
    return dam_fail(DAM_EINVAL, "shader %s: local_size_x %u", name,
                    s->local_size_x);
  return DAM_OK;
}

/* Whether the SPIR-V's local size x is specialization constant 0: the
 * WorkgroupSize built-in is a spec-constant composite whose x is the
 * constant decorated SpecId 0. */
static bool local_size_is_spec_0(const uint32_t *w, size_t words) {
  enum {
    OP_SPEC_CONSTANT_COMPOSITE = 51, OP_DECORATE = 71,
    DECORATION_SPEC_ID = 1, DECORATION_BUILT_IN = 11,
    BUILT_IN_WORKGROUP_SIZE = 25
  };
  uint32_t size_id = 0, spec_0 = 0, x_of_size = 0;
  for (size_t i = 5; i < words;) {
    uint32_t op = w[i] & 0xffff, n = w[i] >> 16;
    if (n == 0 || i + n > words)
      return false;
    if (op == OP_DECORATE && n == 4 && w[i + 2] == DECORATION_SPEC_ID &&
        w[i + 3] == 0)
      spec_0 = w[i + 1];
    if (op == OP_DECORATE && n == 4 && w[i + 2] == DECORATION_BUILT_IN &&
        w[i + 3] == BUILT_IN_WORKGROUP_SIZE)
      size_id = w[i + 1];
    if (op == OP_SPEC_CONSTANT_COMPOSITE && n == 6 && w[i + 2] == size_id)
      x_of_size = w[i + 3];
    i += n;
  }
  return spec_0 && x_of_size == spec_0;
}

static int build(dam_device *dev, const dam_shader *s, uint32_t local_size,
                 uint32_t shape, dam_pipeline *p) {
  VkDevice vd = dev->dev;
  VkShaderModuleCreateInfo mi = {
      .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
      .codeSize = s->spirv_size,
      .pCode = s->spirv,
  };
  VkResult r = vkCreateShaderModule(vd, &mi, NULL, &p->module);
  VkDescriptorSetLayoutBinding b[DAM_MAX_BINDINGS];
  for (uint32_t i = 0; i < s->n_bindings; i++)
    b[i] = (VkDescriptorSetLayoutBinding){
        .binding = i,
        .descriptorType = dam_shader_binding_type(s, i),
        .descriptorCount = 1,
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  VkDescriptorSetLayoutCreateInfo li = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
      .bindingCount = s->n_bindings,
      .pBindings = b,
  };
  if (r == VK_SUCCESS)
    r = vkCreateDescriptorSetLayout(vd, &li, NULL, &p->set_layout);
  VkPushConstantRange pr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, s->push_size};
  VkPipelineLayoutCreateInfo pi = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
      .setLayoutCount = 1,
      .pSetLayouts = &p->set_layout,
      .pushConstantRangeCount = s->push_size ? 1 : 0,
      .pPushConstantRanges = &pr,
  };
  if (r == VK_SUCCESS)
    r = vkCreatePipelineLayout(vd, &pi, NULL, &p->layout);
  /* 1: dam_wide_stores (shaders/store8.glsl); 0: the local size, where
   * another is asked; 2: the shape key, where one is given (only core
   * dispatches give one: plugin shaders own ids from 2, plugin.h).  An
   * id the shader lacks is ignored. */
  uint32_t spec[3] = {dev->wide_stores, local_size, shape};
  VkSpecializationMapEntry entries[3];
  uint32_t n = 0;
  entries[n++] = (VkSpecializationMapEntry){1, 0, sizeof spec[0]};
  if (local_size != s->local_size_x)
    entries[n++] = (VkSpecializationMapEntry){0, sizeof spec[0],
                                              sizeof spec[1]};
  if (shape)
    entries[n++] = (VkSpecializationMapEntry){2, 2 * sizeof spec[0],
                                              sizeof spec[2]};
  VkSpecializationInfo si = {n, entries, sizeof spec, spec};
  VkComputePipelineCreateInfo ci = {
      .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
      .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = p->module,
                .pName = "main",
                .pSpecializationInfo = &si},
      .layout = p->layout,
  };
  if (r == VK_SUCCESS)
    r = vkCreateComputePipelines(vd, dev->pipelines->cache, 1, &ci, NULL,
                                 &p->pipeline);
  if (r != VK_SUCCESS) {
    destroy_pipeline(vd, p);
    return dam_fail(DAM_EVULKAN, "pipeline for shader %s: %s", s->name,
                    dam_vk_result_name(r));
  }
  p->spirv = s->spirv;
  p->spirv_size = s->spirv_size;
  p->n_bindings = s->n_bindings;
  p->push_size = s->push_size;
  p->texel_mask = dam_shader_texel_mask(s);
  p->local_size = local_size;
  p->shape = shape;
  return DAM_OK;
}

int dam_pipeline_get(dam_device *dev, const dam_shader *shader,
                     uint32_t local_size, uint32_t shape,
                     const dam_pipeline **out) {
  struct dam_pipeline_table *t = dev->pipelines;
  if (!local_size)
    local_size = shader->local_size_x;
  for (uint32_t i = 0; i < t->n; i++) {
    const dam_pipeline *p = t->items[i];
    if (p->spirv == shader->spirv && p->spirv_size == shader->spirv_size &&
        p->n_bindings == shader->n_bindings &&
        p->push_size == shader->push_size &&
        p->texel_mask == dam_shader_texel_mask(shader) &&
        p->local_size == local_size && p->shape == shape) {
      *out = t->items[i];
      return DAM_OK;
    }
  }
  int err = check_shader(dev, shader);
  if (err)
    return err;
  bool resizable =
      local_size_is_spec_0(shader->spirv, shader->spirv_size / 4);
  if (local_size != shader->local_size_x &&
      (!resizable ||
       local_size > dev->props.limits.maxComputeWorkGroupSize[0]))
    return dam_fail(DAM_EINVAL, "shader %s: local size %u asked, but its "
                    "local_size_x is not specialization constant 0 or the "
                    "device cannot take it", shader->name, local_size);
  if (t->n == t->cap) {
    uint32_t cap = t->cap ? 2 * t->cap : 32;
    dam_pipeline **items = realloc(t->items, cap * sizeof *items);
    if (!items)
      return dam_fail(DAM_ENOMEM, "out of memory");
    t->items = items;
    t->cap = cap;
  }
  dam_pipeline *p = calloc(1, sizeof *p);
  if (!p)
    return dam_fail(DAM_ENOMEM, "out of memory");
  err = build(dev, shader, local_size, shape, p);
  if (err) {
    free(p);
    return err;
  }
  p->resizable = resizable;
  t->items[t->n++] = p;
  t->dirty = true;
  *out = p;
  return DAM_OK;
}
