/*
 * The search run (search.h): setting up the supernet, the architecture
 * relaxation, the DA policy, the HPO modules and the batchers from the
 * config; the memory estimate; the search phase (until every ISTA node is
 * frozen or the search epochs run out), the final phase on the same
 * weights, the test evaluation and the outputs.  The step itself is in
 * search_step.c, checkpoints in checkpoint.c, outputs in run_outputs.c.
 */
#include "search_run.h"

#include "error.h"
#include "genotype.h"
#include "kernels.h"
#include "nn.h"
#include "autograd.h"
#include "cpu_threads.h"
#include "threads_trial.h"
#include "loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAM__MIB (1024.0 * 1024.0)

static int ops_setup(dam_run *run, const dam_registry *reg) {
  const dam_config *cfg = run->cfg;
  const dam_strlist *ops = &cfg->search_space.ops;
  bool none = cfg->nas.method == DAM_CONFIG_NAS_DARTS &&
              cfg->nas.darts.include_none;
  for (uint32_t i = 0; i < ops->n; i++)
    none = none && strcmp(ops->v[i], "none") != 0;
  uint32_t n = ops->n + none;
  run->op_descs = calloc(n, sizeof *run->op_descs);
  run->op_params = calloc(n, sizeof *run->op_params);
  if (!run->op_descs || !run->op_params)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    const char *name = i < ops->n ? ops->v[i] : "none";
    const dam_desc_header *h = dam_registry_find(reg, DAM_KIND_OP, name, NULL);
    if (!h)
      return dam_fail(DAM_ENOTFOUND, "op %s: no such op plugin", name);
    run->op_descs[i] = (const dam_op_desc *)h;
    if (!(run->op_params[i] = calloc(1, h->params_size ? h->params_size : 1)))
      return dam_fail(DAM_ENOMEM, "out of memory");
    int err = dam_config_fill_params(cfg, h, run->op_params[i]);
    if (err)
      return err;
  }
  const dam_dataset *d = run->data->train;
  run->net_desc = (dam_supernet_desc){
      d->channels, d->height, d->width, d->classes,
      (uint32_t)cfg->search_space.cells, (uint32_t)cfg->search_space.channels,
      (uint32_t)cfg->search_space.nodes,
      (uint32_t)cfg->search_space.stem_multiplier,
      (uint32_t)cfg->search_space.stem_stride, cfg->search_space.auxiliary,
      n, run->op_descs, (const void *const *)run->op_params};
  return 0;
}

static int arch_setup(dam_run *run) {
  const dam_config *cfg = run->cfg;
  uint32_t n = run->net_desc.n_ops;
  const char **names = calloc(n, sizeof *names);
  if (!names)
    return dam_fail(DAM_ENOMEM, "out of memory");
  int32_t none = -1;
  for (uint32_t i = 0; i < n; i++) {
    names[i] = run->op_descs[i]->hdr.name;
    if (strcmp(names[i], "none") == 0)
      none = (int32_t)i;
  }
  dam_arch_settings s = {
      .method = cfg->nas.method == DAM_CONFIG_NAS_ISTA ? DAM_ARCH_ISTA
                                                       : DAM_ARCH_DARTS,
      .nodes = run->net_desc.nodes,
      .multiplier = run->net_desc.nodes,
      .n_ops = n,
      .op_names = names,
      .none_op = none,
      .proj_dims = (uint32_t)cfg->nas.ista.proj_dims,
      .sparseness = (uint32_t)cfg->nas.ista.sparseness,
      .dist_limit = cfg->nas.ista.dist_limit,
      .lasso_lambda = cfg->nas.ista.lasso_lambda,
      .param_budget = cfg->nas.ista.param_budget_mb,
      .code_std = cfg->nas.ista.code_std,
      .params_of = dam_supernet_params_of,
      .params_ctx = run->net,
      .lr = cfg->nas.arch_lr,
      .beta1 = cfg->nas.arch_beta1,
      .beta2 = cfg->nas.arch_beta2,
      .wd = cfg->nas.arch_wd,
      .seed = (uint64_t)cfg->seed ^ 0xa5c3u,
  };
  int err = dam_arch_create(&s, &run->arch);
  free(names);
  return err;
}

