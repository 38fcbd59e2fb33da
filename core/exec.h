/*
 * Recording device work.  Kernels record dispatches into the current
 * command buffer; the recorder tracks the buffer ranges touched since the
 * last barrier and inserts a barrier only on a real hazard (read after
 * write, write after write, write after read).  Work is submitted once, at
 * dam_exec_wait (the end of a step); only when profiling is a command
 * buffer submitted early, once its DAM_SUBMIT_DISPATCHES timestamp pairs
 * are used.  The host reads back only through dam_exec_download.
 */
#ifndef DAM_EXEC_H
#define DAM_EXEC_H

#include "memory.h"
#include "pipeline.h"

#include <stdio.h>

#define DAM_SUBMIT_DISPATCHES 4096
#define DAM_BATCHES 3

typedef struct dam_range {
  VkBuffer buffer;
  VkDeviceSize offset, size;
} dam_range;

/* Whether a and b share a byte. */
bool dam_ranges_overlap(const dam_range *a, const dam_range *b);

typedef struct dam_exec_stats {
  uint64_t dispatches, barriers, submits, waits;
  uint64_t flops; /* of the forward convolutions and linear layers */
} dam_exec_stats;

typedef struct dam_profile_entry {
  char *name;
  uint64_t count;
  double total_ms;
} dam_profile_entry;

struct dam_tape;
struct dam_tensor;

/* Sums of partial results waiting to be added into their destinations
 * (part_sums.h): dst[i] += parts[first + p * stride + i] over p < n_parts;
 * the last sum over a parts tensor releases it. */
#define DAM_PENDING_SUMS 7
typedef struct dam_pending_sum {
  struct dam_tensor *parts, *dst;
  uint32_t n_parts, first, stride;
  bool releases_parts;
} dam_pending_sum;

/* A growable list of tensors (not owning them). */
typedef struct dam_tensor_list {
  struct dam_tensor **t;
  uint32_t n, cap;
} dam_tensor_list;
struct dam_batch;

/* A dispatch held back (dam_exec_hold) so that the kernel that held it may
 * record it together with the next one of its kind; shader NULL: none. */
#define DAM_HELD_PUSH 32
typedef struct dam_held {
  const dam_shader *shader;
  dam_range ranges[DAM_MAX_BINDINGS];
  uint32_t push[DAM_HELD_PUSH / 4];
  uint32_t invocations;
} dam_held;

struct dam_exec {
  dam_device *dev;
  dam_pool params;  /* persistent: weights, optimizer state */
  dam_pool arena;   /* activations and their gradients, reset per step */
  dam_pool staging; /* host-visible upload/download space */
  VkCommandPool cmd_pool;
  struct dam_batch *batches;
  uint32_t cur;     /* batch being recorded, if recording */
  bool recording;
  dam_range *reads, *writes; /* accesses since the last barrier */
  uint32_t n_reads, n_writes, cap_reads, cap_writes;
  dam_exec_stats stats;
  bool profile;     /* per-dispatch GPU timestamps */
  dam_profile_entry *prof;
  uint32_t n_prof;
  struct dam_tape *tape;
  bool no_release;             /* backward releases nothing (tests,
                                  debugging) */
  dam_tensor_list *param_sink; /* when set, dam_param_new appends here */
  dam_tensor_list *state_sink; /* when set, dam_state_new appends here */
  uint64_t rng;                /* splitmix64 state of weight init */
  struct dam_tensor *step_tensors;       /* arena tensors of this step */
  struct dam_tensor *persistent_tensors; /* the rest, until freed */
  dam_pending_sum pending_sums[DAM_PENDING_SUMS]; /* part_sums.c */
  uint32_t n_pending_sums;
  struct dam_share *share; /* nn.c: pools and phases shared while set */
  dam_held held;                     /* dam_exec_hold */
};
typedef struct dam_exec dam_exec;

/* A recorder on `dev` with empty pools.  Timestamps are on when
 * DIFFAUTOML_PROFILE=1 is set and the queue supports them. */
