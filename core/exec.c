/* Command recording, hazard-tracked barriers, submission and timestamps. */
#include "exec.h"
#include "cpu_spin.h"
#include "error.h"
#include "tape.h"
#include "tensor.h"
#include "part_sums.h"

#include <stdlib.h>
#include <string.h>

#define SETS_PER_POOL 256
#define MAX_TRACKED 256 /* past this many live accesses, barrier anyway */

struct dam_batch {
  VkCommandBuffer cb;
  VkFence fence;
  bool pending; /* submitted, fence not yet waited on */
  VkDescriptorPool *pools;
  uint32_t n_pools, cur_pool, sets_in_pool;
  VkBufferView *views; /* of texel bindings, live until the batch retires */
  uint32_t n_views, cap_views;
  VkQueryPool queries;
  const char **query_names; /* one per pair of timestamps */
  uint32_t n_queries;
};

static const VkPipelineStageFlags device_stages =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

static int batch_init(dam_exec *ex, struct dam_batch *b) {
  VkDevice vd = ex->dev->dev;
  VkCommandBufferAllocateInfo ai = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
      .commandPool = ex->cmd_pool,
      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
      .commandBufferCount = 1,
  };
  VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  int err = dam_vk_check(vkAllocateCommandBuffers(vd, &ai, &b->cb),
                         "vkAllocateCommandBuffers");
  if (!err)
    err = dam_vk_check(vkCreateFence(vd, &fi, NULL, &b->fence),
                       "vkCreateFence");
  if (!err && ex->profile) {
    VkQueryPoolCreateInfo qi = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = 2 * DAM_SUBMIT_DISPATCHES,
    };
    b->query_names = calloc(DAM_SUBMIT_DISPATCHES, sizeof *b->query_names);
    err = b->query_names ? dam_vk_check(vkCreateQueryPool(vd, &qi, NULL,
                                                          &b->queries),
                                        "vkCreateQueryPool")
                         : dam_fail(DAM_ENOMEM, "out of memory");
  }
  return err;
}

static void destroy_views(VkDevice vd, struct dam_batch *b) {
  for (uint32_t i = 0; i < b->n_views; i++)
    vkDestroyBufferView(vd, b->views[i], NULL);
  b->n_views = 0;
}

static void batch_destroy(VkDevice vd, struct dam_batch *b) {
  destroy_views(vd, b);
  free(b->views);
  for (uint32_t i = 0; i < b->n_pools; i++)
    vkDestroyDescriptorPool(vd, b->pools[i], NULL);
  free(b->pools);
  if (b->queries)
    vkDestroyQueryPool(vd, b->queries, NULL);
  free(b->query_names);
  if (b->fence)
    vkDestroyFence(vd, b->fence, NULL);
}

int dam_exec_create(dam_device *dev, dam_exec **out) {
  dam_exec *ex = calloc(1, sizeof *ex);
  if (!ex)
    return dam_fail(DAM_ENOMEM, "out of memory");
  ex->dev = dev;
  dam_pool_init(&ex->params, dev, DAM_POOL_PERSISTENT, dev->tensor_mem_type);
  dam_pool_init(&ex->arena, dev, DAM_POOL_ARENA, dev->tensor_mem_type);
  dam_pool_init(&ex->staging, dev, DAM_POOL_ARENA, dev->staging_mem_type);
  ex->params.host_mapped = ex->arena.host_mapped = dev->uma;
  const char *prof = getenv("DIFFAUTOML_PROFILE");
  ex->profile = prof && prof[0] && strcmp(prof, "0") != 0 && dev->timestamps;
  VkCommandPoolCreateInfo pi = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
      .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
      .queueFamilyIndex = dev->queue_family,
  };
  int err = dam_vk_check(vkCreateCommandPool(dev->dev, &pi, NULL,
                                             &ex->cmd_pool),
                         "vkCreateCommandPool");
  ex->batches = calloc(DAM_BATCHES, sizeof *ex->batches);
  if (!err && !ex->batches)
    err = dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; !err && i < DAM_BATCHES; i++)
    err = batch_init(ex, &ex->batches[i]);
  if (err) {
    dam_exec_destroy(ex);
    return err;
  }
  *out = ex;
  return DAM_OK;
}

