/* How many worker threads lavapipe (Mesa's CPU Vulkan driver) splits each
 * dispatch over.  lavapipe reads $LP_NUM_THREADS when a Vulkan instance
 * enumerates it, so the choice is made before dam_device_open; it does
 * nothing on a GPU.  docs/RUNTIME.md, "lavapipe's threads". */
#ifndef DAM_CPU_THREADS_H
#define DAM_CPU_THREADS_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On a host of at most DAM_CPU_INLINE_CPUS CPUs, below this many floats
 * in a first-stage cell's activation (batch x channels x height x width)
 * a dispatch's work is too small to pay for handing it to lavapipe's
 * workers and joining them: measured on 2-vCPU hosts only
 * (docs/BENCHMARKS.md, twenty-fourth, twenty-seventh and twenty-eighth
 * passes). */
#define DAM_CPU_INLINE_FLOATS (1u << 14)
#define DAM_CPU_INLINE_CPUS 2

/* The worker count for config key cpu_threads = `configured`, a
 * first-stage activation of `cell_floats` and a host of `cpus` CPUs:
 * `configured` when >= 0, else 0 (every dispatch on lavapipe's queue
 * thread) when both are under the limits above, else -1 (the driver's
 * default: one per CPU). */
int dam_cpu_threads_pick(int64_t configured, uint64_t cell_floats, long cpus);

/* The floats of one first-stage cell activation of cfg's supernet on h x w
 * images in batches of `batch`: batch x channels x the stem's output. */
uint64_t dam_cpu_cell_floats(const dam_config *cfg, uint32_t h, uint32_t w,
                             int64_t batch);

/* dam_cpu_threads_pick for cfg's key, its supernet on h x w images in
 * batches of `batch`, and this host. */
int dam_cpu_threads_for(const dam_config *cfg, uint32_t h, uint32_t w,
                        int64_t batch);

/* $LP_NUM_THREADS as the process started with it, or DAM_CPU_THREADS_UNSET. */
#define DAM_CPU_THREADS_UNSET (-2)
int dam_cpu_threads_user(void);

/* Whether the next Vulkan instance gives lavapipe worker threads:
 * $LP_NUM_THREADS, as it is now, unset or not 0. */
bool dam_cpu_threads_workers(void);

/* How many compute workers lavapipe starts on a host of `cores` CPUs:
 * $LP_NUM_THREADS as it is now, else one per CPU (none on one). */
uint32_t dam_cpu_threads_driver(uint32_t cores);

/* "N worker thread(s)", or for -1 "a worker thread per CPU", into out. */
void dam_cpu_threads_describe(int threads, char *out, size_t n);

/* Make `threads` (-1: the driver's default) what the next Vulkan instance
 * gives lavapipe, unless $LP_NUM_THREADS was set when the process started:
 * the user's setting wins.  Returns the count in force, -1 for the
 * driver's default. */
int dam_cpu_threads_apply(int threads);

#endif