static int da_setup(dam_run *run, const dam_registry *reg) {
  const dam_config *cfg = run->cfg;
  if (!cfg->da.enabled)
    return 0;
  dam_da_settings s = {cfg->da.ops.n,         cfg->da.temperature,
                       cfg->da.lr,            cfg->da.momentum,
                       cfg->da.magnitude_search, cfg->da.learn_magnitude,
                       cfg->da.magnitude_lr,  (uint64_t)cfg->seed ^ 0xda5eu};
  int err = dam_da_policy_init(&run->policy, &s);
  run->augs = calloc(cfg->da.ops.n, sizeof *run->augs);
  if (!err && !run->augs)
    err = dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; !err && i < cfg->da.ops.n; i++) {
    const dam_desc_header *h =
        dam_registry_find(reg, DAM_KIND_AUGMENT, cfg->da.ops.v[i], NULL);
    void *block = h ? calloc(1, h->params_size ? h->params_size : 1) : NULL;
    if (!h)
      err = dam_fail(DAM_ENOTFOUND, "augment %s: no such plugin",
                     cfg->da.ops.v[i]);
    else if (!block)
      err = dam_fail(DAM_ENOMEM, "out of memory");
    else if (!(err = dam_config_fill_params(cfg, h, block)))
      err = dam_augment_create((const dam_augment_desc *)h, block,
                               &run->augs[i]);
    free(block);
    run->n_augs += !err;
  }
  return err;
}

static int hpo_setup(dam_run *run, const dam_registry *reg) {
  const dam_config *cfg = run->cfg;
  if (!cfg->hpo.enabled)
    return 0;
  run->hpo = calloc(cfg->hpo.modules.n, sizeof *run->hpo);
  if (!run->hpo)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < cfg->hpo.modules.n; i++) {
    const dam_desc_header *h =
        dam_registry_find(reg, DAM_KIND_HPO, cfg->hpo.modules.v[i], NULL);
    if (!h)
      return dam_fail(DAM_ENOTFOUND, "hpo %s: no such plugin",
                      cfg->hpo.modules.v[i]);
    int err = dam_hpo_create_config(cfg, (const dam_hpo_desc *)h,
                                    &run->hpo[run->n_hpo]);
    if (err)
      return err;
    run->n_hpo++;
  }
  return 0;
}

/* Normalization (x - mean) / std as an inference batch norm. */
static int norm_setup(dam_run *run) {
  uint32_t c = run->data->train->channels;
  dam_shape s = dam_shape4(c, 0, 0, 0);
  float var[4];
  for (uint32_t i = 0; i < c; i++)
    var[i] = fmaxf(run->data->std[i] * run->data->std[i] - 1e-5f, 1e-12f);
  run->norm_mean = dam_tensor_new(run->ex, &s, true);
  run->norm_var = dam_tensor_new(run->ex, &s, true);
  if (!run->norm_mean || !run->norm_var)
    return DAM_ENOMEM;
  int err = dam_tensor_upload(run->ex, run->norm_mean, run->data->mean);
  return err ? err : dam_tensor_upload(run->ex, run->norm_var, var);
}

int dam__run_batchers(dam_run *run) {
  const dam_config *cfg = run->cfg;
  const dam_search_data *d = run->data;
  uint32_t bs = (uint32_t)cfg->train.batch_size;
  uint32_t epoch = run->search_epochs_done + run->epoch;
  dam_batcher_opts t = {.batch_size = bs,
                        .pad_partial =
                            cfg->data.partial_batch == DAM_CONFIG_PARTIAL_PAD,
                        .shuffle = cfg->data.shuffle,
                        .seed = (uint64_t)cfg->seed,
                        .start_epoch = epoch,
                        .start_index = run->step_in_epoch};
  int err = dam_batcher_create(run->ex, d->train, d->train_idx, d->n_train,
                               &t, &run->train);
  if (err || !d->n_val)
    return err;
  if (cfg->train.val_batch_size)
    bs = (uint32_t)cfg->train.val_batch_size;
  dam_batcher_opts v = {.batch_size = bs < d->n_val ? bs : d->n_val,
                        .shuffle = true,
                        .seed = (uint64_t)cfg->seed ^ 0x7a11u,
                        .start_epoch = run->val_epoch,
                        .start_index = run->val_index};
  return dam_batcher_create(run->ex, d->train, d->val_idx, d->n_val, &v,
                            &run->val);
}