void dam_exec_destroy(dam_exec *ex) {
  if (!ex)
    return;
  VkDevice vd = ex->dev->dev;
  if (ex->recording)
    vkEndCommandBuffer(ex->batches[ex->cur].cb);
  vkDeviceWaitIdle(vd);
  dam__tensors_release_step(ex);
  dam_tape_free(ex->tape);
  for (uint32_t i = 0; ex->batches && i < DAM_BATCHES; i++)
    batch_destroy(vd, &ex->batches[i]);
  free(ex->batches);
  if (ex->cmd_pool)
    vkDestroyCommandPool(vd, ex->cmd_pool, NULL);
  dam_pool_release(&ex->params);
  dam__tensors_release_persistent(ex);
  dam_pool_release(&ex->arena);
  dam_pool_release(&ex->staging);
  free(ex->reads);
  free(ex->writes);
  dam_exec_profile_reset(ex);
  free(ex);
}

static void profile_add(dam_exec *ex, const char *name, double ms) {
  uint32_t i = 0;
  while (i < ex->n_prof && strcmp(ex->prof[i].name, name) != 0)
    i++;
  if (i == ex->n_prof) { /* names are copied: plugins may go away */
    dam_profile_entry *p = realloc(ex->prof, (i + 1) * sizeof *p);
    char *copy = strdup(name);
    if (p)
      ex->prof = p;
    if (!p || !copy) {
      free(copy);
      return;
    }
    ex->prof[ex->n_prof++] = (dam_profile_entry){copy, 0, 0.0};
  }
  ex->prof[i].count++;
  ex->prof[i].total_ms += ms;
}

/* Make a finished batch reusable: read its timestamps, reset its pools. */
static int batch_retire(dam_exec *ex, struct dam_batch *b) {
  VkDevice vd = ex->dev->dev;
  if (!b->pending)
    return DAM_OK;
  int err = dam_vk_check(vkWaitForFences(vd, 1, &b->fence, VK_TRUE,
                                         UINT64_MAX), "vkWaitForFences");
  if (err)
    return err;
  b->pending = false;
  vkResetFences(vd, 1, &b->fence);
  if (b->queries && b->n_queries) {
    uint64_t *ts = malloc(2 * b->n_queries * sizeof *ts);
    if (ts && vkGetQueryPoolResults(vd, b->queries, 0, 2 * b->n_queries,
                                    2 * b->n_queries * sizeof *ts, ts,
                                    sizeof *ts,
                                    VK_QUERY_RESULT_64_BIT |
                                        VK_QUERY_RESULT_WAIT_BIT) ==
                  VK_SUCCESS) {
      double period = ex->dev->props.limits.timestampPeriod;
      for (uint32_t q = 0; q < b->n_queries; q++)
        profile_add(ex, b->query_names[q],
                    (double)(ts[2 * q + 1] - ts[2 * q]) * period * 1e-6);
    }
    free(ts);
  }
  b->n_queries = 0;
  destroy_views(vd, b);
  for (uint32_t i = 0; i < b->n_pools; i++)
    vkResetDescriptorPool(vd, b->pools[i], 0);
  b->cur_pool = 0;
  b->sets_in_pool = 0;
  return DAM_OK;
}

/* Make all earlier device writes visible to later device access and
 * order later writes after earlier reads; forget the tracked accesses. */
static void record_barrier(dam_exec *ex) {
  VkMemoryBarrier mb = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
      .srcAccessMask =
          VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  vkCmdPipelineBarrier(ex->batches[ex->cur].cb, device_stages, device_stages,
                       0, 1, &mb, 0, NULL, 0, NULL);
  ex->stats.barriers++;
  ex->n_reads = ex->n_writes = 0;
}

