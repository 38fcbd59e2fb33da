/*
 * The batcher: one worker thread prepares the next batch in a host buffer
 * (gather by the epoch's permutation, normalize, labels and loss weights);
 * the caller's thread uploads it into one of two persistent device slots.
 * Only the caller's thread touches the device.
 */
#include "batches.h"

#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct host_batch {
  float *images, *labels, *weights;
  uint32_t *samples;
  uint32_t valid, epoch, index;
} host_batch;

typedef struct slot {
  dam_tensor *images, *labels, *weights;
  uint32_t *samples;
  uint32_t valid, epoch, index;
} slot;

struct dam_batcher {
  dam_exec *ex;
  const dam_dataset *d;
  const uint32_t *idx;
  uint32_t n, per_epoch, sample_size;
  dam_batcher_opts opts;
  float mean[4], inv_std[4];

  /* Worker side, guarded by lock. */
  pthread_t worker;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool job, ready, quit;
  uint32_t job_epoch, job_index;
  uint32_t *perm, perm_epoch;
  host_batch host;

  /* Caller side. */
  slot slots[2];
  uint32_t pending; /* slot holding the uploaded, not yet returned batch */
  bool started;
  uint32_t next_epoch, next_index; /* the batch after the pending one */
};

uint32_t dam_batch_count(uint32_t n, uint32_t batch_size, bool pad_partial) {
  if (!batch_size)
    return 0;
  return pad_partial ? (n + batch_size - 1) / batch_size : n / batch_size;
}

uint32_t dam_batcher_per_epoch(const dam_batcher *b) { return b->per_epoch; }

/* The epoch's order of b->idx: a fresh shuffle from the given order, so
 * epoch e is the same whatever came before. */
static void order_epoch(dam_batcher *b, uint32_t epoch) {
  memcpy(b->perm, b->idx, (size_t)b->n * sizeof *b->perm);
  if (b->opts.shuffle)
    dam_shuffle(b->perm, b->n,
                b->opts.seed ^ (0x9e3779b97f4a7c15ULL * (epoch + 1ULL)));
  b->perm_epoch = epoch;
}

static void prepare(dam_batcher *b, uint32_t epoch, uint32_t index) {
  if (b->perm_epoch != epoch)
    order_epoch(b, epoch);
  const dam_dataset *d = b->d;
  uint32_t bs = b->opts.batch_size, first = index * bs;
  uint32_t valid = b->n - first < bs ? b->n - first : bs;
  size_t plane = (size_t)d->height * d->width;
  host_batch *h = &b->host;
  for (uint32_t i = 0; i < bs; i++) {
    float *dst = h->images + (size_t)i * b->sample_size;
    if (i >= valid) {
      memset(dst, 0, b->sample_size * sizeof *dst);
      h->labels[i] = h->weights[i] = 0;
      continue;
    }
    uint32_t s = b->perm[first + i];
    const uint8_t *src = d->images + (size_t)s * b->sample_size;
    for (uint32_t c = 0; c < d->channels; c++)
      for (size_t j = 0; j < plane; j++)
        dst[c * plane + j] =
            (src[c * plane + j] * (1.0f / 255) - b->mean[c]) * b->inv_std[c];
    h->labels[i] = d->labels[s];
    h->weights[i] = 1.0f / (float)valid;
    h->samples[i] = s;
  }
  h->valid = valid;
  h->epoch = epoch;
  h->index = index;
}