/* ---- the estimate ---- */

/* Forward and backward of a random batch of n through the search-phase
 * net; *peak receives the step arena's high-water mark. */
static int probe_pass(dam_run *run, uint32_t n, bool training,
                      uint64_t *peak, uint64_t *flops) {
  const dam_dataset *d = run->data->train;
  dam_exec *ex = run->ex;
  dam_step_terms st;
  dam_shape xs = dam_shape4(n, d->channels, d->height, d->width);
  dam_shape ls = dam_shape4(n, 0, 0, 0);
  ex->arena.bytes_peak = ex->arena.bytes_used;
  int err = dam__terms_build(run, &st, true);
  dam_tensor *x = err ? NULL : dam_tensor_new(ex, &xs, false);
  dam_tensor *labels = x ? dam_tensor_new(ex, &ls, false) : NULL;
  if (!err && (!x || !labels))
    err = DAM_ENOMEM;
  if (!err)
    err = dam_tensor_init_uniform(ex, x, -1.0f, 1.0f);
  if (!err)
    err = dam_k_fill(ex, labels, 0.0f);
  uint64_t f0 = ex->stats.flops;
  dam_supernet_pass p = {{st.terms[0], st.terms[1]}, {st.wt[0], st.wt[1]},
                         {st.n[0], st.n[1]}, training, 0.0f, &run->drop_rng};
  dam_tensor *aux = NULL, *y = NULL, *l = NULL;
  if (!err && (y = dam_supernet_forward(ex, run->net, x, &p, &aux)))
    l = dam_softmax_xent(ex, y, labels);
  *flops = ex->stats.flops - f0;
  if (!err && !l)
    err = DAM_EINVAL;
  if (!err && training)
    err = dam_backward_release(ex, dam_sum(ex, l), NULL, 0);
  if (!err)
    err = dam_exec_wait(ex);
  *peak = ex->arena.bytes_peak;
  dam__terms_free(&st);
  int end = dam_exec_end_step(ex);
  return err ? err : end;
}

/* Device memory a step of batch B takes, from probes at batches 1 and 2
 * (activations grow linearly with the batch); the untrained tensors are
 * restored afterwards, so probing leaves no trace. */
static int estimate(dam_run *run, double *bytes, double *flops) {
  uint32_t n_table;
  dam_net_tensor *table = dam_supernet_tensors(run->net, &n_table);
  dam_tensor **saved = calloc(n_table, sizeof *saved);
  int err = saved ? 0 : dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; !err && i < n_table; i++)
    if (!table[i].buf) {
      saved[i] = dam_tensor_new(run->ex, &table[i].t->shape, true);
      err = saved[i] ? dam_k_copy(run->ex, table[i].t, saved[i]) : DAM_ENOMEM;
    }
  uint64_t p1 = 0, p2 = 0, f1 = 0, f2 = 0;
  if (!err)
    err = probe_pass(run, 1, true, &p1, &f1);
  if (!err)
    err = probe_pass(run, 2, true, &p2, &f2);
  for (uint32_t i = 0; saved && i < n_table; i++)
    if (saved[i]) {
      if (!err)
        err = dam_k_copy(run->ex, saved[i], table[i].t);
      dam_tensor_free(run->ex, saved[i]);
    }
  free(saved);
  if (err)
    return err;
  const dam_config *cfg = run->cfg;
  double b = (double)cfg->train.batch_size;
  double bv = cfg->train.val_batch_size ? (double)cfg->train.val_batch_size : b;
  bool val = cfg->hpo.enabled || cfg->nas.method == DAM_CONFIG_NAS_DARTS;
  /* each pass's backward releases its activations, so the validation (and
   * DARTS' second-order) passes reuse the training pass's memory; DA keeps
   * ~3 copies of the input batch */
  const dam_dataset *d = run->data->train;
  double input = b * d->channels * d->height * d->width * 4.0;
  double pass = (val && bv > b ? bv : b) - 1;
  *bytes = (double)run->ex->params.bytes_used +
           (double)p1 + (double)(p2 - p1) * pass + 4 * input;
  *flops = (double)f1;
  return dam_exec_wait(run->ex);
}

