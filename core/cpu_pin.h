/* One CPU each for lavapipe's compute workers and for the spinners
 * (cpu_spin.h).  lavapipe wakes both workers for every dispatch, and
 * Linux places each woken thread anew: with a spinner busy on every CPU
 * none looks idle, and both workers were at times placed on one CPU and
 * shared it for whole seconds, each dispatch's halves running one after
 * the other.  Pinned, they cannot.  docs/RUNTIME.md, "lavapipe's
 * threads". */
#ifndef DAM_CPU_PIN_H
#define DAM_CPU_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The process's threads at one moment, ascending (creation order), and
 * the name of the thread that took the snapshot. */
typedef struct dam_threads {
  pid_t *tids;
  size_t n;
  char name[16];
} dam_threads;

/* Snapshot the process's threads into *out (free with dam_threads_free);
 * false when /proc/self/task cannot be read. */
bool dam_threads_snapshot(dam_threads *out);

void dam_threads_free(dam_threads *t);

/* The i-th (from 0) CPU the calling thread may run on, or -1 when it may
 * run on at most i. */
int dam_cpu_allowed_nth(uint32_t i);

/* Pin thread tid (0: the caller) to CPU cpu; false if Linux refuses. */
bool dam_cpu_pin(pid_t tid, int cpu);

/* Whether thread tid of this process is named `name` (its comm). */
bool dam_thread_named(pid_t tid, const char *name);

/* After a call that opened a lavapipe device: the threads started since
 * `before` under the caller's name (lavapipe names only its rasterizer
 * and disk-cache threads) must be its queue thread then its `workers`
 * compute workers, as Mesa 22.3 starts them; pin worker i to the i-th
 * allowed CPU.  Threads that have not yet named themselves are waited
 * for, up to 0.2 s.  Returns how many it pinned: 0, pinning nothing, when
 * the threads differ from that layout or the CPUs are fewer than the
 * workers. */
uint32_t dam_cpu_pin_workers(const dam_threads *before, uint32_t workers);

#endif