static int begin_recording(dam_exec *ex) {
  if (ex->recording)
    return DAM_OK;
  struct dam_batch *b = &ex->batches[ex->cur];
  int err = batch_retire(ex, b);
  if (err)
    return err;
  VkCommandBufferBeginInfo bi = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  err = dam_vk_check(vkBeginCommandBuffer(b->cb, &bi), "vkBeginCommandBuffer");
  if (err)
    return err;
  if (b->queries)
    vkCmdResetQueryPool(b->cb, b->queries, 0, 2 * DAM_SUBMIT_DISPATCHES);
  ex->recording = true;
  /* Work of earlier command buffers is ordered before this one by a
   * single barrier, so tracking restarts empty. */
  if (ex->n_reads || ex->n_writes)
    record_barrier(ex);
  return DAM_OK;
}

int dam_exec_submit(dam_exec *ex) {
  int err = dam_exec_record_held(ex);
  if (!err)
    err = dam_part_sums_flush(ex);
  if (err || !ex->recording)
    return err;
  struct dam_batch *b = &ex->batches[ex->cur];
  VkMemoryBarrier to_host = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
      .srcAccessMask =
          VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
  };
  vkCmdPipelineBarrier(b->cb, device_stages, VK_PIPELINE_STAGE_HOST_BIT, 0,
                       1, &to_host, 0, NULL, 0, NULL);
  ex->recording = false;
  err = dam_vk_check(vkEndCommandBuffer(b->cb), "vkEndCommandBuffer");
  VkSubmitInfo si = {
      .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
      .commandBufferCount = 1,
      .pCommandBuffers = &b->cb,
  };
  if (!err)
    err = dam_vk_check(vkQueueSubmit(ex->dev->queue, 1, &si, b->fence),
                       "vkQueueSubmit");
  if (err)
    return err;
  b->pending = true;
  dam_cpu_spin_busy(ex->dev->spin, true);
  ex->stats.submits++;
  ex->cur = (ex->cur + 1) % DAM_BATCHES;
  return DAM_OK;
}

int dam_exec_wait(dam_exec *ex) {
  int err = dam_exec_submit(ex);
  bool pending = false;
  for (uint32_t i = 0; !err && i < DAM_BATCHES; i++) {
    pending = pending || ex->batches[i].pending;
    err = batch_retire(ex, &ex->batches[i]);
  }
  if (err)
    return err;
  dam_cpu_spin_busy(ex->dev->spin, false);
  ex->stats.waits += pending;
  dam_pool_reset(&ex->staging);
  return DAM_OK;
}

int dam_exec_end_step(dam_exec *ex) {
  int err = dam_exec_wait(ex);
  dam_tape_clear(ex->tape);
  ex->n_pending_sums = 0; /* only left by a failed wait: their tensors go */
  ex->held.shader = NULL;
  dam__tensors_release_step(ex);
  dam_pool_reset(&ex->arena);
  return err;
}

bool dam_ranges_overlap(const dam_range *a, const dam_range *b) {
  return a->buffer == b->buffer && a->offset < b->offset + b->size &&
         b->offset < a->offset + a->size;
}

static bool any_overlap(const dam_range *list, uint32_t n,
                        const dam_range *r) {
  for (uint32_t i = 0; i < n; i++)
    if (dam_ranges_overlap(&list[i], r))
      return true;
  return false;
}

int dam_exec_record_held(dam_exec *ex) {
  if (!ex->held.shader)
    return DAM_OK;
  dam_held h = ex->held;
  ex->held.shader = NULL;
  return dam_exec_dispatch(ex, h.shader, h.ranges, h.shader->n_bindings,
                           h.push, h.invocations);
}

/* Record the held dispatch first if it touches one of the n ranges. */
static int before_touching_held(dam_exec *ex, const dam_range *r,
                                uint32_t n) {
  const dam_held *h = &ex->held;
  for (uint32_t i = 0; h->shader && i < n; i++)
    if (any_overlap(h->ranges, h->shader->n_bindings, &r[i]))
      return dam_exec_record_held(ex);
  return DAM_OK;
}

