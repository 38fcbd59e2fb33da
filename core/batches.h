/*
 * Device batches from a host dataset: a seeded per-epoch shuffle, mean/std
 * normalization, the last partial batch dropped or padded, and double
 * buffering.  A worker thread gathers and normalizes batch k+2 on the host
 * while the device copies batch k+1 into one device slot and computes on
 * batch k in the other.
 */
#ifndef DAM_BATCHES_H
#define DAM_BATCHES_H

#include "dataset.h"
#include "tensor.h"

#include <stdbool.h>

typedef struct dam_batcher_opts {
  uint32_t batch_size;
  bool pad_partial; /* false: drop the last partial batch of an epoch */
  bool shuffle;     /* reshuffle every epoch (seeded by seed and epoch) */
  uint64_t seed;
  const float *mean, *std; /* per channel, on [0,1] pixels; NULL: 0 and 1 */
  uint32_t start_epoch, start_index; /* the first batch (a resumed run) */
} dam_batcher_opts;

typedef struct dam_batch {
  dam_tensor *images;  /* [B, C, H, W], (pixel/255 - mean[c]) / std[c] */
  dam_tensor *labels;  /* [B], class indices as floats; padding 0 */
  dam_tensor *weights; /* [B], 1/valid for real samples, 0 for padding:
                          <per-sample loss, weights> is the mean loss */
  uint32_t valid;      /* real samples (B unless the last, padded batch) */
  uint32_t epoch, index; /* index of the batch within its epoch */
  const uint32_t *samples; /* dataset indices of the valid samples */
} dam_batch;

typedef struct dam_batcher dam_batcher;

/* Batches of an epoch over n samples: floor(n/B) when dropping the
 * partial batch, ceil(n/B) when padding it. */
uint32_t dam_batch_count(uint32_t n, uint32_t batch_size, bool pad_partial);

/* A batcher over the n samples idx[0..n) of d (both stay the caller's and
 * must outlive the batcher), with two persistent device slots made in ex.
 * DAM_EINVAL for batch size 0 or an epoch of no batch (fewer samples than
 * one batch while dropping), a std of 0, an index past d->n or a
 * start_index past the epoch's batches; DAM_ENOMEM
 * (host or device). */
int dam_batcher_create(dam_exec *ex, const dam_dataset *d,
                       const uint32_t *idx, uint32_t n,
                       const dam_batcher_opts *opts, dam_batcher **out);

/* The next batch (epochs follow each other without end: see out->epoch
 * and out->index).  Records the upload of the batch after it into the
 * other slot, so the device copies it while this one computes; waits only
 * for the host worker.  out's tensors stay valid until the second call
 * after this one. */
int dam_batcher_next(dam_batcher *b, dam_batch *out);

/* Batches per epoch of this batcher. */
uint32_t dam_batcher_per_epoch(const dam_batcher *b);

/* Stop the worker and free the slots (NULL ok).  Call it before
 * destroying ex. */
void dam_batcher_free(dam_batcher *b);

#endif
