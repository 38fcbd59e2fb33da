/* Device listing and selection; the on-disk pipeline cache. */
#include "harness.h"
#include "cpu_spin.h"
#include "cpu_threads.h"
#include "threads_trial.h"
#include "device.h"
#include "error.h"
#include "kernels.h"
#include "pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const dam_device_info fake[] = {
    {.index = 0, .name = "llvmpipe (LLVM 15.0.6, 256 bits)",
     .type = VK_PHYSICAL_DEVICE_TYPE_CPU},
    {.index = 1, .name = "Intel(R) UHD Graphics 620",
     .type = VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU},
    {.index = 2, .name = "NVIDIA H100 80GB HBM3",
     .type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU},
};

static void pick_prefers_discrete(void **state) {
  (void)state;
  uint32_t i = 99;
  assert_int_equal(dam_device_pick(fake, 3, NULL, &i), 0);
  assert_int_equal(i, 2);
  assert_int_equal(dam_device_pick(fake, 2, "", &i), 0);
  assert_int_equal(i, 1);
  assert_int_equal(dam_device_pick(fake, 1, NULL, &i), 0);
  assert_int_equal(i, 0);
}

static void pick_by_index_and_name(void **state) {
  (void)state;
  uint32_t i = 99;
  assert_int_equal(dam_device_pick(fake, 3, "0", &i), 0);
  assert_int_equal(i, 0);
  assert_int_equal(dam_device_pick(fake, 3, "1", &i), 0);
  assert_int_equal(i, 1);
  assert_int_equal(dam_device_pick(fake, 3, "h100", &i), 0);
  assert_int_equal(i, 2);
  assert_int_equal(dam_device_pick(fake, 3, "LLVMPIPE", &i), 0);
  assert_int_equal(i, 0);
}

static void pick_bad_value_is_an_error(void **state) {
  (void)state;
  uint32_t i = 99;
  assert_int_equal(dam_device_pick(fake, 3, "3", &i), DAM_ENOTFOUND);
  assert_non_null(strstr(dam_last_error(), "no Vulkan device matches '3'"));
  assert_non_null(strstr(dam_last_error(), "2: NVIDIA H100"));
  assert_int_equal(dam_device_pick(fake, 3, "radeon", &i), DAM_ENOTFOUND);
  assert_int_equal(dam_device_pick(fake, 3, "-1", &i), DAM_ENOTFOUND);
  assert_int_equal(dam_device_pick(fake, 0, NULL, &i), DAM_ENODEV);
  assert_int_equal(i, 99);
}

static void spec_precedence(void **state) {
  (void)state;
  const char *was = getenv("DIFFAUTOML_DEVICE"); /* the tests' own device */
  char *saved = was ? strdup(was) : NULL;
  setenv("DIFFAUTOML_DEVICE", "env", 1);
  assert_string_equal(dam_device_spec("flag", "cfg"), "flag");
  assert_string_equal(dam_device_spec(NULL, "cfg"), "env");
  unsetenv("DIFFAUTOML_DEVICE");
  assert_string_equal(dam_device_spec(NULL, "cfg"), "cfg");
  assert_null(dam_device_spec(NULL, NULL));
  if (saved)
    setenv("DIFFAUTOML_DEVICE", saved, 1);
  free(saved);
}

/* The device the tests run on is listed (lavapipe as a CPU device). */
static void lists_the_test_device(void **state) {
  (void)state;
  dam_device_info *infos = NULL;
  uint32_t n = 0, i = 0;
  assert_int_equal(dam_device_list(&infos, &n), 0);
  assert_int_equal(dam_device_pick(infos, n, harness_device_spec(), &i), 0);
  if (!strcmp(harness_device_spec(), "llvmpipe"))
    assert_int_equal(infos[i].type, VK_PHYSICAL_DEVICE_TYPE_CPU);
  free(infos);
}