int dam_exec_hold(dam_exec *ex, const dam_shader *shader,
                  const dam_range *ranges, const void *push,
                  uint32_t invocations) {
  if (shader->push_size > DAM_HELD_PUSH ||
      shader->n_bindings > DAM_MAX_BINDINGS)
    return dam_fail(DAM_EINVAL, "shader %s cannot be held", shader->name);
  int err = dam_exec_record_held(ex);
  if (err)
    return err;
  dam_held *h = &ex->held;
  memcpy(h->ranges, ranges, shader->n_bindings * sizeof *ranges);
  memcpy(h->push, push, shader->push_size);
  h->invocations = invocations;
  h->shader = shader;
  return DAM_OK;
}

bool dam_exec_take_held(dam_exec *ex, const dam_shader *shader,
                        dam_held *out) {
  if (!shader || ex->held.shader != shader)
    return false;
  *out = ex->held;
  ex->held.shader = NULL;
  return true;
}

static int track(dam_range **list, uint32_t *n, uint32_t *cap, dam_range r) {
  if (*n == *cap) {
    uint32_t c = *cap ? 2 * *cap : 64;
    dam_range *l = realloc(*list, c * sizeof *l);
    if (!l)
      return dam_fail(DAM_ENOMEM, "out of memory");
    *list = l;
    *cap = c;
  }
  (*list)[(*n)++] = r;
  return DAM_OK;
}

/* Insert a barrier if the accesses about to be recorded conflict with
 * those since the last barrier, then record them. */
static int before_access(dam_exec *ex, const dam_range *ranges, uint32_t n,
                         uint32_t write_mask) {
  for (uint32_t i = 0; i < n; i++)
    if (ranges[i].buffer == VK_NULL_HANDLE)
      return dam_fail(DAM_EINVAL, "access to a released tensor (binding %u)",
                      i);
  bool hazard = ex->n_reads + ex->n_writes + n > MAX_TRACKED;
  for (uint32_t i = 0; i < n && !hazard; i++) {
    bool w = write_mask & (1u << i);
    hazard = any_overlap(ex->writes, ex->n_writes, &ranges[i]) ||
             (w && any_overlap(ex->reads, ex->n_reads, &ranges[i]));
  }
  if (hazard)
    record_barrier(ex);
  for (uint32_t i = 0; i < n; i++) {
    int err = (write_mask & (1u << i))
                  ? track(&ex->writes, &ex->n_writes, &ex->cap_writes,
                          ranges[i])
                  : track(&ex->reads, &ex->n_reads, &ex->cap_reads,
                          ranges[i]);
    if (err)
      return err;
  }
  return DAM_OK;
}

static int alloc_set(dam_exec *ex, VkDescriptorSetLayout layout,
                     VkDescriptorSet *set) {
  struct dam_batch *b = &ex->batches[ex->cur];
  VkDevice vd = ex->dev->dev;
  if (b->cur_pool < b->n_pools && b->sets_in_pool == SETS_PER_POOL) {
    b->cur_pool++;
    b->sets_in_pool = 0;
  }
  if (b->cur_pool == b->n_pools) {
    VkDescriptorPoolSize sizes[] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * DAM_MAX_BINDINGS},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
         SETS_PER_POOL * DAM_MAX_BINDINGS}};
    VkDescriptorPoolCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = SETS_PER_POOL,
        .poolSizeCount = 2,
        .pPoolSizes = sizes,
    };
    VkDescriptorPool *pools =
        realloc(b->pools, (b->n_pools + 1) * sizeof *pools);
    if (!pools)
      return dam_fail(DAM_ENOMEM, "out of memory");
    b->pools = pools;
    int err = dam_vk_check(vkCreateDescriptorPool(vd, &pi, NULL,
                                                  &pools[b->n_pools]),
                           "vkCreateDescriptorPool");
    if (err)
      return err;
    b->n_pools++;
    b->sets_in_pool = 0;
  }
  VkDescriptorSetAllocateInfo ai = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
      .descriptorPool = b->pools[b->cur_pool],
      .descriptorSetCount = 1,
      .pSetLayouts = &layout,
  };
  b->sets_in_pool++;
  return dam_vk_check(vkAllocateDescriptorSets(vd, &ai, set),
                      "vkAllocateDescriptorSets");
}