int dam__flops_per_image(dam_run *run, double *flops) {
  uint64_t peak, f;
  int err = probe_pass(run, 1, false, &peak, &f);
  *flops = (double)f;
  return err;
}

static double params_millions(dam_run *run) {
  uint32_t n;
  dam_net_tensor *t = dam_supernet_tensors(run->net, &n);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++)
    if (t[i].buf)
      total += t[i].t->numel;
  return (double)total / 1e6;
}

static int report_estimate(dam_run *run) {
  double bytes, flops;
  int err = estimate(run, &bytes, &flops);
  if (err)
    return err;
  dam_genotype g;
  dam_arch_genotype(run->arch, &g);
  FILE *out = run->opts->out;
  double have = (double)run->dev->info.memory_bytes;
  fprintf(out, "%-13s %.3f M in the supernet, %.3f M in the derived network\n",
          "parameters", params_millions(run),
          dam_supernet_params_of(&g, run->net));
  fprintf(out, "%-13s %.2f MFLOPs per image (forward of the ops evaluated)\n",
          "flops", flops / 1e6);
  fprintf(out, "%-13s %.1f MiB for batch %lld (device: %.0f MiB)\n",
          "memory", bytes / DAM__MIB, (long long)run->cfg->train.batch_size,
          have / DAM__MIB);
  if (have > 0 && bytes > have) {
    char where[256];
    return dam_fail(DAM_ECONFIG, "%s: train.batch_size = %lld needs about "
                    "%.0f MiB of device memory, the device has %.0f MiB",
                    dam_config_where(run->cfg, "train.batch_size", where,
                                     sizeof where),
                    (long long)run->cfg->train.batch_size, bytes / DAM__MIB,
                    have / DAM__MIB);
  }
  return 0;
}

/* ---- phases ---- */

/* Steps left in the current phase at `per_epoch` an epoch, ISTA's early
 * end of the search not foreseen. */
static uint64_t phase_steps_left(const dam_run *run, uint32_t per_epoch) {
  const dam_config *cfg = run->cfg;
  uint64_t epochs_left =
      run->phase == DAM_PHASE_SEARCH
          ? (uint64_t)(cfg->train.search_epochs - run->search_epochs_done)
          : (uint64_t)(cfg->train.final_epochs - run->epoch);
  return epochs_left * per_epoch - run->step_in_epoch;
}

/* Steps left in the run, as phase_steps_left counts them. */
static uint64_t steps_left(const dam_run *run, uint32_t per_epoch) {
  uint64_t final = run->phase == DAM_PHASE_SEARCH
                       ? (uint64_t)run->cfg->train.final_epochs * per_epoch
                       : 0;
  return phase_steps_left(run, per_epoch) + final;
}

static void progress(dam_run *run, const dam_step_result *r, double ips,
                     uint32_t per_epoch) {
  FILE *out = run->opts->out;
  bool tty = isatty(fileno(out));
  if (!tty && run->step % (uint64_t)run->cfg->train.log_every != 0 &&
      run->step_in_epoch != per_epoch)
    return;
  const dam_config *cfg = run->cfg;
  bool search = run->phase == DAM_PHASE_SEARCH;
  double eta = ips > 0 ? (double)steps_left(run, per_epoch) *
                             (double)cfg->train.batch_size / ips
                       : 0;
  fprintf(out,
          "%s%-6s epoch %u/%lld step %u/%u loss %.4f acc %.1f%% lr %.4g "
          "%.0f img/s ETA %dm%02ds%s",
          tty ? "\r" : "", search ? "search" : "final",
          (search ? run->search_epochs_done : run->epoch) + 1,
          (long long)(search ? cfg->train.search_epochs
                             : cfg->train.final_epochs),
          run->step_in_epoch, per_epoch, r->loss, 100 * r->acc, r->lr, ips,
          (int)(eta / 60), (int)eta % 60, tty ? "\033[K" : "\n");
  fflush(out);
}

