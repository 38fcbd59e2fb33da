/* lavapipe's worker threads chosen by timing a run's own steps. */
#include "threads_trial.h"

#include "cpu_threads.h"

#include <stdio.h>
#include <unistd.h>

bool dam__trial_pays(double step_s, double open_s, uint64_t steps_left) {
  return DAM_TRIAL_GAIN * step_s * (double)steps_left > 2 * open_s;
}

/* Whether the run may take a trial: cpu_threads = -1, cpu_threads_trial
 * not "never", $LP_NUM_THREADS unset, a CPU device and several CPUs. */
static bool trial_applies(const dam_run *run) {
  const dam_config *cfg = run->cfg;
  return cfg->cpu_threads < 0 &&
         cfg->cpu_threads_trial != DAM_CONFIG_TRIAL_NEVER &&
         dam_cpu_threads_user() == DAM_CPU_THREADS_UNSET &&
         run->dev->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU &&
         sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

/* One warm-up step, then the median of DAM_TRIAL_STEPS timed ones. */
static int timed_steps(dam_run *run, dam_trial *t, double *median) {
  double s[DAM_TRIAL_STEPS];
  int err = t->step(run, t->ctx);
  for (int i = 0; !err && i < DAM_TRIAL_STEPS; i++) {
    double t0 = dam__now();
    err = t->step(run, t->ctx);
    s[i] = dam__now() - t0;
  }
  for (int i = 1; !err && i < DAM_TRIAL_STEPS; i++)
    for (int j = i; j > 0 && s[j] < s[j - 1]; j--) {
      double x = s[j];
      s[j] = s[j - 1];
      s[j - 1] = x;
    }
  if (!err)
    *median = s[DAM_TRIAL_STEPS / 2];
  return err;
}

/* Close the run and open it again on `threads`; with keep_state it goes
 * on from a checkpoint of where it was (in a file of its own, so that the
 * run's checkpoint stays the last epoch's), its metrics file kept open. */
static int reopen(dam_run *run, int threads, bool keep_state) {
  static const char name[] = "threads_trial.safetensors";
  dam_run was = *run;
  int err = keep_state ? dam__checkpoint_save_as(run, name) : 0;
  if (err)
    return err;
  run->metrics = NULL;
  dam__run_close(run);
  err =
      dam__run_open_threads(run, was.cfg, was.reg, was.data, was.opts, threads);
  run->metrics = was.metrics;
  if (!err && keep_state)
    err = dam__checkpoint_load_from(run, name);
  if (keep_state) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", was.dir, name);
    remove(path);
  }
  if (!err)
    err = dam__run_batchers(run);
  run->t_start = dam__now();
  return err;
}

int dam__threads_trial(dam_run *run, dam_trial *t) {
  t->ran = false;
  if (!trial_applies(run))
    return 0;
  t->threads[0] = run->cpu_threads;
  t->threads[1] = run->cpu_threads == 0 ? -1 : 0;
  int err = timed_steps(run, t, &t->seconds[0]);
  uint64_t taken = 2 * (1 + DAM_TRIAL_STEPS);
  bool weigh =
      t->open_s >= 0 && run->cfg->cpu_threads_trial == DAM_CONFIG_TRIAL_AUTO;
  if (err || (weigh && (t->steps_left < taken ||
                        !dam__trial_pays(t->seconds[0], t->open_s,
                                         t->steps_left - taken))))
    return err;
  t->ran = true;
  err = reopen(run, t->threads[1], t->keep_state);
  if (!err)
    err = timed_steps(run, t, &t->seconds[1]);
  if (!err && t->seconds[0] <= t->seconds[1])
    err = reopen(run, t->threads[0], t->keep_state);
  return err;
}

void dam__trial_describe(const dam_trial *t, char *out, size_t n) {
  char a[32], b[32];
  dam_cpu_threads_describe(t->threads[0], a, sizeof a);
  dam_cpu_threads_describe(t->threads[1], b, sizeof b);
  snprintf(out, n, "%s %.3f s a step, %s %.3f s: kept %s", a, t->seconds[0], b,
           t->seconds[1], t->seconds[0] <= t->seconds[1] ? a : b);
}