/* A vec4 view of r for a texel binding, kept by the current batch until
 * it retires.  `name` is the shader's, for messages. */
static int texel_view(dam_exec *ex, const char *name, uint32_t binding,
                      const dam_range *r, VkBufferView *view) {
  const VkPhysicalDeviceLimits *lim = &ex->dev->props.limits;
  if (r->offset % lim->minTexelBufferOffsetAlignment || r->size % 16 ||
      !r->size || r->size / 16 > lim->maxTexelBufferElements)
    return dam_fail(DAM_EINVAL, "shader %s: binding %u (%llu bytes at %llu) "
                    "cannot be read as vec4 texels", name, binding,
                    (unsigned long long)r->size,
                    (unsigned long long)r->offset);
  struct dam_batch *b = &ex->batches[ex->cur];
  if (b->n_views == b->cap_views) {
    uint32_t cap = b->cap_views ? 2 * b->cap_views : 64;
    VkBufferView *v = realloc(b->views, cap * sizeof *v);
    if (!v)
      return dam_fail(DAM_ENOMEM, "out of memory");
    b->views = v;
    b->cap_views = cap;
  }
  VkBufferViewCreateInfo vi = {
      .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
      .buffer = r->buffer,
      .format = VK_FORMAT_R32G32B32A32_SFLOAT,
      .offset = r->offset,
      .range = r->size,
  };
  int err = dam_vk_check(vkCreateBufferView(ex->dev->dev, &vi, NULL, view),
                         "vkCreateBufferView");
  if (!err)
    b->views[b->n_views++] = *view;
  return err;
}

/* Split `groups` workgroups over x and y within the device limits. */
static int grid(const dam_device *dev, uint64_t groups, uint32_t *gx,
                uint32_t *gy) {
  const uint32_t *max = dev->props.limits.maxComputeWorkGroupCount;
  *gx = groups < max[0] ? (uint32_t)groups : max[0];
  uint64_t y = (groups + *gx - 1) / *gx;
  if (y > max[1])
    return dam_fail(DAM_ERANGE, "dispatch of %llu workgroups exceeds the "
                    "device's grid", (unsigned long long)groups);
  *gy = (uint32_t)y;
  return DAM_OK;
}

/* The local size to run a dispatch of p at: on a CPU device, a resizable
 * shader's dispatch that would give the host's cores fewer than four
 * workgroups each runs in workgroups of one subgroup.  llvmpipe hands each
 * thread a contiguous run of whole workgroups, so one or two workgroups
 * of 64 leave a core idle (docs/RUNTIME.md). */
static uint32_t local_size_for(const dam_exec *ex, const dam_pipeline *p,
                               uint32_t invocations) {
  const dam_device *dev = ex->dev;
  uint32_t small = dev->info.subgroup_size;
  return p->resizable && small && small < p->local_size &&
                 invocations < 4ull * p->local_size * dev->cpu_workers
             ? small
             : p->local_size;
}

int dam_exec_dispatch(dam_exec *ex, const dam_shader *shader,
                      const dam_range *ranges, uint32_t n_ranges,
                      const void *push, uint32_t invocations) {
  return dam_exec_dispatch_shaped(ex, shader, 0, ranges, n_ranges, push,
                                  invocations);
}

