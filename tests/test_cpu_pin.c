/* Pinning lavapipe's compute workers and the spinners one to a CPU. */
#include "harness.h"
#include "cpu_pin.h"
#include "cpu_spin.h"
#include "device.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A thread standing in for one of a driver's: named `name` (NULL: its
 * creator's name) before its creator goes on, or with `late` 30 ms after,
 * then asleep until freed. */
typedef struct {
  const char *name;
  bool late;
  pid_t tid;
  sem_t ready, release;
  pthread_t thread;
} stand_in;

static void *stand_in_main(void *arg) {
  stand_in *t = arg;
  if (t->name && !t->late)
    pthread_setname_np(pthread_self(), t->name);
  t->tid = gettid();
  sem_post(&t->ready);
  if (t->name && t->late) {
    usleep(30000);
    pthread_setname_np(pthread_self(), t->name);
  }
  sem_wait(&t->release);
  return NULL;
}

static void stand_in_run(stand_in *t, const char *name, bool late) {
  t->name = name;
  t->late = late;
  sem_init(&t->ready, 0, 0);
  sem_init(&t->release, 0, 0);
  assert_int_equal(pthread_create(&t->thread, NULL, stand_in_main, t), 0);
  sem_wait(&t->ready);
}

static void stand_in_start(stand_in *t, const char *name) {
  stand_in_run(t, name, false);
}

static void stand_in_end(stand_in *t) {
  sem_post(&t->release);
  pthread_join(t->thread, NULL);
  sem_destroy(&t->ready);
  sem_destroy(&t->release);
}

/* The CPU thread tid is pinned to, or -1 when it may run on several. */
static int pinned_cpu(pid_t tid) {
  cpu_set_t set;
  assert_int_equal(sched_getaffinity(tid, sizeof set, &set), 0);
  if (CPU_COUNT(&set) != 1)
    return -1;
  for (int cpu = 0;; cpu++)
    if (CPU_ISSET(cpu, &set))
      return cpu;
}

/* Pin the workers of stand-ins t[0..5) in lavapipe's order (a queue
 * thread, a named one, two workers, a named one): worker i goes to the
 * i-th allowed CPU and nothing else is pinned.  Ends the stand-ins. */
static void check_layout_pinned(const dam_threads *before, stand_in *t) {
  bool two_cpus = dam_cpu_allowed_nth(1) >= 0;
  assert_int_equal(dam_cpu_pin_workers(before, 2), two_cpus ? 2 : 0);
  for (int i = 0; i < 5; i++) {
    int worker = i == 2 ? 0 : i == 3 ? 1 : -1;
    assert_int_equal(pinned_cpu(t[i].tid),
                     two_cpus && worker >= 0 ? dam_cpu_allowed_nth(worker)
                                             : -1);
  }
  for (int i = 0; i < 5; i++)
    stand_in_end(&t[i]);
}

/* Threads started in lavapipe's order get the workers pinned; any other
 * count of unnamed threads pins nothing. */
static void workers_pinned_by_layout(void **state) {
  (void)state;
  dam_threads before;
  assert_true(dam_threads_snapshot(&before));
  stand_in t[5];
  stand_in_start(&t[0], NULL);
  stand_in_start(&t[1], "llvmpipe-0");
  stand_in_start(&t[2], NULL);
  assert_int_equal(dam_cpu_pin_workers(&before, 2), 0); /* no queue thread */
  assert_int_equal(pinned_cpu(gettid()), -1);
  stand_in_start(&t[3], NULL);
  stand_in_start(&t[4], "disk");
  assert_int_equal(dam_cpu_pin_workers(&before, 1), 0);
  assert_int_equal(dam_cpu_pin_workers(&before, 3), 0);
  assert_int_equal(dam_cpu_pin_workers(&before, 0), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(pinned_cpu(t[i].tid), -1);
  check_layout_pinned(&before, t);
  dam_threads_free(&before);
}

/* Driver threads that name themselves only after their creator has gone
 * on (lavapipe's, on a busy machine) still leave the layout found: the
 * workers are pinned once the names are in. */
static void workers_pinned_when_named_late(void **state) {
  (void)state;
  dam_threads before;
  assert_true(dam_threads_snapshot(&before));
  stand_in t[5];
  stand_in_start(&t[0], NULL);
  stand_in_run(&t[1], "llvmpipe-0", true);
  stand_in_start(&t[2], NULL);
  stand_in_start(&t[3], NULL);
  stand_in_run(&t[4], "disk", true);
  check_layout_pinned(&before, t);
  dam_threads_free(&before);
}

/* How many of this process's threads are pinned to one CPU each, and how
 * many of those are spinners; `cpus` marks the CPUs they are pinned to. */
static void count_pinned(int *threads, int *spinners, cpu_set_t *cpus) {
  *threads = *spinners = 0;
  CPU_ZERO(cpus);
  dam_threads all;
  assert_true(dam_threads_snapshot(&all));
  for (size_t i = 0; i < all.n; i++) {
    int cpu = pinned_cpu(all.tids[i]);
    if (cpu < 0)
      continue;
    (*threads)++;
    *spinners += dam_thread_named(all.tids[i], DAM_CPU_SPIN_NAME);
    CPU_SET(cpu, cpus);
  }
  dam_threads_free(&all);
}

/* A lavapipe device with worker threads and spinners has both pinned, one
 * of each to every CPU; with DIFFAUTOML_CPU_SPIN=0 nothing is pinned. */
static void device_pins_workers(void **state) {
  (void)state;
  char *was = getenv("LP_NUM_THREADS") ? strdup(getenv("LP_NUM_THREADS"))
                                       : NULL;
  unsetenv("LP_NUM_THREADS");
  for (int spin = 1; spin >= 0; spin--) {
    if (!spin)
      setenv("DIFFAUTOML_CPU_SPIN", "0", 1);
    dam_device *dev = NULL;
    assert_int_equal(dam_device_open(NULL, &dev), 0);
    uint32_t cores = dev->cpu_workers;
    uint32_t want = spin && cores > 1 ? cores : 0;
    assert_int_equal(dev->pinned_workers, want);
    int threads = 0, spinners = 0;
    cpu_set_t cpus;
    for (int i = 0; i < 500 && spinners < (spin ? (int)cores : 0); i++) {
      usleep(10000); /* a spinner pins itself once it runs */
      count_pinned(&threads, &spinners, &cpus);
    }
    count_pinned(&threads, &spinners, &cpus);
    assert_int_equal(spinners, spin ? (int)cores : 0);
    assert_int_equal(threads - spinners, (int)want);
    assert_int_equal(CPU_COUNT(&cpus), spin ? (int)cores : 0);
    dam_device_close(dev);
  }
  unsetenv("DIFFAUTOML_CPU_SPIN");
  if (was)
    setenv("LP_NUM_THREADS", was, 1);
  free(was);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(workers_pinned_by_layout),
      cmocka_unit_test(workers_pinned_when_named_late),
      cmocka_unit_test(device_pins_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
