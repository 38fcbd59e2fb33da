/*
 * Internal to the search engine (search.c, search_step.c, checkpoint.c,
 * run_outputs.c): the state of one run.  Everything a checkpoint must
 * restore lives here.
 */
#ifndef DAM_SEARCH_RUN_H
#define DAM_SEARCH_RUN_H

#include "arch.h"
#include "augment.h"
#include "batches.h"
#include "da_policy.h"
#include "device.h"
#include "hpo.h"
#include "search.h"
#include "supernet.h"

#include <stdio.h>

enum dam_phase { DAM_PHASE_SEARCH = 0, DAM_PHASE_FINAL = 1 };

/* What one step measured (host copies of the device results). */
typedef struct dam_step_result {
  double loss, acc, val_loss, val_acc;
  double lr, wd, momentum;
} dam_step_result;

typedef struct dam_run {
  const dam_config *cfg;
  const dam_search_data *data;
  const dam_search_opts *opts;
  const dam_registry *reg;
  dam_device *dev;
  int cpu_threads; /* lavapipe's worker threads; -1: its default */
  dam_exec *ex;
  dam_supernet *net;
  dam_supernet_desc net_desc;
  const dam_op_desc **op_descs;
  void **op_params;
  dam_arch *arch;
  dam_genotype genotype; /* fixed once the final phase starts */
  dam_da_policy policy;
  dam_augment **augs;
  uint32_t n_augs;
  dam_hpo **hpo;
  uint32_t n_hpo;
  dam_batcher *train, *val;
  dam_tensor *norm_mean, *norm_var; /* [C]: normalization as a BN */

  /* position; all checkpointed */
  int phase;
  uint32_t epoch;        /* epochs finished in this phase */
  uint32_t search_epochs_done;
  uint64_t step;         /* steps finished, both phases */
  uint32_t step_in_epoch; /* steps finished in the current epoch */
  uint32_t val_epoch, val_index; /* the validation batcher's next batch */
  uint64_t drop_rng;
  uint64_t metrics_bytes; /* length of metrics.jsonl at the checkpoint */
  double elapsed_s;       /* search time before this process */

  /* per epoch sums */
  double sum_loss, sum_acc, sum_val_acc;
  uint32_t n_steps_epoch;

  FILE *metrics;
  char *dir;
  double t_start;
} dam_run;

/* Set up a run of cfg: device, recorder, ops, supernet, architecture,
 * DA policy and transforms, HPO modules, input normalization (no
 * batchers yet).  Close it with dam__run_close, also after a failure. */
int dam__run_open(dam_run *run, const dam_config *cfg,
                  const dam_registry *reg, const dam_search_data *data,
                  const dam_search_opts *o);

/* dam__run_open with lavapipe's worker threads set to `threads` (-1: the
 * driver's default) instead of by cpu_threads' rule; $LP_NUM_THREADS still
 * wins. */
int dam__run_open_threads(dam_run *run, const dam_config *cfg,
                          const dam_registry *reg,
                          const dam_search_data *data,
                          const dam_search_opts *o, int threads);

/* The training and validation batchers (from the run's position). */
int dam__run_batchers(dam_run *run);

/* Free everything the run holds (metrics file, net, plugins' state,
 * recorder, device). */
void dam__run_close(dam_run *run);

/* Seconds on a monotonic clock. */
double dam__now(void);

/* One training step: augmented batch, forward, DA update, backward,
 * architecture step, weight step, validation lookahead and HPO update.
 * Fills *r.  DAM_EDATA for a non-finite loss. */
int dam__search_step(dam_run *run, dam_step_result *r);

/* Only the weight step of the training batch: forward, backward, clip and
 * SGD update, without augmentation, validation or any other update (the
 * first row of `bench step`). */
int dam__weight_step(dam_run *run, dam_step_result *r);

/* Only a DARTS architecture step (first order): forward and backward of a
 * validation batch through the all-op net, then the Adam step on the
 * architecture weights.  The run's arch must be DARTS. */
int dam__arch_step(dam_run *run, dam_step_result *r);

/* Test accuracy of the net in evaluation mode over the whole test set
 * (batches of train.eval_batch_size); also its mean loss. */
int dam__evaluate(dam_run *run, const dam_dataset *test, double *acc,
                  double *loss);

/* The terms and one-element weight tensors of both cell kinds for this
 * step (arch or, in the final phase, the genotype). */
typedef struct dam_step_terms {
  dam_arch_term *terms[2];
  float *w[2];
  dam_tensor **wt[2];
  uint32_t n[2];
  dam_tensor *packed; /* [n0 + n1] the weights, uploaded once */
} dam_step_terms;

/* This step's terms and their weights as one-element step tensors (that
 * take a gradient when grad is set); free with dam__terms_free. */
int dam__terms_build(dam_run *run, dam_step_terms *st, bool grad);
void dam__terms_free(dam_step_terms *st);

/* Save everything the run needs to continue into DIR/checkpoint.safetensors
 * (atomic). */
int dam__checkpoint_save(dam_run *run);

/* dam__checkpoint_save and _load with another file of the run's dir. */
int dam__checkpoint_save_as(dam_run *run, const char *name);
int dam__checkpoint_load_from(dam_run *run, const char *name);

/* Restore a run from DIR/checkpoint.safetensors (the net is pruned first
 * when the checkpoint is in the final phase).  DAM_ENOTFOUND without one,
 * DAM_EDATA naming the tensor for a checkpoint of another config. */
int dam__checkpoint_load(dam_run *run);

/* Append one JSON line of the step to metrics.jsonl. */
void dam__metrics_step(dam_run *run, const dam_step_result *r, double ips);

/* Append the end-of-epoch line (architecture weights, frozen nodes, top
 * DA sub-policies, means). */
void dam__metrics_epoch(dam_run *run);

/* Write genotype.json, normal.dot, reduce.dot (and .svg with graphviz),
 * model.safetensors and summary.json. */
int dam__write_outputs(dam_run *run, double test_acc, double test_loss);

/* Forward FLOPs of one image through the net as it is now (evaluation
 * mode). */
int dam__flops_per_image(dam_run *run, double *flops);

/* Add every tensor of the net (and, for checkpoints, momentum buffers) to
 * st. */
int dam__net_save(dam_run *run, dam_safetensors *st, bool with_buffers);

/* Restore the net's tensors from st by name. */
int dam__net_load(dam_run *run, const dam_safetensors *st, bool with_buffers);

#endif