int dam_exec_dispatch_shaped(dam_exec *ex, const dam_shader *shader,
                             uint32_t shape, const dam_range *ranges,
                             uint32_t n_ranges, const void *push,
                             uint32_t invocations) {
  const dam_pipeline *p = NULL;
  int err = before_touching_held(ex, ranges, n_ranges);
  if (!err)
    err = dam_pipeline_get(ex->dev, shader, 0, shape, &p);
  uint32_t local_size = err ? 0 : local_size_for(ex, p, invocations);
  if (!err && local_size != p->local_size)
    err = dam_pipeline_get(ex->dev, shader, local_size, shape, &p);
  if (err)
    return err;
  if (n_ranges != shader->n_bindings)
    return dam_fail(DAM_EINVAL, "shader %s takes %u buffers, got %u",
                    shader->name, shader->n_bindings, n_ranges);
  if (invocations == 0)
    return DAM_OK;
  uint32_t gx = 0, gy = 0;
  err = grid(ex->dev, (invocations + (uint64_t)local_size - 1) / local_size,
             &gx, &gy);
  if (!err && ex->recording && ex->batches[ex->cur].queries &&
      ex->batches[ex->cur].n_queries == DAM_SUBMIT_DISPATCHES)
    err = dam_exec_submit(ex);
  if (!err)
    err = begin_recording(ex);
  VkDescriptorSet set;
  if (!err)
    err = alloc_set(ex, p->set_layout, &set);
  if (!err)
    err = before_access(ex, ranges, n_ranges, shader->write_mask);
  if (err)
    return err;
  VkDescriptorBufferInfo bufs[DAM_MAX_BINDINGS];
  VkBufferView views[DAM_MAX_BINDINGS];
  VkWriteDescriptorSet writes[DAM_MAX_BINDINGS];
  for (uint32_t i = 0; i < n_ranges; i++) {
    VkDescriptorType type = dam_shader_binding_type(shader, i);
    bufs[i] = (VkDescriptorBufferInfo){ranges[i].buffer, ranges[i].offset,
                                       ranges[i].size};
    if (type == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER &&
        (err = texel_view(ex, shader->name, i, &ranges[i], &views[i])))
      return err;
    writes[i] = (VkWriteDescriptorSet){
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = type,
        .pBufferInfo = &bufs[i],
        .pTexelBufferView = &views[i],
    };
  }
  vkUpdateDescriptorSets(ex->dev->dev, n_ranges, writes, 0, NULL);
  struct dam_batch *b = &ex->batches[ex->cur];
  vkCmdBindPipeline(b->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
  vkCmdBindDescriptorSets(b->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout,
                          0, 1, &set, 0, NULL);
  if (shader->push_size)
    vkCmdPushConstants(b->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                       shader->push_size, push);
  uint32_t q = b->n_queries;
  if (b->queries)
    vkCmdWriteTimestamp(b->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, b->queries,
                        2 * q);
  vkCmdDispatch(b->cb, gx, gy, 1);
  if (b->queries) {
    vkCmdWriteTimestamp(b->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                        b->queries, 2 * q + 1);
    b->query_names[q] = shader->name;
  }
  b->n_queries++; /* counts dispatches of this batch even unprofiled */
  ex->stats.dispatches++;
  return DAM_OK;
}

int dam_exec_copy(dam_exec *ex, dam_range src, dam_range dst) {
  if (src.size != dst.size)
    return dam_fail(DAM_EINVAL, "copy of %llu bytes into %llu",
                    (unsigned long long)src.size,
                    (unsigned long long)dst.size);
  VkBufferCopy c = {src.offset, dst.offset, src.size};
  return dam_exec_copy_regions(ex, src, dst, &c, 1);
}

/* Whether [at, at + size) lies in r. */
static bool within(dam_range r, VkDeviceSize at, VkDeviceSize size) {
  return at >= r.offset && at - r.offset <= r.size &&
         size <= r.size - (at - r.offset);
}

int dam_exec_copy_regions(dam_exec *ex, dam_range src, dam_range dst,
                          const VkBufferCopy *regions, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (!within(src, regions[i].srcOffset, regions[i].size) ||
        !within(dst, regions[i].dstOffset, regions[i].size))
      return dam_fail(DAM_EINVAL, "copy: region %u (%llu bytes) is outside "
                      "its ranges", i, (unsigned long long)regions[i].size);
  dam_range r[2] = {src, dst};
  int err = before_touching_held(ex, r, 2);
  if (!err)
    err = dam_part_sums_flush_touching(ex, r, 2);
  if (!err)
    err = begin_recording(ex);
  if (!err)
    err = before_access(ex, r, 2, 2u);
  if (!err && n)
    vkCmdCopyBuffer(ex->batches[ex->cur].cb, src.buffer, dst.buffer, n,
                    regions);
  return err;
}

int dam_exec_zero(dam_exec *ex, dam_range dst) {
  if (dst.offset % 4 || dst.size % 4)
    return dam_fail(DAM_EINVAL, "zero: range %llu+%llu is not 4-byte aligned",
                    (unsigned long long)dst.offset,
                    (unsigned long long)dst.size);
  int err = before_touching_held(ex, &dst, 1);
  if (!err)
    err = dam_part_sums_flush_touching(ex, &dst, 1);
  if (!err)
    err = begin_recording(ex);
  if (!err)
    err = before_access(ex, &dst, 1, 1u);
  if (err)
    return err;
  vkCmdFillBuffer(ex->batches[ex->cur].cb, dst.buffer, dst.offset, dst.size,
                  0);
  return DAM_OK;
}

int dam_exec_upload(dam_exec *ex, dam_range dst, const void *data) {
  dam_alloc s;
  int err = dam_pool_alloc(&ex->staging, dst.size, &s);
  if (err)
    return err;
  memcpy(s.map, data, dst.size);
  return dam_exec_copy(ex, (dam_range){s.buffer, s.offset, dst.size}, dst);
}

int dam_exec_download_ranges(dam_exec *ex, const dam_range *src, uint32_t n,
                             void *const *data) {
  dam_alloc s[DAM_DOWNLOAD_RANGES];
  if (n > sizeof s / sizeof *s)
    return dam_fail(DAM_EINVAL, "download: %u ranges (at most %zu)", n,
                    sizeof s / sizeof *s);
  int err = 0;
  for (uint32_t i = 0; i < n && !err; i++) {
    err = dam_pool_alloc(&ex->staging, src[i].size, &s[i]);
    if (!err)
      err = dam_exec_copy(ex, src[i],
                          (dam_range){s[i].buffer, s[i].offset, src[i].size});
  }
  if (!err)
    err = dam_exec_wait(ex);
  for (uint32_t i = 0; i < n && !err; i++) /* staging stays valid until reused */
    memcpy(data[i], s[i].map, src[i].size);
  return err;
}

int dam_exec_download(dam_exec *ex, dam_range src, void *data) {
  return dam_exec_download_ranges(ex, &src, 1, &data);
}

static int by_total_desc(const void *a, const void *b) {
  double x = ((const dam_profile_entry *)a)->total_ms;
  double y = ((const dam_profile_entry *)b)->total_ms;
  return (x < y) - (x > y);
}

void dam_exec_profile_reset(dam_exec *ex) {
  for (uint32_t i = 0; i < ex->n_prof; i++)
    free(ex->prof[i].name);
  free(ex->prof);
  ex->prof = NULL;
  ex->n_prof = 0;
}

void dam_exec_profile_print(const dam_exec *ex, FILE *out, uint64_t steps) {
  if (!ex->n_prof) {
    fprintf(out, "no GPU timestamps recorded (set DIFFAUTOML_PROFILE=1)\n");
    return;
  }
  dam_profile_entry *p = malloc(ex->n_prof * sizeof *p);
  if (!p)
    return;
  memcpy(p, ex->prof, ex->n_prof * sizeof *p);
  qsort(p, ex->n_prof, sizeof *p, by_total_desc);
  double all = 0, per = steps ? (double)steps : 1.0;
  for (uint32_t i = 0; i < ex->n_prof; i++)
    all += p[i].total_ms;
  fprintf(out, "%-24s %10s %12s %7s %12s\n", "kernel",
          steps > 1 ? "per step" : "count", steps > 1 ? "ms/step" : "total ms",
          "share", "mean us");
  for (uint32_t i = 0; i < ex->n_prof; i++)
    fprintf(out, "%-24s %10.1f %12.3f %6.1f%% %12.2f\n", p[i].name,
            (double)p[i].count / per, p[i].total_ms / per,
            100.0 * p[i].total_ms / all,
            1e3 * p[i].total_ms / (double)p[i].count);
  free(p);
}