static void *work(void *arg) {
  dam_batcher *b = arg;
  pthread_mutex_lock(&b->lock);
  for (;;) {
    while (!b->job && !b->quit)
      pthread_cond_wait(&b->cond, &b->lock);
    if (b->quit)
      break;
    uint32_t epoch = b->job_epoch, index = b->job_index;
    pthread_mutex_unlock(&b->lock);
    prepare(b, epoch, index);
    pthread_mutex_lock(&b->lock);
    b->job = false;
    b->ready = true;
    pthread_cond_broadcast(&b->cond);
  }
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

static void request(dam_batcher *b, uint32_t epoch, uint32_t index) {
  pthread_mutex_lock(&b->lock);
  b->job_epoch = epoch;
  b->job_index = index;
  b->ready = false;
  b->job = true;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

/* Wait for the requested batch, record its upload into slots[i] and ask
 * the worker for the batch after it. */
static int upload_next(dam_batcher *b, uint32_t i) {
  pthread_mutex_lock(&b->lock);
  while (!b->ready)
    pthread_cond_wait(&b->cond, &b->lock);
  pthread_mutex_unlock(&b->lock);

  slot *s = &b->slots[i];
  const host_batch *h = &b->host;
  int err = dam_tensor_upload(b->ex, s->images, h->images);
  if (!err)
    err = dam_tensor_upload(b->ex, s->labels, h->labels);
  if (!err)
    err = dam_tensor_upload(b->ex, s->weights, h->weights);
  if (err)
    return err;
  memcpy(s->samples, h->samples, (size_t)h->valid * sizeof *s->samples);
  s->valid = h->valid;
  s->epoch = h->epoch;
  s->index = h->index;

  if (++b->next_index == b->per_epoch) {
    b->next_index = 0;
    b->next_epoch++;
  }
  request(b, b->next_epoch, b->next_index);
  return 0;
}

int dam_batcher_next(dam_batcher *b, dam_batch *out) {
  int err;
  if (!b->started) {
    if ((err = upload_next(b, 0)))
      return err;
    b->pending = 0;
    b->started = true;
  }
  uint32_t cur = b->pending;
  if ((err = upload_next(b, cur ^ 1)))
    return err;
  b->pending = cur ^ 1;
  const slot *s = &b->slots[cur];
  *out = (dam_batch){s->images, s->labels, s->weights, s->valid,
                     s->epoch,  s->index,  s->samples};
  return 0;
}

static int check_opts(const dam_dataset *d, const uint32_t *idx, uint32_t n,
                      const dam_batcher_opts *o) {
  if (!o->batch_size)
    return dam_fail(DAM_EINVAL, "batches: batch size 0");
  if (!dam_batch_count(n, o->batch_size, o->pad_partial))
    return dam_fail(DAM_EINVAL,
                    "batches: %u samples make no batch of %u (the partial "
                    "batch is dropped)", n, o->batch_size);
  if (d->channels > 4)
    return dam_fail(DAM_EINVAL, "batches: %u channels (at most 4)",
                    d->channels);
  for (uint32_t c = 0; o->std && c < d->channels; c++)
    if (!(o->std[c] > 0))
      return dam_fail(DAM_EINVAL, "batches: std of channel %u is %g", c,
                      o->std[c]);
  if (o->start_index >= dam_batch_count(n, o->batch_size, o->pad_partial))
    return dam_fail(DAM_EINVAL, "batches: start batch %u of an epoch of %u",
                    o->start_index,
                    dam_batch_count(n, o->batch_size, o->pad_partial));
  for (uint32_t i = 0; i < n; i++)
    if (idx[i] >= d->n)
      return dam_fail(DAM_EINVAL, "batches: sample index %u past the %u "
                      "samples of the dataset", idx[i], d->n);
  return 0;
}

static int alloc_buffers(dam_batcher *b) {
  uint32_t bs = b->opts.batch_size;
  const dam_dataset *d = b->d;
  host_batch *h = &b->host;
  h->images = malloc((size_t)bs * b->sample_size * sizeof *h->images);
  h->labels = malloc(bs * sizeof *h->labels);
  h->weights = malloc(bs * sizeof *h->weights);
  h->samples = malloc(bs * sizeof *h->samples);
  b->perm = malloc((size_t)b->n * sizeof *b->perm);
  if (!h->images || !h->labels || !h->weights || !h->samples || !b->perm)
    return dam_fail(DAM_ENOMEM, "batches: host buffers for %u samples", bs);
  dam_shape img = dam_shape4(bs, d->channels, d->height, d->width);
  dam_shape vec = dam_shape4(bs, 0, 0, 0);
  for (int i = 0; i < 2; i++) {
    slot *s = &b->slots[i];
    if (!(s->samples = malloc(bs * sizeof *s->samples)))
      return dam_fail(DAM_ENOMEM, "batches: host buffers");
    if (!(s->images = dam_tensor_new(b->ex, &img, true)) ||
        !(s->labels = dam_tensor_new(b->ex, &vec, true)) ||
        !(s->weights = dam_tensor_new(b->ex, &vec, true)))
      return dam_fail(DAM_ENOMEM, "batches: device slots: %s",
                      dam_last_error());
  }
  return 0;
}

static void free_buffers(dam_batcher *b) {
  free(b->host.images);
  free(b->host.labels);
  free(b->host.weights);
  free(b->host.samples);
  free(b->perm);
  for (int i = 0; i < 2; i++) {
    slot *s = &b->slots[i];
    free(s->samples);
    dam_tensor_free(b->ex, s->images);
    dam_tensor_free(b->ex, s->labels);
    dam_tensor_free(b->ex, s->weights);
  }
  free(b);
}

int dam_batcher_create(dam_exec *ex, const dam_dataset *d,
                       const uint32_t *idx, uint32_t n,
                       const dam_batcher_opts *opts, dam_batcher **out) {
  *out = NULL;
  int err = check_opts(d, idx, n, opts);
  if (err)
    return err;
  dam_batcher *b = calloc(1, sizeof *b);
  if (!b)
    return dam_fail(DAM_ENOMEM, "batches: batcher");
  *b = (dam_batcher){.ex = ex, .d = d, .idx = idx, .n = n, .opts = *opts,
                     .perm_epoch = UINT32_MAX};
  b->per_epoch = dam_batch_count(n, opts->batch_size, opts->pad_partial);
  b->next_epoch = opts->start_epoch;
  b->next_index = opts->start_index;
  b->sample_size = d->channels * d->height * d->width;
  for (uint32_t c = 0; c < d->channels; c++) {
    b->mean[c] = opts->mean ? opts->mean[c] : 0.0f;
    b->inv_std[c] = opts->std ? 1.0f / opts->std[c] : 1.0f;
  }
  if ((err = alloc_buffers(b)))
    goto free_b;
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cond, NULL);
  if (pthread_create(&b->worker, NULL, work, b)) {
    err = dam_fail(DAM_ENOMEM, "batches: cannot start the worker thread");
    goto destroy_sync;
  }
  request(b, opts->start_epoch, opts->start_index);
  *out = b;
  return 0;

destroy_sync:
  pthread_cond_destroy(&b->cond);
  pthread_mutex_destroy(&b->lock);
free_b:
  free_buffers(b);
  return err;
}

void dam_batcher_free(dam_batcher *b) {
  if (!b)
    return;
  pthread_mutex_lock(&b->lock);
  b->quit = true;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  pthread_join(b->worker, NULL);
  pthread_cond_destroy(&b->cond);
  pthread_mutex_destroy(&b->lock);
  free_buffers(b);
}