/* One training step and its bookkeeping: epoch sums, metrics line,
 * progress.  1 when interrupted. */
static int one_step(dam_run *run) {
  uint32_t per_epoch = dam_batcher_per_epoch(run->train);
  dam_step_result r;
  double t0 = dam__now();
  int err = dam__search_step(run, &r);
  if (err)
    return err;
  double ips = run->cfg->train.batch_size / (dam__now() - t0);
  run->step++;
  run->step_in_epoch++;
  run->sum_loss += r.loss;
  run->sum_acc += r.acc;
  run->sum_val_acc += isfinite(r.val_acc) ? r.val_acc : 0;
  run->n_steps_epoch++;
  dam__metrics_step(run, &r, ips);
  progress(run, &r, ips, per_epoch);
  return run->opts->interrupt && *run->opts->interrupt ? 1 : 0;
}

static int trial_step(dam_run *run, void *ctx) {
  (void)ctx;
  return one_step(run);
}

/* Time lavapipe's threads on this epoch's next steps (threads_trial.h)
 * when a trial is pending and the epoch has the steps for it; it is then
 * no longer pending.  Each phase gets its own: the final phase's pruned
 * net may run faster on the other choice. */
static int threads_trial(dam_run *run, dam_trial **pending) {
  uint32_t per_epoch = dam_batcher_per_epoch(run->train);
  dam_trial *t = *pending;
  if (!t || per_epoch - run->step_in_epoch < 2 * (1 + DAM_TRIAL_STEPS))
    return 0;
  *pending = NULL;
  t->steps_left = phase_steps_left(run, per_epoch);
  int err = dam__threads_trial(run, t);
  if (t->ran && !err) {
    FILE *out = run->opts->out;
    char line[192];
    dam__trial_describe(t, line, sizeof line);
    fprintf(out, "%s%-13s %s phase, timed %d steps on each: %s\n",
            isatty(fileno(out)) ? "\n" : "", "threads",
            run->phase == DAM_PHASE_SEARCH ? "search" : "final",
            DAM_TRIAL_STEPS, line);
  }
  return err;
}

/* Run the rest of the current epoch, its first steps perhaps a trial of
 * lavapipe's threads.  1 when interrupted. */
static int run_epoch(dam_run *run, dam_trial **trial) {
  int err = threads_trial(run, trial);
  while (!err && run->step_in_epoch < dam_batcher_per_epoch(run->train))
    err = one_step(run);
  return err;
}

static void epoch_reset(dam_run *run) {
  run->step_in_epoch = 0;
  run->sum_loss = run->sum_acc = run->sum_val_acc = 0;
  run->n_steps_epoch = 0;
}

/* Freeze the architecture, keep only the chosen ops, raise the
 * augmentation magnitude. */
static void start_final(dam_run *run) {
  const dam_config *cfg = run->cfg;
  dam_arch_freeze_all(run->arch);
  dam_arch_genotype(run->arch, &run->genotype);
  dam_supernet_prune(run->net, &run->genotype);
  run->phase = DAM_PHASE_FINAL;
  run->epoch = 0;
  if (cfg->da.enabled) {
    double up = cfg->da.magnitude_final - cfg->da.magnitude_search;
    run->policy.s.max_level = cfg->da.magnitude_final;
    for (uint32_t t = 0; t < run->policy.s.k; t++)
      run->policy.level[t] = fmin(8.0, fmax(0.0, run->policy.level[t] + up));
  }
}

