/* Lowest-priority spinners for CPU devices (cpu_spin.h). */
#include "cpu_spin.h"
#include "cpu_pin.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct dam_cpu_spin {
  pthread_mutex_t m;
  pthread_cond_t wake;
  atomic_bool busy;
  bool stop;
  atomic_uint started; /* spinner i runs on the i-th allowed CPU */
  uint32_t n;
  pthread_t threads[];
};

/* Whether the calling thread now has the lowest priority a normal thread
 * can have (nice 19). */
static bool lowest_priority(void) {
  return setpriority(PRIO_PROCESS, (id_t)gettid(), 19) == 0;
}

static void *spin(void *arg) {
  dam_cpu_spin *s = arg;
  if (!lowest_priority())
    return NULL;
  dam_cpu_pin(0, dam_cpu_allowed_nth(atomic_fetch_add(&s->started, 1)));
  pthread_mutex_lock(&s->m);
  while (!s->stop) {
    if (!atomic_load(&s->busy)) {
      pthread_cond_wait(&s->wake, &s->m);
      continue;
    }
    pthread_mutex_unlock(&s->m);
    while (atomic_load_explicit(&s->busy, memory_order_relaxed))
      sched_yield(); /* hands the CPU over to any thread waiting for it */
    pthread_mutex_lock(&s->m);
  }
  pthread_mutex_unlock(&s->m);
  return NULL;
}

dam_cpu_spin *dam_cpu_spin_start(uint32_t threads) {
  const char *env = getenv("DIFFAUTOML_CPU_SPIN");
  if (!threads || (env && !strcmp(env, "0")))
    return NULL;
  dam_cpu_spin *s = calloc(1, sizeof *s + threads * sizeof s->threads[0]);
  if (!s)
    return NULL;
  pthread_mutex_init(&s->m, NULL);
  pthread_cond_init(&s->wake, NULL);
  atomic_init(&s->busy, false);
  atomic_init(&s->started, 0);
  /* Named here, not by the spinner, so that it is named once this returns
   * (dam_cpu_pin_workers tells threads apart by their names). */
  while (s->n < threads && !pthread_create(&s->threads[s->n], NULL, spin, s))
    pthread_setname_np(s->threads[s->n++], DAM_CPU_SPIN_NAME);
  if (!s->n) {
    dam_cpu_spin_stop(s);
    return NULL;
  }
  return s;
}

void dam_cpu_spin_busy(dam_cpu_spin *s, bool busy) {
  if (!s || atomic_load(&s->busy) == busy)
    return;
  pthread_mutex_lock(&s->m);
  atomic_store(&s->busy, busy);
  if (busy)
    pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->m);
}

void dam_cpu_spin_stop(dam_cpu_spin *s) {
  if (!s)
    return;
  pthread_mutex_lock(&s->m);
  s->stop = true;
  atomic_store(&s->busy, false);
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->m);
  for (uint32_t i = 0; i < s->n; i++)
    pthread_join(s->threads[i], NULL);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->m);
  free(s);
}