static void open_by_name_index_and_bad(void **state) {
  (void)state;
  dam_device *d = NULL;
  assert_int_equal(dam_device_open(harness_device_spec(), &d), 0);
  uint32_t index = d->info.index;
  /* tensors in host-visible memory on a CPU (lavapipe: one memory type),
   * unless a discrete GPU's paths are asked for; in device-local memory on
   * a discrete GPU */
  if (d->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    assert_true(d->uma == !d->discrete_paths);
  if (d->info.type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
    assert_false(d->uma);
  /* the CPU paths' shaders can store through 64-bit integers: only with
   * shaderInt64 (lavapipe has it) */
  if (d->cpu_workers)
    assert_true(d->int64);
  if (!strcmp(harness_device_spec(), "llvmpipe"))
    assert_true(d->int64 && (d->cpu_workers != 0) == !d->discrete_paths);
  if (!d->cpu_workers)
    assert_false(d->wide_stores);
  dam_device_close(d);
  char spec[16];
  snprintf(spec, sizeof spec, "%u", index);
  assert_int_equal(dam_device_open(spec, &d), 0);
  assert_int_equal(d->info.index, index);
  dam_device_close(d);
  d = NULL;
  assert_int_equal(dam_device_open("no-such-gpu", &d), DAM_ENOTFOUND);
  assert_null(d);
  assert_int_equal(dam_device_open("42", &d), DAM_ENOTFOUND);
}

/* DIFFAUTOML_WIDE_STORES 0 or 1 sets the CPU paths' store width; any
 * other value leaves the host's choice. */
static void wide_stores_follow_the_environment(void **state) {
  (void)state;
  const char *was = getenv("DIFFAUTOML_WIDE_STORES");
  char *saved = was ? strdup(was) : NULL;
  const char *values[] = {"0", "1", "yes"};
  bool host = false;
  for (int i = 2; i >= 0; i--) {
    setenv("DIFFAUTOML_WIDE_STORES", values[i], 1);
    dam_device *d = NULL;
    assert_int_equal(dam_device_open(harness_device_spec(), &d), 0);
    if (i == 2)
      host = d->wide_stores;
    else if (d->cpu_workers)
      assert_int_equal(d->wide_stores, i == 1);
    else
      assert_false(d->wide_stores || host);
    dam_device_close(d);
  }
  if (saved)
    setenv("DIFFAUTOML_WIDE_STORES", saved, 1);
  else
    unsetenv("DIFFAUTOML_WIDE_STORES");
  free(saved);
}

static void cpu_threads_pick_and_apply(void **state) {
  (void)state;
  const uint64_t small = DAM_CPU_INLINE_FLOATS - 1;
  assert_int_equal(dam_cpu_threads_pick(-1, small, 2), 0);
  assert_int_equal(dam_cpu_threads_pick(-1, small, 1), 0);
  assert_int_equal(dam_cpu_threads_pick(-1, small, 3), -1);
  assert_int_equal(dam_cpu_threads_pick(-1, DAM_CPU_INLINE_FLOATS, 2), -1);
  assert_int_equal(dam_cpu_threads_pick(0, 1ull << 40, 32), 0);
  assert_int_equal(dam_cpu_threads_pick(3, 1, 2), 3);
  const char *was = getenv("LP_NUM_THREADS");
  if (was) { /* the user's setting wins */
    assert_int_equal(dam_cpu_threads_apply(5), atoi(was));
    assert_string_equal(getenv("LP_NUM_THREADS"), was);
    return;
  }
  assert_int_equal(dam_cpu_threads_apply(0), 0);
  assert_string_equal(getenv("LP_NUM_THREADS"), "0");
  assert_int_equal(dam_cpu_threads_apply(-1), -1);
  assert_null(getenv("LP_NUM_THREADS"));
}

static void threads_trial_pays(void **state) {
  (void)state;
  /* a tenth of 1000 steps of 0.1 s: 10 s, two reopens of 4.9 s but not of
   * 5.1 s */
  assert_true(dam__trial_pays(0.1, 4.9, 1000));
  assert_false(dam__trial_pays(0.1, 5.1, 1000));
  assert_false(dam__trial_pays(0.1, 0.001, 0));
}

/* This process's spinner threads at nice 19: how many, and how many of
 * those are running or runnable (state R). */
static void spinner_threads(int *all, int *running) {
  *all = *running = 0;
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d));) {
    pid_t tid = (pid_t)atoi(e->d_name);
    char path[64], stat[512] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    errno = 0;
    if (tid <= 0 || getpriority(PRIO_PROCESS, (id_t)tid) != 19 || errno)
      continue;
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(stat, 1, sizeof stat - 1, f);
      stat[n] = 0;
      fclose(f);
    }
    const char *end = strrchr(stat, ')'); /* "tid (name) S ..." */
    if (!strstr(stat, "(" DAM_CPU_SPIN_NAME ")"))
      continue;
    (*all)++;
    *running += end && end[2] == 'R';
  }
  closedir(d);
}