static int interrupted(dam_run *run) {
  int err = dam__checkpoint_save(run);
  if (err)
    return err;
  fprintf(run->opts->out, "%sinterrupted at step %llu: checkpoint saved; "
          "continue with: diffautoml search --resume %s\n",
          isatty(fileno(run->opts->out)) ? "\n" : "",
          (unsigned long long)run->step, run->dir);
  return 1;
}

static int phases(dam_run *run, dam_trial *trial) {
  const dam_config *cfg = run->cfg;
  dam_trial *pending = trial;
  int err = 0;
  while (!err && run->phase == DAM_PHASE_SEARCH) {
    if (run->search_epochs_done >= cfg->train.search_epochs ||
        dam_arch_done(run->arch)) {
      start_final(run);
      break;
    }
    if ((err = run_epoch(run, &pending)))
      return err == 1 ? interrupted(run) : err;
    uint32_t newly = 0;
    dam_arch_epoch_end(run->arch, &newly);
    dam__metrics_epoch(run);
    run->search_epochs_done++;
    epoch_reset(run);
    if (run->search_epochs_done >= cfg->train.search_epochs ||
        dam_arch_done(run->arch))
      start_final(run);
    err = dam__checkpoint_save(run);
  }
  pending = trial; /* the final phase's own */
  while (!err && run->epoch < cfg->train.final_epochs) {
    if ((err = run_epoch(run, &pending)))
      return err == 1 ? interrupted(run) : err;
    dam__metrics_epoch(run);
    run->epoch++;
    epoch_reset(run);
    err = dam__checkpoint_save(run);
  }
  return err;
}

void dam__run_close(dam_run *run) {
  dam_batcher_free(run->train);
  dam_batcher_free(run->val);
  if (run->metrics)
    fclose(run->metrics);
  dam_supernet_free(run->net);
  dam_arch_free(run->arch);
  for (uint32_t i = 0; i < run->n_augs; i++)
    dam_augment_destroy(run->augs[i]);
  free(run->augs);
  for (uint32_t i = 0; i < run->n_hpo; i++)
    dam_hpo_destroy(run->hpo[i]);
  free(run->hpo);
  dam_da_policy_free(&run->policy);
  for (uint32_t i = 0; run->op_params && i < run->net_desc.n_ops; i++)
    free(run->op_params[i]);
  free(run->op_params);
  free(run->op_descs);
  dam_exec_destroy(run->ex);
  dam_device_close(run->dev);
}

int dam__run_open(dam_run *run, const dam_config *cfg,
                  const dam_registry *reg, const dam_search_data *data,
                  const dam_search_opts *o) {
  const dam_dataset *t = data->train;
  return dam__run_open_threads(
      run, cfg, reg, data, o,
      dam_cpu_threads_for(cfg, t->height, t->width, cfg->train.batch_size));
}

int dam__run_open_threads(dam_run *run, const dam_config *cfg,
                          const dam_registry *reg,
                          const dam_search_data *data,
                          const dam_search_opts *o, int threads) {
  *run = (dam_run){.cfg = cfg, .data = data, .opts = o, .reg = reg,
                   .dir = cfg->output_dir,
                   .drop_rng = (uint64_t)cfg->seed ^ 0xd7u};
  run->cpu_threads = dam_cpu_threads_apply(threads);
  int err = dam_device_open(o->device, &run->dev);
  if (!err)
    err = dam_exec_create(run->dev, &run->ex);
  if (!err) {
    dam_exec_seed(run->ex, (uint64_t)cfg->seed);
    err = ops_setup(run, reg);
  }
  if (!err)
    err = dam_supernet_create(run->ex, &run->net_desc, NULL, &run->net);
  if (!err)
    err = arch_setup(run);
  if (!err)
    err = da_setup(run, reg);
  if (!err)
    err = hpo_setup(run, reg);
  if (!err)
    err = norm_setup(run);
  return err;
}

