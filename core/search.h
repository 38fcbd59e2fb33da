/*
 * The search engine: `diffautoml search` runs DiffAutoML/DHA end to end
 * (DESIGN §6).  One run jointly trains the supernet's weights, its
 * architecture codes, the augmentation policy and the hyper-parameters,
 * freezes the architecture, keeps training the chosen network, and writes
 * the trained model, its genotype, metrics and a summary into the run
 * directory.  Checkpoints make it resumable.  Outputs: docs/SEARCH.md.
 */
#ifndef DAM_SEARCH_H
#define DAM_SEARCH_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "dataset.h"
#include "plugin.h"

/* The data of a run: the training file split into train and validation
 * indices, the test set, and the per-channel normalization applied on the
 * device after augmentation. */
typedef struct dam_search_data {
  const dam_dataset *train, *test;
  const uint32_t *train_idx, *val_idx;
  uint32_t n_train, n_val;
  float mean[4], std[4];
} dam_search_data;

typedef struct dam_search_opts {
  const char *device;   /* --device / config / env spec, NULL = automatic */
  bool resume;          /* continue from RUN_DIR/checkpoint.safetensors */
  bool dry_run;         /* build, estimate, print, write nothing */
  volatile sig_atomic_t *interrupt; /* set by SIGINT: checkpoint and stop */
  FILE *out;            /* progress and report */
  /* Called once the run is set up and its memory estimate accepted,
   * before anything is written; a non-zero return stops the run with it
   * (may be NULL). */
  int (*on_ready)(void *ctx);
  void *ctx;
} dam_search_opts;

/* Run the search the config describes into cfg->output_dir.  Returns 0,
 * or a negative DAM_E... code with the error set (the checkpoint of the
 * last finished epoch stays in place); DAM_EINTR-like stops by SIGINT
 * return 1 after writing a checkpoint. */
int dam_search_run(const dam_config *cfg, const dam_registry *reg,
                   const dam_search_data *data, const dam_search_opts *o);

/* Rebuild the network a run produced from its model file (the genotype
 * in its metadata, the ops through the same plugins, the config's search
 * space) and measure it on `test` in evaluation mode: *acc and *loss.
 * DAM_EIO / DAM_EDATA naming the model file, DAM_ENOTFOUND for an op
 * plugin that is not loaded. */
int dam_search_eval(const dam_config *cfg, const dam_registry *reg,
                    const dam_dataset *test, const char *model_path,
                    const char *device, double *acc, double *loss);

/* What `diffautoml bench step` times (docs/BENCHMARKS.md). */
typedef enum dam_bench_kind {
  DAM_BENCH_WEIGHT, /* forward + backward + weight update */
  DAM_BENCH_ARCH,   /* a DARTS-mode architecture step */
  DAM_BENCH_FULL,   /* the whole DHA step (dam_search_run's) */
} dam_bench_kind;

typedef struct dam_bench_opts {
  const char *device;
  uint32_t warmup, steps;
  bool profile; /* print the per-kernel time of the timed steps to out */
  FILE *out;
} dam_bench_opts;

typedef struct dam_bench_result {
  uint32_t batch;        /* images per step */
  double seconds;        /* the timed steps, wall clock */
  double images_per_s;   /* images of the step's kind: the training batch,
                            the validation batch for ARCH */
  uint64_t peak_bytes;   /* device memory: persistent tensors + the peak
                            of step tensors + the staging peak */
  double dispatches, barriers, submits, waits; /* per step */
  char device[256];      /* the Vulkan device's name */
  char threads_trial[192]; /* the timing that chose lavapipe's threads, or
                              "" (cpu_threads_trial) */
} dam_bench_result;

/* Set up the run cfg describes (ARCH forces nas.method = darts), on a CPU
 * device time lavapipe's threads on `kind`'s steps (cpu_threads_trial,
 * whatever the steps left), take o->warmup steps of `kind`, then time
 * o->steps of them. */
int dam_search_bench(const dam_config *cfg, const dam_registry *reg,
                     const dam_search_data *data, dam_bench_kind kind,
                     const dam_bench_opts *o, dam_bench_result *res);

#endif