/* Poll spinner_threads for up to 5 s until `all` and `running` are seen. */
static void expect_spinners(int all, int running) {
  int a = -1, r = -1;
  for (int i = 0; i < 500; i++) {
    spinner_threads(&a, &r);
    if (a == all && r == running)
      return;
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  fail_msg("nice-19 threads: %d, %d running; expected %d, %d", a, r, all,
           running);
}

/* The spinners take nice 19, run only while busy and are joined by
 * stop; DIFFAUTOML_CPU_SPIN=0 and 0 threads start none.  A CPU device gets
 * them when lavapipe has worker threads, and a submit runs them until
 * its wait. */
static void cpu_spinners(void **state) {
  (void)state;
  assert_null(dam_cpu_spin_start(0));
  setenv("DIFFAUTOML_CPU_SPIN", "0", 1);
  assert_null(dam_cpu_spin_start(2));
  unsetenv("DIFFAUTOML_CPU_SPIN");
  expect_spinners(0, 0);
  dam_cpu_spin *s = dam_cpu_spin_start(2);
  assert_non_null(s);
  expect_spinners(2, 0);
  dam_cpu_spin_busy(s, true);
  expect_spinners(2, 2);
  dam_cpu_spin_busy(s, false);
  expect_spinners(2, 0);
  dam_cpu_spin_busy(s, true);
  dam_cpu_spin_stop(s);
  expect_spinners(0, 0);
  dam_cpu_spin_busy(NULL, true);
  dam_cpu_spin_stop(NULL);

  char *was = getenv("LP_NUM_THREADS") ? strdup(getenv("LP_NUM_THREADS"))
                                       : NULL;
  for (int workers = 0; workers < 2; workers++) {
    if (workers)
      unsetenv("LP_NUM_THREADS");
    else
      setenv("LP_NUM_THREADS", "0", 1);
    dam_device *dev = NULL;
    assert_int_equal(dam_device_open(NULL, &dev), 0);
    bool spins = dev->cpu_workers && workers;
    assert_int_equal(dev->spin != NULL, spins);
    dam_exec *ex = NULL;
    assert_int_equal(dam_exec_create(dev, &ex), 0);
    dam_shape s4 = dam_shape4(1 << 20, 0, 0, 0);
    dam_tensor *t = dam_tensor_new(ex, &s4, false);
    assert_non_null(t);
    for (int i = 0; i < 64; i++)
      assert_int_equal(dam_k_fill(ex, t, (float)i), 0);
    assert_int_equal(dam_exec_submit(ex), 0);
    if (spins)
      expect_spinners((int)dev->cpu_workers, (int)dev->cpu_workers);
    assert_int_equal(dam_exec_end_step(ex), 0);
    expect_spinners(spins ? (int)dev->cpu_workers : 0, 0);
    dam_exec_destroy(ex);
    dam_device_close(dev);
    expect_spinners(0, 0);
  }
  if (was)
    setenv("LP_NUM_THREADS", was, 1);
  else
    unsetenv("LP_NUM_THREADS");
  free(was);
}

static void pipeline_cache_persists(void **state) {
  (void)state;
  char dir[] = "/tmp/dam-cache-XXXXXX";
  assert_non_null(mkdtemp(dir));
  setenv("DIFFAUTOML_CACHE_DIR", dir, 1);
  harness *h = NULL;
  assert_int_equal(harness_setup((void **)&h), 0);
  char path[4096];
  snprintf(path, sizeof path, "%s", dam_pipeline_cache_path(h->dev));
  assert_non_null(strstr(path, dir));
  dam_tensor *t = harness_tensor(h, dam_shape4(5, 0, 0, 0), NULL);
  assert_int_equal(dam_k_fill(h->ex, t, 1.0f), 0);
  assert_int_equal(harness_teardown((void **)&h), 0);
  assert_int_equal(access(path, R_OK), 0);
  /* A second open reads it back without complaint. */
  assert_int_equal(harness_setup((void **)&h), 0);
  assert_int_equal(harness_teardown((void **)&h), 0);
  unlink(path);
  rmdir(dir);
  unsetenv("DIFFAUTOML_CACHE_DIR");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pick_prefers_discrete),
      cmocka_unit_test(pick_by_index_and_name),
      cmocka_unit_test(pick_bad_value_is_an_error),
      cmocka_unit_test(spec_precedence),
      cmocka_unit_test(lists_the_test_device),
      cmocka_unit_test(open_by_name_index_and_bad),
      cmocka_unit_test(wide_stores_follow_the_environment),
      cmocka_unit_test(cpu_threads_pick_and_apply),
      cmocka_unit_test(threads_trial_pays),
      cmocka_unit_test(cpu_spinners),
      cmocka_unit_test(pipeline_cache_persists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