int dam_exec_create(dam_device *dev, dam_exec **out);

/* Wait for the device, free every pool and the recorder (NULL ok). */
void dam_exec_destroy(dam_exec *ex);

/* Record a dispatch of `shader` over `invocations` invocations (split
 * over a 2-D grid within maxComputeWorkGroupCount).  ranges[i] is bound at
 * binding i; bit i of shader->write_mask marks it written.  `push` holds
 * shader->push_size bytes. */
int dam_exec_dispatch(dam_exec *ex, const dam_shader *shader,
                      const dam_range *ranges, uint32_t n_ranges,
                      const void *push, uint32_t invocations);

/* dam_exec_dispatch of the shader's pipeline specialized on `shape`
 * (dam_pipeline_get): one pipeline per distinct shape key. */
int dam_exec_dispatch_shaped(dam_exec *ex, const dam_shader *shader,
                             uint32_t shape, const dam_range *ranges,
                             uint32_t n_ranges, const void *push,
                             uint32_t invocations);

/* Hold a dispatch back instead of recording it (its arguments as
 * dam_exec_dispatch's, at most DAM_HELD_PUSH bytes of push constants).  It
 * is recorded as it would have been, before any later command that touches
 * one of its ranges, before a submit, or when another is held; the kernel
 * that held it may instead take it over (dam_exec_take_held) and record
 * it merged with its own next dispatch. */
int dam_exec_hold(dam_exec *ex, const dam_shader *shader,
                  const dam_range *ranges, const void *push,
                  uint32_t invocations);

/* The held dispatch when it is of `shader`, taken over (nothing is held
 * after it) and copied into *out; false, leaving it held, otherwise. */
bool dam_exec_take_held(dam_exec *ex, const dam_shader *shader,
                        dam_held *out);

/* Record the held dispatch, if any, now. */
int dam_exec_record_held(dam_exec *ex);

/* Record a copy of src into dst (same size). */
int dam_exec_copy(dam_exec *ex, dam_range src, dam_range dst);

/* Record one copy command of n regions from src's buffer into dst's (the
 * regions' offsets in those buffers); DAM_EINVAL when one falls outside
 * src or dst. */
int dam_exec_copy_regions(dam_exec *ex, dam_range src, dam_range dst,
                          const VkBufferCopy *regions, uint32_t n);

/* Record a zero fill of dst (offset and size multiples of 4) as a
 * transfer command: on CPU devices a memset, far faster than a shader. */
int dam_exec_zero(dam_exec *ex, dam_range dst);

/* Record an upload of dst.size bytes from host memory (copied now). */
int dam_exec_upload(dam_exec *ex, dam_range dst, const void *data);

/* Finish all recorded work and copy src.size bytes into host memory. */
int dam_exec_download(dam_exec *ex, dam_range src, void *data);

#define DAM_DOWNLOAD_RANGES 32

/* The same for up to DAM_DOWNLOAD_RANGES ranges with one wait: src[i] into
 * data[i].  DAM_EINVAL for more ranges. */
int dam_exec_download_ranges(dam_exec *ex, const dam_range *src, uint32_t n,
                             void *const *data);

/* Submit what is recorded without waiting. */
int dam_exec_submit(dam_exec *ex);

/* Submit what is recorded and wait until the device is done; gathers
 * timestamps when profiling. */
int dam_exec_wait(dam_exec *ex);

/* Wait, then release the step: its arena tensors, the tape and the arena
 * memory.  Persistent tensors and gradients stay. */
int dam_exec_end_step(dam_exec *ex);

/* Print the per-kernel profile, longest first: calls, ms and share of
 * the recorded time, divided by `steps` (1: totals), and the mean us per
 * call. */
void dam_exec_profile_print(const dam_exec *ex, FILE *out, uint64_t steps);

/* Forget the timestamps gathered so far (e.g. of a warm-up). */
void dam_exec_profile_reset(dam_exec *ex);

#endif
