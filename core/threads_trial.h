/* lavapipe's worker threads chosen by timing a run's own steps: a few on
 * the current choice (at first cpu_threads' rule, cpu_threads.h), as many
 * on the other (0 or one per CPU), the faster kept.  The rule is wrong on
 * some hosts: a dispatch handed to the pool costs several times more on
 * one than on another.  docs/RUNTIME.md, "lavapipe's threads". */
#ifndef DAM_THREADS_TRIAL_H
#define DAM_THREADS_TRIAL_H

#include "search_run.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAM_TRIAL_STEPS 3  /* timed steps a side, after one to warm up */
#define DAM_TRIAL_GAIN 0.1 /* share of the rest of a run that must repay it */

/* Whether a trial that reopens the run twice, `open_s` seconds each, pays
 * on a run of `steps_left` more steps of `step_s` seconds: whether a gain
 * of DAM_TRIAL_GAIN of them repays it. */
bool dam__trial_pays(double step_s, double open_s, uint64_t steps_left);

typedef struct dam_trial {
  int (*step)(dam_run *run, void *ctx); /* one step and its bookkeeping */
  void *ctx;
  bool keep_state;     /* reopen through a checkpoint (else fresh) */
  double open_s;       /* what opening the run took; < 0: no cost test */
  uint64_t steps_left; /* in the phase, before the trial */
  /* out: the two choices (-1: one per CPU), their median step times and
   * whether the second was tried */
  int threads[2];
  double seconds[2];
  bool ran;
} dam_trial;

/* Take 1 + DAM_TRIAL_STEPS steps through t->step; when the run may take a
 * trial (and, with open_s >= 0, it pays), reopen it on the other choice
 * (its state through a checkpoint when t->keep_state), take as many, and
 * go back unless that was faster.  A step's nonzero return ends it. */
int dam__threads_trial(dam_run *run, dam_trial *t);

/* What the trial timed and kept, into out: "N worker threads 0.123 s a
 * step, a worker thread per CPU 0.150 s: kept N worker threads". */
void dam__trial_describe(const dam_trial *t, char *out, size_t n);

#endif
