/*
 * Checkpoints of a search run: one safetensors file, DIR/checkpoint.
 * safetensors, rewritten atomically after every epoch (and on Ctrl-C).
 * It holds the net's tensors and momentum buffers, the architecture
 * codes, the DA policy, the HPO states, the random generators' states and
 * the position in the data, so a resumed run continues bit for bit.
 */
#include "search_run.h"

#include "error.h"
#include "genotype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAM__CKPT_FORMAT "diffautoml-checkpoint-1"
#define DAM__MOMENTUM ".momentum_buffer"
#define DAM__DOWNLOAD_GROUP DAM_DOWNLOAD_RANGES

/* Host copies of n device tensors, read back in groups of
 * DAM_DOWNLOAD_RANGES per wait. */
static int download_all(dam_exec *ex, dam_tensor *const *t, uint32_t n,
                        float **out) {
  for (uint32_t i = 0; i < n; i += DAM__DOWNLOAD_GROUP) {
    dam_range src[DAM__DOWNLOAD_GROUP];
    void *dst[DAM__DOWNLOAD_GROUP];
    uint32_t k = 0;
    for (; k < DAM__DOWNLOAD_GROUP && i + k < n; k++) {
      if (!(out[i + k] = malloc(t[i + k]->numel * sizeof(float))))
        return dam_fail(DAM_ENOMEM, "out of memory");
      src[k] = dam_tensor_range(t[i + k]);
      dst[k] = out[i + k];
    }
    int err = dam_exec_download_ranges(ex, src, k, dst);
    if (err)
      return err;
  }
  return 0;
}

static int add_f32(dam_safetensors *st, const char *name, const dam_tensor *t,
                   const float *data) {
  uint64_t shape[4];
  for (uint32_t d = 0; d < t->shape.ndim; d++)
    shape[d] = t->shape.dim[d];
  return dam_st_add(st, name, DAM_ST_F32, t->shape.ndim, shape, data);
}

int dam__net_save(dam_run *run, dam_safetensors *st, bool with_buffers) {
  uint32_t n, m = 0;
  dam_net_tensor *table = dam_supernet_tensors(run->net, &n);
  dam_tensor **t = calloc(2 * (size_t)n, sizeof *t);
  float **host = calloc(2 * (size_t)n, sizeof *host);
  int err = t && host ? 0 : dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; !err && i < n; i++) {
    t[m++] = table[i].t;
    if (with_buffers && table[i].buf)
      t[m++] = table[i].buf;
  }
  if (!err)
    err = download_all(run->ex, t, m, host);
  for (uint32_t i = 0, k = 0; !err && i < n; i++) {
    err = add_f32(st, table[i].name, table[i].t, host[k++]);
    if (!err && with_buffers && table[i].buf) {
      char name[128];
      snprintf(name, sizeof name, "%s" DAM__MOMENTUM, table[i].name);
      err = add_f32(st, name, table[i].buf, host[k++]);
    }
  }
  for (uint32_t i = 0; host && i < m; i++)
    free(host[i]);
  free(host);
  free(t);
  return err;
}

/* The tensor called name in st, checked against t's shape and F32. */
static const dam_st_tensor *find_like(const dam_safetensors *st,
                                      const char *name, const dam_tensor *t) {
  const dam_st_tensor *s = dam_st_find(st, name);
  if (!s)
    return dam_fail(DAM_ENOTFOUND, "%s: no tensor %s (a checkpoint of "
                    "another config?)", st->path ? st->path : "?", name),
           NULL;
  bool ok = s->dtype == DAM_ST_F32 && s->ndim == t->shape.ndim;
  for (uint32_t d = 0; ok && d < s->ndim; d++)
    ok = s->shape[d] == t->shape.dim[d];
  if (!ok)
    return dam_fail(DAM_EDATA, "%s: tensor %s is %s with another shape than "
                    "the network's", st->path ? st->path : "?", name,
                    dam_st_dtype_name(s->dtype)), NULL;
  return s;
}

int dam__net_load(dam_run *run, const dam_safetensors *st, bool with_buffers) {
  uint32_t n;
  dam_net_tensor *table = dam_supernet_tensors(run->net, &n);
  for (uint32_t i = 0; i < n; i++) {
    const dam_st_tensor *s = find_like(st, table[i].name, table[i].t);
    int err = s ? dam_tensor_upload(run->ex, table[i].t, s->data) : DAM_EDATA;
    if (!err && with_buffers && table[i].buf) {
      char name[128];
      snprintf(name, sizeof name, "%s" DAM__MOMENTUM, table[i].name);
      s = find_like(st, name, table[i].buf);
      err = s ? dam_tensor_upload(run->ex, table[i].buf, s->data) : DAM_EDATA;
    }
    if (err)
      return err;
  }
  return 0;
}

