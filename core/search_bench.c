/*
 * `diffautoml bench step`: the search engine's own steps, timed.  The run
 * is set up exactly as `diffautoml search` sets it up, on the config's
 * real data; the warm-up steps build every pipeline, then the timed steps
 * run back to back, each ending in its one wait for the device.
 */
#include "search_run.h"

#include "cpu_threads.h"
#include "error.h"
#include "threads_trial.h"

#include <stdio.h>

typedef int (*step_fn)(dam_run *run, dam_step_result *r);

static step_fn step_of(dam_bench_kind kind) {
  return kind == DAM_BENCH_WEIGHT ? dam__weight_step
         : kind == DAM_BENCH_ARCH ? dam__arch_step
                                  : dam__search_step;
}

static uint32_t images_per_step(const dam_config *cfg, dam_bench_kind kind) {
  int64_t val = cfg->train.val_batch_size;
  return (uint32_t)(kind == DAM_BENCH_ARCH && val ? val
                                                  : cfg->train.batch_size);
}

static int take_steps(dam_run *run, step_fn step, uint32_t n) {
  dam_step_result r;
  int err = 0;
  for (uint32_t i = 0; !err && i < n; i++, run->step++)
    err = step(run, &r);
  return err;
}

static int trial_step(dam_run *run, void *ctx) {
  return take_steps(run, *(step_fn *)ctx, 1);
}

static void measure(dam_run *run, const dam_exec_stats *s0, double seconds,
                    uint32_t steps, uint32_t images, dam_bench_result *res) {
  const dam_exec *ex = run->ex;
  double n = steps;
  res->batch = images;
  res->seconds = seconds;
  res->images_per_s = seconds > 0 ? images * n / seconds : 0;
  res->peak_bytes = ex->params.bytes_used + ex->arena.bytes_peak +
                    ex->staging.bytes_peak;
  res->dispatches = (double)(ex->stats.dispatches - s0->dispatches) / n;
  res->barriers = (double)(ex->stats.barriers - s0->barriers) / n;
  res->submits = (double)(ex->stats.submits - s0->submits) / n;
  res->waits = (double)(ex->stats.waits - s0->waits) / n;
  const dam_device_info *d = &ex->dev->info;
  char threads[32] = "";
  if (d->type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    dam_cpu_threads_describe(run->cpu_threads, threads, sizeof threads);
  snprintf(res->device, sizeof res->device, "%.200s%s%s", d->name,
           threads[0] ? ", " : "", threads);
}

int dam_search_bench(const dam_config *cfg, const dam_registry *reg,
                     const dam_search_data *data, dam_bench_kind kind,
                     const dam_bench_opts *o, dam_bench_result *res) {
  dam_config c = *cfg;
  if (kind == DAM_BENCH_ARCH)
    c.nas.method = DAM_CONFIG_NAS_DARTS;
  dam_search_opts so = {.device = o->device, .out = o->out};
  dam_run run;
  step_fn step = step_of(kind);
  int err = dam__run_open(&run, &c, reg, data, &so);
  if (!err)
    err = dam__run_batchers(&run);
  dam_trial trial = {.step = trial_step, .ctx = &step, .open_s = -1};
  if (!err)
    err = dam__threads_trial(&run, &trial);
  if (!err && trial.ran)
    dam__trial_describe(&trial, res->threads_trial,
                        sizeof res->threads_trial);
  if (!err)
    err = take_steps(&run, step, o->warmup);
  if (!err && o->steps == 0)
    err = dam_fail(DAM_EINVAL, "bench: no steps to time");
  if (!err) {
    dam_exec *ex = run.ex;
    dam_exec_profile_reset(ex);
    ex->arena.bytes_peak = ex->arena.bytes_used;
    ex->staging.bytes_peak = ex->staging.bytes_used;
    dam_exec_stats s0 = ex->stats;
    double t0 = dam__now();
    err = take_steps(&run, step, o->steps);
    if (!err)
      measure(&run, &s0, dam__now() - t0, o->steps,
              images_per_step(&c, kind), res);
    if (!err && o->profile)
      dam_exec_profile_print(ex, o->out, o->steps);
  }
  dam__run_close(&run);
  return err;
}
