/* Pinning lavapipe's compute workers and the spinners (cpu_pin.h). */
#include "cpu_pin.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int by_tid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

bool dam_threads_snapshot(dam_threads *out) {
  *out = (dam_threads){0};
  pthread_getname_np(pthread_self(), out->name, sizeof out->name);
  DIR *dir = opendir("/proc/self/task");
  if (!dir)
    return false;
  size_t cap = 0;
  bool ok = true;
  for (struct dirent *e; ok && (e = readdir(dir));) {
    long tid = atol(e->d_name);
    if (tid <= 0)
      continue;
    if (out->n == cap) {
      cap = cap ? 2 * cap : 16;
      pid_t *grown = realloc(out->tids, cap * sizeof *grown);
      ok = grown != NULL;
      if (ok)
        out->tids = grown;
    }
    if (ok)
      out->tids[out->n++] = (pid_t)tid;
  }
  closedir(dir);
  if (!ok)
    dam_threads_free(out);
  else
    qsort(out->tids, out->n, sizeof *out->tids, by_tid);
  return ok;
}

void dam_threads_free(dam_threads *t) {
  free(t->tids);
  *t = (dam_threads){0};
}

int dam_cpu_allowed_nth(uint32_t i) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set))
    return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set) && i-- == 0)
      return cpu;
  return -1;
}

bool dam_cpu_pin(pid_t tid, int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE)
    return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(tid, sizeof set, &set) == 0;
}

bool dam_thread_named(pid_t tid, const char *name) {
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  bool read = fgets(comm, sizeof comm, f) != NULL;
  fclose(f);
  comm[strcspn(comm, "\n")] = '\0';
  return read && !strcmp(comm, name);
}

static bool existed(const dam_threads *t, pid_t tid) {
  return bsearch(&tid, t->tids, t->n, sizeof tid, by_tid) != NULL;
}

/* lavapipe's rasterizer and disk-cache threads name themselves once they
 * first run, which on a busy machine can be after vkCreateDevice returns;
 * until then they carry the caller's name.  While more new threads carry
 * it than the layout has, the names are read again: every 2 ms, for at
 * most 0.2 s. */
#define NAMING_WAIT_US 2000
#define NAMING_TRIES 100

/* The threads started since `before` that carry its name, ascending, into
 * out (room for now->n); their count. */
static uint32_t new_unnamed(const dam_threads *before, const dam_threads *now,
                            pid_t *out) {
  uint32_t n = 0;
  for (size_t i = 0; i < now->n; i++)
    if (!existed(before, now->tids[i]) &&
        dam_thread_named(now->tids[i], before->name))
      out[n++] = now->tids[i];
  return n;
}

uint32_t dam_cpu_pin_workers(const dam_threads *before, uint32_t workers) {
  if (!workers || dam_cpu_allowed_nth(workers - 1) < 0)
    return 0;
  uint32_t pinned = 0;
  for (int tries = 0; tries < NAMING_TRIES; tries++) {
    dam_threads now;
    if (!dam_threads_snapshot(&now))
      return 0;
    pid_t *unnamed = calloc(now.n, sizeof *unnamed);
    uint32_t n = unnamed ? new_unnamed(before, &now, unnamed) : 0;
    if (n == workers + 1)
      while (pinned < workers &&
             dam_cpu_pin(unnamed[1 + pinned], dam_cpu_allowed_nth(pinned)))
        pinned++;
    free(unnamed);
    dam_threads_free(&now);
    if (n <= workers + 1)
      break;
    usleep(NAMING_WAIT_US);
  }
  return pinned;
}