static int open_metrics(dam_run *run) {
  char path[1100];
  snprintf(path, sizeof path, "%s/metrics.jsonl", run->dir);
  if (run->opts->resume && truncate(path, (off_t)run->metrics_bytes) != 0)
    return dam_fail(DAM_EIO, "%s: cannot truncate to the checkpoint's %llu "
                    "bytes", path, (unsigned long long)run->metrics_bytes);
  if (!(run->metrics = fopen(path, run->opts->resume ? "a" : "w")))
    return dam_fail(DAM_EIO, "%s: cannot write", path);
  return 0;
}

int dam_search_run(const dam_config *cfg, const dam_registry *reg,
                   const dam_search_data *data, const dam_search_opts *o) {
  dam_run run;
  double t0 = dam__now();
  int err = dam__run_open(&run, cfg, reg, data, o);
  if (!err)
    err = report_estimate(&run);
  dam_trial trial = {.step = trial_step, .keep_state = true,
                     .open_s = dam__now() - t0};
  if (err || o->dry_run)
    goto out;
  if (o->on_ready && (err = o->on_ready(o->ctx)))
    goto out;
  if (o->resume && (err = dam__checkpoint_load(&run)))
    goto out;
  if ((err = open_metrics(&run)) || (err = dam__run_batchers(&run)))
    goto out;
  run.t_start = dam__now();
  err = phases(&run, &trial);
  if (err != 1 && isatty(fileno(o->out)))
    fputc('\n', o->out); /* end the live progress line */
  if (err)
    goto out;
  double acc, loss;
  if (!(err = dam__evaluate(&run, data->test, &acc, &loss)))
    err = dam__write_outputs(&run, acc, loss);
out:
  if (run.ex && run.ex->profile)
    dam_exec_profile_print(run.ex, o->out, 1);
  dam__run_close(&run);
  return err;
}

/* The input normalization stored in a model file: "input.mean" and
 * "input.std" [C]. */
static int eval_norm(dam_run *run, const dam_safetensors *st,
                     dam_search_data *d) {
  uint32_t c = d->train->channels;
  const dam_st_tensor *m = dam_st_find(st, "input.mean");
  const dam_st_tensor *s = dam_st_find(st, "input.std");
  if (!m || !s || m->dtype != DAM_ST_F32 || s->dtype != DAM_ST_F32 ||
      m->nbytes != c * sizeof(float) || s->nbytes != c * sizeof(float))
    return dam_fail(DAM_EDATA, "%s: no input.mean / input.std of %u "
                    "channels", st->path, c);
  memcpy(d->mean, m->data, c * sizeof(float));
  memcpy(d->std, s->data, c * sizeof(float));
  return norm_setup(run);
}

int dam_search_eval(const dam_config *cfg, const dam_registry *reg,
                    const dam_dataset *test, const char *model_path,
                    const char *device, double *acc, double *loss) {
  dam_search_data data = {.train = test, .test = test};
  dam_search_opts o = {.device = device, .out = stdout};
  dam_run run = {.cfg = cfg, .data = &data, .opts = &o, .reg = reg,
                 .phase = DAM_PHASE_FINAL};
  dam_safetensors *st = NULL;
  int err = dam_st_read(model_path, &st);
  const char *json = err ? NULL : dam_st_get_meta(st, "genotype");
  if (!err && !json)
    err = dam_fail(DAM_EDATA, "%s: no genotype in its metadata", model_path);
  if (!err)
    err = dam_genotype_from_json(json, model_path, &run.genotype);
  if (!err) {
    run.cpu_threads = dam_cpu_threads_apply(dam_cpu_threads_for(
        cfg, test->height, test->width, cfg->train.eval_batch_size));
    err = dam_device_open(device, &run.dev);
  }
  if (!err)
    err = dam_exec_create(run.dev, &run.ex);
  if (!err)
    err = ops_setup(&run, reg);
  if (!err)
    err = dam_supernet_create(run.ex, &run.net_desc, &run.genotype, &run.net);
  if (!err)
    err = eval_norm(&run, st, &data);
  if (!err)
    err = dam__net_load(&run, st, false);
  if (!err)
    err = dam__evaluate(&run, test, acc, loss);
  dam_st_free(st);
  dam__run_close(&run);
  return err;
}
