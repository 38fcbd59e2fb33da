/* Block allocation and first-fit, coalescing free lists per block. */
#include "memory.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

typedef struct dam_free_range {
  VkDeviceSize offset, size;
} dam_free_range;

struct dam_block {
  dam_block *next;
  VkDeviceMemory memory;
  VkBuffer buffer;
  VkDeviceSize size;
  uint8_t *map;          /* NULL unless host-visible */
  dam_free_range *free;  /* sorted by offset, coalesced */
  uint32_t n_free, cap_free;
};

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) {
  return (v + a - 1) / a * a;
}

void dam_pool_init(dam_pool *pool, dam_device *dev, dam_pool_kind kind,
                   uint32_t mem_type) {
  memset(pool, 0, sizeof *pool);
  pool->dev = dev;
  pool->kind = kind;
  pool->mem_type = mem_type;
  pool->host_mapped = dev->mem_props.memoryTypes[mem_type].propertyFlags &
                      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
  pool->alignment = dev->props.limits.minStorageBufferOffsetAlignment;
  if (pool->alignment < 64)
    pool->alignment = 64;
}

static void block_destroy(VkDevice vd, dam_block *b) {
  if (b->buffer)
    vkDestroyBuffer(vd, b->buffer, NULL);
  if (b->memory)
    vkFreeMemory(vd, b->memory, NULL); /* unmaps implicitly */
  free(b->free);
  free(b);
}

static int block_create(dam_pool *pool, VkDeviceSize size, dam_block **out) {
  VkDevice vd = pool->dev->dev;
  dam_block *b = calloc(1, sizeof *b);
  if (!b)
    return dam_fail(DAM_ENOMEM, "out of host memory");
  VkBufferCreateInfo bi = {
      .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
      .size = size,
      .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
               VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT,
  };
  VkResult r = vkCreateBuffer(vd, &bi, NULL, &b->buffer);
  VkMemoryRequirements req = {0};
  if (r == VK_SUCCESS) {
    vkGetBufferMemoryRequirements(vd, b->buffer, &req);
    VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = pool->mem_type,
    };
    r = vkAllocateMemory(vd, &ai, NULL, &b->memory);
  }
  if (r == VK_SUCCESS)
    r = vkBindBufferMemory(vd, b->buffer, b->memory, 0);
  if (r == VK_SUCCESS && pool->host_mapped)
    r = vkMapMemory(vd, b->memory, 0, VK_WHOLE_SIZE, 0, (void **)&b->map);
  if (r != VK_SUCCESS) {
    block_destroy(vd, b);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      return dam_fail(DAM_ENOMEM, "device memory block of %llu MiB: %s",
                      (unsigned long long)(size >> 20),
                      dam_vk_result_name(r));
    return dam_vk_check(r, "device memory block");
  }
  b->size = size;
  b->free = malloc(16 * sizeof *b->free);
  if (!b->free) {
    block_destroy(vd, b);
    return dam_fail(DAM_ENOMEM, "out of host memory");
  }
  b->cap_free = 16;
  b->n_free = 1;
  b->free[0] = (dam_free_range){0, size};
  b->next = pool->blocks;
  pool->blocks = b;
  pool->bytes_reserved += size;
  *out = b;
  return DAM_OK;
}

void dam_pool_release(dam_pool *pool) {
  while (pool->blocks) {
    dam_block *next = pool->blocks->next;
    block_destroy(pool->dev->dev, pool->blocks);
    pool->blocks = next;
  }
  pool->bytes_reserved = pool->bytes_used = 0;
}

/* Take `size` bytes (aligned) from a block, first fit; false when it has
 * no room. */
static bool block_take(dam_block *b, VkDeviceSize size, VkDeviceSize *offset) {
  for (uint32_t i = 0; i < b->n_free; i++) {
    dam_free_range *f = &b->free[i];
    if (f->size < size)
      continue;
    *offset = f->offset;
    f->offset += size;
    f->size -= size;
    if (f->size == 0) {
      memmove(f, f + 1, (b->n_free - i - 1) * sizeof *f);
      b->n_free--;
    }
    return true;
  }
  return false;
}

int dam_pool_alloc(dam_pool *pool, VkDeviceSize size, dam_alloc *out) {
  VkDeviceSize range = pool->dev->props.limits.maxStorageBufferRange;
  if (size == 0)
    return dam_fail(DAM_EINVAL, "allocation of 0 bytes");
  if (size > range)
    return dam_fail(DAM_ERANGE, "allocation of %llu bytes exceeds the "
                    "device's maxStorageBufferRange of %llu bytes",
                    (unsigned long long)size, (unsigned long long)range);
  size = align_up(size, pool->alignment);
  VkDeviceSize offset = 0;
  dam_block *b = pool->blocks;
  while (b && !block_take(b, size, &offset))
    b = b->next;
  if (!b) {
    int err = block_create(pool, size > DAM_BLOCK_SIZE ? size : DAM_BLOCK_SIZE,
                           &b);
    if (err)
      return err;
    block_take(b, size, &offset);
  }
  pool->bytes_used += size;
  if (pool->bytes_used > pool->bytes_peak)
    pool->bytes_peak = pool->bytes_used;
  *out = (dam_alloc){
      .buffer = b->buffer,
      .offset = offset,
      .size = size,
      .map = b->map ? b->map + offset : NULL,
      .block = b,
  };
  return DAM_OK;
}

void dam_pool_free(dam_pool *pool, const dam_alloc *a) {
  if (!a->block)
    return;
  dam_block *b = a->block;
  uint32_t i = 0;
  while (i < b->n_free && b->free[i].offset < a->offset)
    i++;
  bool join_prev = i > 0 &&
                   b->free[i - 1].offset + b->free[i - 1].size == a->offset;
  bool join_next = i < b->n_free &&
                   a->offset + a->size == b->free[i].offset;
  pool->bytes_used -= a->size;
  if (join_prev && join_next) {
    b->free[i - 1].size += a->size + b->free[i].size;
    memmove(&b->free[i], &b->free[i + 1], (b->n_free - i - 1) * sizeof *b->free);
    b->n_free--;
  } else if (join_prev) {
    b->free[i - 1].size += a->size;
  } else if (join_next) {
    b->free[i].offset = a->offset;
    b->free[i].size += a->size;
  } else {
    if (b->n_free == b->cap_free) {
      dam_free_range *f = realloc(b->free, 2 * b->cap_free * sizeof *f);
      if (!f)
        return; /* the range is leaked, nothing is corrupted */
      b->free = f;
      b->cap_free *= 2;
    }
    memmove(&b->free[i + 1], &b->free[i], (b->n_free - i) * sizeof *b->free);
    b->free[i] = (dam_free_range){a->offset, a->size};
    b->n_free++;
  }
}

void dam_pool_reset(dam_pool *pool) {
  if (pool->kind != DAM_POOL_ARENA)
    return;
  for (dam_block *b = pool->blocks; b; b = b->next) {
    b->n_free = 1;
    b->free[0] = (dam_free_range){0, b->size};
  }
  pool->bytes_used = 0;
}