/* The run's position and generators, as U64 and F64 vectors. */
enum { POS_PHASE, POS_EPOCH, POS_SEARCH_EPOCHS, POS_STEP, POS_STEP_IN_EPOCH,
       POS_VAL_EPOCH, POS_VAL_INDEX, POS_DROP_RNG, POS_METRICS, POS_DA_RNG,
       POS_N_STEPS, POS_COUNT };
enum { SUM_ELAPSED, SUM_LOSS, SUM_ACC, SUM_VAL_ACC, SUM_COUNT };

static int save_policy(const dam_da_policy *p, dam_safetensors *st) {
  uint64_t kk = (uint64_t)p->s.k * p->s.k, k = p->s.k, one = 1;
  int err = dam_st_add(st, "da.logits", DAM_ST_F64, 1, &kk, p->logits);
  if (!err)
    err = dam_st_add(st, "da.velocity", DAM_ST_F64, 1, &kk, p->velocity);
  if (!err)
    err = dam_st_add(st, "da.level", DAM_ST_F64, 1, &k, p->level);
  if (!err)
    err = dam_st_add(st, "da.max_level", DAM_ST_F64, 1, &one, &p->s.max_level);
  return err;
}

static const dam_st_tensor *find_f64(const dam_safetensors *st,
                                     const char *name, uint64_t n, int dtype) {
  const dam_st_tensor *s = dam_st_find(st, name);
  if (!s || s->dtype != dtype || s->ndim != 1 || s->shape[0] != n)
    return dam_fail(DAM_EDATA, "%s: tensor %s is missing or not %s [%llu]",
                    st->path ? st->path : "?", name, dam_st_dtype_name(dtype),
                    (unsigned long long)n), NULL;
  return s;
}

static int load_policy(dam_da_policy *p, const dam_safetensors *st) {
  uint64_t kk = (uint64_t)p->s.k * p->s.k;
  const dam_st_tensor *l = find_f64(st, "da.logits", kk, DAM_ST_F64);
  const dam_st_tensor *v = l ? find_f64(st, "da.velocity", kk, DAM_ST_F64) : 0;
  const dam_st_tensor *m = v ? find_f64(st, "da.level", p->s.k, DAM_ST_F64) : 0;
  const dam_st_tensor *x = m ? find_f64(st, "da.max_level", 1, DAM_ST_F64) : 0;
  if (!x)
    return DAM_EDATA;
  memcpy(p->logits, l->data, kk * sizeof(double));
  memcpy(p->velocity, v->data, kk * sizeof(double));
  memcpy(p->level, m->data, p->s.k * sizeof(double));
  memcpy(&p->s.max_level, x->data, sizeof(double));
  return 0;
}

static int save_state(dam_run *run, dam_safetensors *st) {
  fflush(run->metrics);
  uint64_t pos[POS_COUNT] = {
      [POS_PHASE] = (uint64_t)run->phase,
      [POS_EPOCH] = run->epoch,
      [POS_SEARCH_EPOCHS] = run->search_epochs_done,
      [POS_STEP] = run->step,
      [POS_STEP_IN_EPOCH] = run->step_in_epoch,
      [POS_VAL_EPOCH] = run->val_epoch,
      [POS_VAL_INDEX] = run->val_index,
      [POS_DROP_RNG] = run->drop_rng,
      [POS_METRICS] = (uint64_t)ftell(run->metrics),
      [POS_DA_RNG] = run->policy.rng,
      [POS_N_STEPS] = run->n_steps_epoch};
  double sums[SUM_COUNT] = {run->elapsed_s + (dam__now() - run->t_start),
                            run->sum_loss, run->sum_acc, run->sum_val_acc};
  uint64_t np = POS_COUNT, ns = SUM_COUNT;
  int err = dam_st_add(st, "run.position", DAM_ST_U64, 1, &np, pos);
  if (!err)
    err = dam_st_add(st, "run.sums", DAM_ST_F64, 1, &ns, sums);
  if (!err && run->phase == DAM_PHASE_FINAL) {
    char *json = dam_genotype_to_json(&run->genotype, false);
    err = json ? dam_st_set_meta(st, "genotype", json) : DAM_ENOMEM;
    free(json);
  }
  return err ? err : dam_st_set_meta(st, "format", DAM__CKPT_FORMAT);
}

