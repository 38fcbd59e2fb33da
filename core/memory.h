/*
 * Device memory: tensors are sub-allocated from large VkDeviceMemory
 * blocks, each bound to one storage buffer.  Both kinds of pool take
 * ranges first-fit from coalescing free lists and take ranges back one by
 * one; an arena (activations of a step, staging) is also reset as a whole.
 */
#ifndef DAM_MEMORY_H
#define DAM_MEMORY_H

#include "device.h"

#include <stdbool.h>

#define DAM_BLOCK_SIZE ((VkDeviceSize)64 << 20)

typedef struct dam_block dam_block;

/* A range of a block's buffer. */
typedef struct dam_alloc {
  VkBuffer buffer;
  VkDeviceSize offset, size;
  void *map; /* host pointer to offset, or NULL if not host-visible */
  dam_block *block;
} dam_alloc;

typedef enum dam_pool_kind { DAM_POOL_PERSISTENT, DAM_POOL_ARENA } dam_pool_kind;

typedef struct dam_pool {
  dam_device *dev;
  dam_pool_kind kind;
  uint32_t mem_type;
  VkDeviceSize alignment;
  bool host_mapped; /* blocks are mapped (default: the type is host-visible) */
  dam_block *blocks; /* singly linked, newest first */
  VkDeviceSize bytes_reserved; /* sum of block sizes */
  VkDeviceSize bytes_used;     /* live allocations */
  VkDeviceSize bytes_peak;     /* high-water mark of bytes_used */
} dam_pool;

/* Set up a pool over memory type `mem_type` (no memory is taken yet). */
void dam_pool_init(dam_pool *pool, dam_device *dev, dam_pool_kind kind,
                   uint32_t mem_type);

/* Release every block.  Allocations from the pool become invalid. */
void dam_pool_release(dam_pool *pool);

/* Sub-allocate `size` bytes (> 0).  DAM_ERANGE, naming both numbers, when
 * size exceeds maxStorageBufferRange (a tensor must be bindable whole);
 * DAM_ENOMEM when the device has no memory left.  Nothing is changed on
 * failure. */
int dam_pool_alloc(dam_pool *pool, VkDeviceSize size, dam_alloc *out);

/* Return a range (from dam_pool_alloc on this pool, not yet freed or
 * reset) to the pool; its neighbours coalesce.  The caller orders device
 * access: dam_exec tracks ranges, not allocations (docs/RUNTIME.md). */
void dam_pool_free(dam_pool *pool, const dam_alloc *a);

/* Make every arena allocation invalid and its memory reusable (no-op for a
 * persistent pool). */
void dam_pool_reset(dam_pool *pool);

#endif
