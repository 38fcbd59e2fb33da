/* lavapipe's worker threads: the config's choice, passed on as
 * $LP_NUM_THREADS. */
#include "cpu_threads.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int dam_cpu_threads_pick(int64_t configured, uint64_t cell_floats, long cpus) {
  if (configured >= 0)
    return (int)configured;
  return cpus <= DAM_CPU_INLINE_CPUS && cell_floats < DAM_CPU_INLINE_FLOATS
             ? 0
             : -1;
}

uint64_t dam_cpu_cell_floats(const dam_config *cfg, uint32_t h, uint32_t w,
                             int64_t batch) {
  uint64_t s = (uint64_t)cfg->search_space.stem_stride;
  return (uint64_t)batch * (uint64_t)cfg->search_space.channels *
         ((h + s - 1) / s) * ((w + s - 1) / s);
}

int dam_cpu_threads_for(const dam_config *cfg, uint32_t h, uint32_t w,
                        int64_t batch) {
  return dam_cpu_threads_pick(cfg->cpu_threads,
                              dam_cpu_cell_floats(cfg, h, w, batch),
                              sysconf(_SC_NPROCESSORS_ONLN));
}

int dam_cpu_threads_user(void) {
  static bool read;
  static int user;
  if (!read) {
    const char *v = getenv("LP_NUM_THREADS");
    user = v ? atoi(v) : DAM_CPU_THREADS_UNSET;
    read = true;
  }
  return user;
}

bool dam_cpu_threads_workers(void) {
  const char *v = getenv("LP_NUM_THREADS");
  return !v || atoi(v) != 0;
}

uint32_t dam_cpu_threads_driver(uint32_t cores) {
  const char *v = getenv("LP_NUM_THREADS");
  if (v)
    return (uint32_t)atoi(v);
  return cores > 1 ? cores : 0;
}

void dam_cpu_threads_describe(int threads, char *out, size_t n) {
  if (threads < 0)
    snprintf(out, n, "a worker thread per CPU");
  else
    snprintf(out, n, "%d worker thread%s", threads, threads == 1 ? "" : "s");
}

int dam_cpu_threads_apply(int threads) {
  if (dam_cpu_threads_user() != DAM_CPU_THREADS_UNSET)
    return dam_cpu_threads_user();
  if (threads < 0) {
    unsetenv("LP_NUM_THREADS");
    return -1;
  }
  char text[16];
  snprintf(text, sizeof text, "%d", threads);
  setenv("LP_NUM_THREADS", text, 1);
  return threads;
}