static int load_state(dam_run *run, const dam_safetensors *st) {
  const dam_st_tensor *p = find_f64(st, "run.position", POS_COUNT, DAM_ST_U64);
  const dam_st_tensor *s = p ? find_f64(st, "run.sums", SUM_COUNT, DAM_ST_F64)
                             : NULL;
  if (!s)
    return DAM_EDATA;
  const uint64_t *pos = p->data;
  const double *sums = s->data;
  run->phase = (int)pos[POS_PHASE];
  run->epoch = (uint32_t)pos[POS_EPOCH];
  run->search_epochs_done = (uint32_t)pos[POS_SEARCH_EPOCHS];
  run->step = pos[POS_STEP];
  run->step_in_epoch = (uint32_t)pos[POS_STEP_IN_EPOCH];
  run->val_epoch = (uint32_t)pos[POS_VAL_EPOCH];
  run->val_index = (uint32_t)pos[POS_VAL_INDEX];
  run->drop_rng = pos[POS_DROP_RNG];
  run->metrics_bytes = pos[POS_METRICS];
  run->policy.rng = pos[POS_DA_RNG];
  run->n_steps_epoch = (uint32_t)pos[POS_N_STEPS];
  run->elapsed_s = sums[SUM_ELAPSED];
  run->sum_loss = sums[SUM_LOSS];
  run->sum_acc = sums[SUM_ACC];
  run->sum_val_acc = sums[SUM_VAL_ACC];
  if (run->phase != DAM_PHASE_SEARCH && run->phase != DAM_PHASE_FINAL)
    return dam_fail(DAM_EDATA, "%s: bad phase %d", st->path, run->phase);
  if (run->phase == DAM_PHASE_FINAL) {
    const char *json = dam_st_get_meta(st, "genotype");
    int err = json ? dam_genotype_from_json(json, st->path, &run->genotype)
                   : dam_fail(DAM_EDATA, "%s: a final-phase checkpoint "
                              "without a genotype", st->path);
    if (err)
      return err;
    dam_arch_freeze_all(run->arch);
    dam_supernet_prune(run->net, &run->genotype);
  }
  return 0;
}

#define CKPT_FILE "checkpoint.safetensors"

static void ckpt_path(const dam_run *run, const char *name, char *path,
                      size_t n) {
  snprintf(path, n, "%s/%s", run->dir, name);
}

int dam__checkpoint_save(dam_run *run) {
  return dam__checkpoint_save_as(run, CKPT_FILE);
}

int dam__checkpoint_load(dam_run *run) {
  return dam__checkpoint_load_from(run, CKPT_FILE);
}

int dam__checkpoint_save_as(dam_run *run, const char *name) {
  char path[1100];
  ckpt_path(run, name, path, sizeof path);
  dam_safetensors *st = dam_st_new();
  int err = st ? dam__net_save(run, st, true) : DAM_ENOMEM;
  if (!err)
    err = dam_arch_save(run->arch, st);
  if (!err && run->cfg->da.enabled)
    err = save_policy(&run->policy, st);
  for (uint32_t i = 0; !err && i < run->n_hpo; i++)
    err = dam_hpo_save(run->hpo[i], st);
  if (!err)
    err = save_state(run, st);
  if (!err)
    err = dam_st_write(st, path);
  dam_st_free(st);
  return err;
}

int dam__checkpoint_load_from(dam_run *run, const char *name) {
  char path[1100];
  ckpt_path(run, name, path, sizeof path);
  dam_safetensors *st = NULL;
  int err = dam_st_read(path, &st);
  if (err == DAM_EIO)
    err = dam_fail(DAM_ENOTFOUND, "%s: no checkpoint to resume from (%s)",
                   path, dam_last_error());
  const char *format = err ? NULL : dam_st_get_meta(st, "format");
  if (!err && (!format || strcmp(format, DAM__CKPT_FORMAT) != 0))
    err = dam_fail(DAM_EDATA, "%s: not a diffautoml checkpoint", path);
  if (!err)
    err = dam_arch_load(run->arch, st);
  if (!err)
    err = load_state(run, st);
  if (!err)
    err = dam__net_load(run, st, true);
  if (!err && run->cfg->da.enabled)
    err = load_policy(&run->policy, st);
  for (uint32_t i = 0; !err && i < run->n_hpo; i++)
    err = dam_hpo_load(run->hpo[i], st);
  dam_st_free(st);
  return err;
}
