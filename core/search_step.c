/*
 * One step of the joint DHA loop (DESIGN §6 steps 1-6) and the test-set
 * evaluation.  The whole step is recorded first and waits once: the host
 * reads back the per-image losses and logits, the validation loss and
 * accuracy, the architecture-weight gradients and the hypergradient dots,
 * then updates the DA policy, the architecture codes and the HPO modules.
 */
#include "search_run.h"

#include "autograd.h"
#include "da_apply.h"
#include "error.h"
#include "kernels.h"
#include "loss.h"
#include "nn.h"
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double dam__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The trained tensors this step uses, with gradients and buffers. */
typedef struct step_params {
  dam_tensor **w, **g, **buf, **prev;
  dam_tensor **pre; /* w before the step (DARTS second order) */
  uint32_t n;
} step_params;

static void params_free(step_params *p) {
  free(p->w);
  free(p->g);
  free(p->buf);
  free(p->prev);
  free(p->pre);
}

static bool needs_buf_prev(const dam_run *run) {
  for (uint32_t i = 0; i < run->n_hpo; i++)
    if (run->hpo[i]->desc->flags & DAM_HPO_NEEDS_BUF_PREV)
      return true;
  return false;
}

static int params_collect(dam_run *run, const dam_step_terms *st,
                          step_params *p) {
  uint32_t n_table;
  dam_net_tensor *table = dam_supernet_tensors(run->net, &n_table);
  const dam_arch_term *const terms[2] = {st->terms[0], st->terms[1]};
  *p = (step_params){0};
  p->w = calloc(n_table, sizeof *p->w);
  p->g = calloc(n_table, sizeof *p->g);
  p->buf = calloc(n_table, sizeof *p->buf);
  p->prev = calloc(n_table, sizeof *p->prev);
  p->pre = calloc(n_table, sizeof *p->pre);
  if (!p->w || !p->g || !p->buf || !p->prev || !p->pre)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < n_table; i++) {
    dam_net_tensor *t = &table[i];
    if (!t->buf || !dam_supernet_uses(run->net, t, terms, st->n))
      continue;
    p->w[p->n] = t->t;
    p->buf[p->n] = t->buf;
    if (!(p->g[p->n] = dam_tensor_grad(run->ex, t->t)))
      return DAM_ENOMEM;
    p->n++;
  }
  return 0;
}

static int grads_zero(dam_exec *ex, const step_params *p) {
  int err = 0;
  for (uint32_t i = 0; !err && i < p->n; i++)
    err = dam_k_fill(ex, p->g[i], 0.0f);
  return err;
}

void dam__terms_free(dam_step_terms *st) {
  for (int c = 0; c < 2; c++) {
    free(st->terms[c]);
    free(st->w[c]);
    free(st->wt[c]);
  }
  memset(st, 0, sizeof *st);
}

/* This step's terms and their weights as one-element step tensors (one
 * upload, then copies). */
int dam__terms_build(dam_run *run, dam_step_terms *st, bool grad) {
  uint32_t max = run->phase == DAM_PHASE_SEARCH ? dam_arch_max_terms(run->arch)
                                                : run->genotype.nodes * 2;
  memset(st, 0, sizeof *st);
  for (int c = 0; c < 2; c++) {
    st->terms[c] = calloc(max, sizeof *st->terms[c]);
    st->w[c] = calloc(max, sizeof *st->w[c]);
    st->wt[c] = calloc(max, sizeof *st->wt[c]);
    if (!st->terms[c] || !st->w[c] || !st->wt[c])
      return dam_fail(DAM_ENOMEM, "out of memory");
    st->n[c] = run->phase == DAM_PHASE_SEARCH
                   ? dam_arch_terms(run->arch, c, st->terms[c], st->w[c])
                   : dam_genotype_terms(run->net, &run->genotype, c,
                                        st->terms[c], st->w[c]);
  }
  uint32_t total = st->n[0] + st->n[1];
  dam_shape all = dam_shape4(total, 0, 0, 0), one = dam_shape4(1, 0, 0, 0);
  float *packed = malloc(total * sizeof *packed);
  if (!packed || !(st->packed = dam_tensor_new(run->ex, &all, false))) {
    free(packed);
    return DAM_ENOMEM;
  }
  memcpy(packed, st->w[0], st->n[0] * sizeof *packed);
  memcpy(packed + st->n[0], st->w[1], st->n[1] * sizeof *packed);
  int err = dam_tensor_upload(run->ex, st->packed, packed);
  free(packed);
  dam_range src = dam_tensor_range(st->packed);
  src.size = sizeof(float);
  for (int c = 0; c < 2; c++)
    for (uint32_t k = 0; !err && k < st->n[c]; k++) {
      dam_tensor *t = st->wt[c][k] = dam_tensor_new(run->ex, &one, false);
      if (!t)
        return DAM_ENOMEM;
      t->requires_grad = grad;
      err = dam_exec_copy(run->ex, src, dam_tensor_range(t));
      src.offset += sizeof(float);
    }
  return err;
}

/* The term weights' gradients packed into st->packed (reused). */
static int terms_pack_grads(dam_run *run, dam_step_terms *st) {
  dam_range dst = dam_tensor_range(st->packed);
  dst.size = sizeof(float);
  int err = dam_k_fill(run->ex, st->packed, 0.0f);
  for (int c = 0; c < 2; c++)
    for (uint32_t k = 0; !err && k < st->n[c]; k++) {
      dam_tensor *g = st->wt[c][k]->grad;
      if (g && !(err = dam_tensor_materialize(run->ex, g)))
        err = dam_exec_copy(run->ex, dam_tensor_range(g), dst);
      dst.offset += sizeof(float);
    }
  return err;
}

static dam_tensor *normalize(dam_run *run, dam_tensor *x) {
  static const dam_bn_args args = {1e-5f, 0.0f};
  return dam_batchnorm(run->ex, x, NULL, NULL, run->norm_mean, run->norm_var,
                       &args, false);
}

/* Mean loss of logits against the batch (per-image losses in *per). */
static dam_tensor *batch_loss(dam_exec *ex, dam_tensor *logits,
                              const dam_batch *b, dam_tensor **per) {
  *per = dam_softmax_xent(ex, logits, b->labels);
  return *per ? dam_dot(ex, *per, b->weights) : NULL;
}

static float drop_path_now(const dam_run *run) {
  if (run->phase != DAM_PHASE_FINAL || run->cfg->train.final_epochs <= 0)
    return 0.0f;
  return (float)(run->cfg->train.drop_path * run->epoch /
                 (double)run->cfg->train.final_epochs);
}

static dam_supernet_pass pass_of(dam_run *run, const dam_step_terms *st,
                                 bool training, float drop) {
  return (dam_supernet_pass){
      {st->terms[0], st->terms[1]}, {st->wt[0], st->wt[1]}, {st->n[0], st->n[1]},
      training, drop, &run->drop_rng};
}

/* Correct predictions among the first `valid` rows of logits [B, K]. */
static uint32_t count_correct(const float *logits, uint32_t k,
                              const dam_dataset *d, const uint32_t *samples,
                              uint32_t valid) {
  uint32_t correct = 0;
  for (uint32_t i = 0; i < valid; i++) {
    const float *z = logits + (size_t)i * k;
    uint32_t best = 0;
    for (uint32_t j = 1; j < k; j++)
      if (z[j] > z[best])
        best = j;
    correct += best == d->labels[samples[i]];
  }
  return correct;
}

/* Host copies of what the step reads back. */
typedef struct step_readback {
  float *loss_i, *logits, *arch_grad, *mag_grad[2], *hpo_dots;
  float loss, val_loss, val_correct;
} step_readback;

static void readback_free(step_readback *r) {
  free(r->loss_i);
  free(r->logits);
  free(r->arch_grad);
  free(r->mag_grad[0]);
  free(r->mag_grad[1]);
  free(r->hpo_dots);
}

/* The forward and backward of the training batch; returns the tensors the
 * step reads back. */
typedef struct train_pass {
  dam_batch batch;
  dam_da_sample sample;
  dam_tensor *mag[2], *loss, *loss_i, *logits;
  dam_tensor *x; /* the augmented, normalized batch */
} train_pass;

static int train_forward_backward(dam_run *run, const dam_step_terms *st,
                                  train_pass *tp, bool augment) {
  const dam_config *cfg = run->cfg;
  dam_exec *ex = run->ex;
  int err = dam_batcher_next(run->train, &tp->batch);
  if (err)
    return err;
  dam_tensor *x = tp->batch.images;
  uint32_t n = x->shape.dim[0];
  if (augment && cfg->da.enabled) {
    if ((err = dam_da_policy_sample(&run->policy, n, &tp->sample)))
      return err;
    x = dam_da_apply(ex, run->augs, run->n_augs, &tp->sample, x,
                     (float)cfg->da.fill,
                     cfg->da.learn_magnitude ? tp->mag : NULL);
  }
  if (x)
    x = tp->x = normalize(run, x);
  dam_supernet_pass p = pass_of(run, st, true, drop_path_now(run));
  dam_tensor *aux = NULL;
  if (x)
    tp->logits = dam_supernet_forward(ex, run->net, x, &p, &aux);
  if (tp->logits)
    tp->loss = batch_loss(ex, tp->logits, &tp->batch, &tp->loss_i);
  if (tp->loss && aux) {
    dam_tensor *aux_i, *aux_loss = batch_loss(ex, aux, &tp->batch, &aux_i);
    if (aux_loss)
      aux_loss = dam_scale(ex, aux_loss,
                           (float)cfg->search_space.auxiliary_weight);
    tp->loss = aux_loss ? dam_add(ex, tp->loss, aux_loss) : NULL;
  }
  if (!tp->loss)
    return DAM_EINVAL;
  dam_tensor *keep[] = {tp->x, tp->logits, tp->loss_i, tp->loss};
  return dam_backward_release(ex, tp->loss, keep, 4);
}

static bool second_order(const dam_run *run) {
  return run->phase == DAM_PHASE_SEARCH &&
         run->cfg->nas.method == DAM_CONFIG_NAS_DARTS &&
         run->cfg->nas.darts.order == 2;
}

/* The weight step w' = w - eta * buf with the current hyper-parameters,
 * the gradients clipped on the way in when train.grad_clip > 0 (buf_prev
 * copied first when a module needs it), in one dispatch (dam_k_sgd_sets). */
static int weight_step(dam_run *run, step_params *p, dam_step_result *r) {
  dam_exec *ex = run->ex;
  float max_norm = (float)run->cfg->train.grad_clip;
  dam_shape one = dam_shape4(1, 0, 0, 0);
  dam_tensor *norm = max_norm > 0 ? dam_tensor_new(ex, &one, false) : NULL;
  int err = max_norm > 0 && !norm ? DAM_ENOMEM : 0;
  if (norm)
    err = dam_k_grad_norm(ex, (const dam_tensor *const *)p->g, p->n, norm);
  dam_hpo_hypers(run->cfg, run->hpo, run->n_hpo, &r->lr, &r->wd, &r->momentum);
  bool prev = needs_buf_prev(run), pre = second_order(run);
  for (uint32_t i = 0; !err && i < p->n; i++) {
    if (pre) {
      p->pre[i] = dam_tensor_new(ex, &p->w[i]->shape, false);
      err = p->pre[i] ? dam_k_copy(ex, p->w[i], p->pre[i]) : DAM_ENOMEM;
    }
    if (prev) {
      p->prev[i] = dam_tensor_new(ex, &p->buf[i]->shape, false);
      err = p->prev[i] ? dam_k_copy(ex, p->buf[i], p->prev[i]) : DAM_ENOMEM;
    }
  }
  dam_sgd_args a = {(float)r->lr, (float)r->wd, (float)r->momentum, false};
  return err ? err
             : dam_k_sgd_sets(ex, p->w, p->g, p->buf, p->n, norm, max_norm,
                              &a);
}

/* Whether the weights take a gradient in the passes recorded next: off
 * where only the architecture gradient is read, so the backward skips
 * every weight-gradient kernel and the layers before the first
 * architecture weight. */
static void params_take_grads(const step_params *p, bool on) {
  for (uint32_t i = 0; i < p->n; i++)
    p->w[i]->requires_grad = on;
}

/* The validation lookahead at w': loss, correct count and, when
 * weight_grads, g_val in the weights' gradients (else they keep the
 * training pass's); the arch weights take a gradient in DARTS mode. */
static int validation_pass(dam_run *run, dam_step_terms *st, step_params *p,
                           bool weight_grads, dam_tensor **loss,
                           dam_tensor **correct, dam_batch *vb) {
  dam_exec *ex = run->ex;
  bool darts = run->phase == DAM_PHASE_SEARCH &&
               run->cfg->nas.method == DAM_CONFIG_NAS_DARTS;
  int err = weight_grads ? grads_zero(ex, p) : 0;
  for (int c = 0; c < 2; c++)
    for (uint32_t k = 0; k < st->n[c]; k++)
      st->wt[c][k]->requires_grad = darts;
  if (!err)
    err = dam_batcher_next(run->val, vb);
  if (err)
    return err;
  params_take_grads(p, weight_grads);
  dam_tensor *x = normalize(run, vb->images), *per = NULL, *logits = NULL;
  dam_supernet_pass pass = pass_of(run, st, true, 0.0f);
  if (x)
    logits = dam_supernet_forward(ex, run->net, x, &pass, NULL);
  if (logits)
    *loss = batch_loss(ex, logits, vb, &per);
  dam_shape one = dam_shape4(1, 0, 0, 0);
  if (!*loss || !(*correct = dam_tensor_new(ex, &one, false)))
    err = DAM_EINVAL;
  if (!err)
    err = dam_k_count_correct(ex, logits, vb->labels, *correct);
  if (!err)
    err = dam_backward_release(ex, *loss, loss, 1);
  params_take_grads(p, true);
  return err;
}

/* One training-batch pass at w = pre + sign * eps * g_val: the arch
 * weights' gradient packed into `into`; the weights take none. */
static int hessian_pass(dam_run *run, dam_step_terms *st, step_params *p,
                        dam_tensor *const *gval, const train_pass *tp,
                        float eps, dam_tensor *into) {
  dam_exec *ex = run->ex;
  int err = 0;
  for (uint32_t i = 0; !err && i < p->n; i++) {
    err = dam_k_copy(ex, p->pre[i], p->w[i]);
    if (!err)
      err = dam_k_axpby(ex, eps, gval[i], 1.0f, p->w[i]);
  }
  for (int c = 0; c < 2; c++)
    for (uint32_t k = 0; !err && k < st->n[c]; k++)
      if (st->wt[c][k]->grad)
        err = dam_k_fill(ex, st->wt[c][k]->grad, 0.0f);
  dam_supernet_pass pass = pass_of(run, st, true, 0.0f);
  dam_tensor *logits = NULL, *per = NULL, *loss = NULL;
  params_take_grads(p, false);
  if (!err && (logits = dam_supernet_forward(ex, run->net, tp->x, &pass,
                                             NULL)))
    loss = batch_loss(ex, logits, &tp->batch, &per);
  if (!err)
    err = loss ? dam_backward_release(ex, loss, NULL, 0) : DAM_EINVAL;
  params_take_grads(p, true);
  dam_tensor *packed = st->packed;
  st->packed = into;
  if (!err)
    err = terms_pack_grads(run, st);
  st->packed = packed;
  return err;
}

/* DARTS' second-order term: the architecture gradient of the validation
 * loss at w' minus xi * (grad_a L_train(w+) - grad_a L_train(w-)) / (2 eps)
 * with w+- = w +- eps g_val, eps = 0.01 / ||g_val||, xi = the step's
 * learning rate; written back into st->packed.  w' is restored. */
static int darts_second_order(dam_run *run, dam_step_terms *st,
                              step_params *p, const train_pass *tp,
                              double xi) {
  dam_exec *ex = run->ex;
  uint32_t n_terms = st->n[0] + st->n[1];
  dam_shape one = dam_shape4(1, 0, 0, 0), all = dam_shape4(n_terms, 0, 0, 0);
  dam_tensor **keep = calloc(2 * (size_t)p->n + 1, sizeof *keep);
  dam_tensor *norm = dam_tensor_new(ex, &one, false);
  dam_tensor *plus = dam_tensor_new(ex, &all, false);
  dam_tensor *minus = dam_tensor_new(ex, &all, false);
  float *host = malloc(3 * (size_t)n_terms * sizeof *host), nv = 0;
  int err = keep && norm && plus && minus && host
                ? dam_k_grad_norm(ex, (const dam_tensor *const *)p->g, p->n,
                                  norm)
                : dam_fail(DAM_ENOMEM, "out of memory");
  dam_tensor **gval = keep, **wnow = keep + p->n;
  for (uint32_t i = 0; !err && i < p->n; i++) {
    gval[i] = dam_tensor_new(ex, &p->g[i]->shape, false);
    wnow[i] = dam_tensor_new(ex, &p->w[i]->shape, false);
    err = gval[i] && wnow[i] ? dam_k_copy(ex, p->g[i], gval[i]) : DAM_ENOMEM;
    if (!err)
      err = dam_k_copy(ex, p->w[i], wnow[i]);
  }
  if (!err)
    err = dam_tensor_download(ex, norm, &nv);
  float eps = 0.01f / (nv > 0 ? nv : 1.0f);
  if (!err)
    err = hessian_pass(run, st, p, gval, tp, eps, plus);
  if (!err)
    err = hessian_pass(run, st, p, gval, tp, -eps, minus);
  for (uint32_t i = 0; !err && i < p->n; i++)
    err = dam_k_copy(ex, wnow[i], p->w[i]);
  dam_range src[3] = {dam_tensor_range(st->packed), dam_tensor_range(plus),
                      dam_tensor_range(minus)};
  void *dst[3] = {host, host + n_terms, host + 2 * n_terms};
  if (!err)
    err = dam_exec_download_ranges(ex, src, 3, dst);
  for (uint32_t k = 0; !err && k < n_terms; k++)
    host[k] -= (float)(xi * (host[n_terms + k] - host[2 * n_terms + k]) /
                       (2.0 * eps));
  if (!err)
    err = dam_tensor_upload(ex, st->packed, host);
  free(keep);
  free(host);
  return err;
}

static int download_all(dam_run *run, const train_pass *tp,
                        const dam_step_terms *st, dam_tensor *val_loss,
                        dam_tensor *val_correct, step_readback *rb) {
  uint32_t n = tp->loss_i->shape.dim[0];
  uint32_t n_terms = st->n[0] + st->n[1];
  dam_range src[DAM_DOWNLOAD_RANGES];
  void *dst[DAM_DOWNLOAD_RANGES];
  uint32_t k = 0;
  rb->loss_i = malloc(n * sizeof *rb->loss_i);
  rb->logits = malloc(tp->logits->numel * sizeof *rb->logits);
  rb->arch_grad = malloc((n_terms ? n_terms : 1) * sizeof *rb->arch_grad);
  rb->hpo_dots = calloc((size_t)run->n_hpo * DAM_HPO_MAX_DOTS + 1,
                        sizeof *rb->hpo_dots);
  if (!rb->loss_i || !rb->logits || !rb->arch_grad || !rb->hpo_dots)
    return dam_fail(DAM_ENOMEM, "out of memory");
  int err = DAM_OK;
  /* a new gradient's zeros are written first (dam_tensor.zeros_pending) */
#define PUT(T, D)                                                             \
  (err = err ? err : dam_tensor_materialize(run->ex, T),                      \
   src[k] = dam_tensor_range(T), dst[k++] = (D))
  PUT(tp->loss_i, rb->loss_i);
  PUT(tp->logits, rb->logits);
  PUT(tp->loss, &rb->loss);
  PUT(st->packed, rb->arch_grad);
  if (val_loss) {
    PUT(val_loss, &rb->val_loss);
    PUT(val_correct, &rb->val_correct);
  }
  for (int s = 0; s < 2 && tp->mag[0]; s++) {
    if (!(rb->mag_grad[s] = malloc(n * sizeof *rb->mag_grad[s])))
      return dam_fail(DAM_ENOMEM, "out of memory");
    dam_tensor *g = dam_tensor_grad(run->ex, tp->mag[s]);
    if (!g)
      return DAM_ENOMEM;
    PUT(g, rb->mag_grad[s]);
  }
  for (uint32_t i = 0; i < run->n_hpo; i++)
    for (uint32_t d = 0; d < run->hpo[i]->desc->n_dots; d++)
      if (k < DAM_DOWNLOAD_RANGES)
        PUT(run->hpo[i]->dots[d], rb->hpo_dots + i * DAM_HPO_MAX_DOTS + d);
      else
        return dam_fail(DAM_EINVAL, "step: more than %d read-backs",
                        DAM_DOWNLOAD_RANGES);
#undef PUT
  return err ? err : dam_exec_download_ranges(run->ex, src, k, dst);
}

/* Host updates after the read-back: DA policy, magnitudes, arch, HPO. */
static int host_updates(dam_run *run, const train_pass *tp,
                        const dam_step_terms *st, const step_readback *rb,
                        const dam_hpo_step *hs) {
  const dam_config *cfg = run->cfg;
  int err = 0;
  if (cfg->da.enabled) {
    err = dam_da_policy_step(&run->policy, tp->batch.valid, tp->sample.pair,
                             rb->loss_i);
    if (!err && rb->mag_grad[0]) {
      const float *g[2] = {rb->mag_grad[0], rb->mag_grad[1]};
      dam_da_policy_magnitude_step(&run->policy, &tp->sample, g);
    }
  }
  if (!err && run->phase == DAM_PHASE_SEARCH) {
    dam_arch_add_grad(run->arch, 0, rb->arch_grad, 1.0);
    dam_arch_add_grad(run->arch, 1, rb->arch_grad + st->n[0], 1.0);
    err = dam_arch_step(run->arch);
  }
  for (uint32_t i = 0; !err && i < run->n_hpo; i++)
    err = dam_hpo_update(run->hpo[i], hs, rb->hpo_dots + i * DAM_HPO_MAX_DOTS);
  return err;
}

/* DAM_EDATA naming the step when a loss read back is not finite. */
static int finite_loss(const dam_run *run, const char *what, float v) {
  return isfinite(v) ? 0
                     : dam_fail(DAM_EDATA, "step %llu: the %s loss is %g",
                                (unsigned long long)run->step + 1, what,
                                (double)v);
}

int dam__search_step(dam_run *run, dam_step_result *r) {
  const dam_config *cfg = run->cfg;
  dam_exec *ex = run->ex;
  bool search = run->phase == DAM_PHASE_SEARCH;
  bool ista = cfg->nas.method == DAM_CONFIG_NAS_ISTA;
  bool need_val = cfg->hpo.enabled || (search && !ista);
  dam_step_terms st;
  step_params p = {0};
  train_pass tp = {0};
  step_readback rb = {0};
  dam_batch vb = {0};
  dam_tensor *val_loss = NULL, *val_correct = NULL;
  memset(r, 0, sizeof *r);
  int err = dam__terms_build(run, &st, search && ista);
  if (!err)
    err = params_collect(run, &st, &p);
  if (!err)
    err = grads_zero(ex, &p);
  if (!err)
    err = train_forward_backward(run, &st, &tp, true);
  if (!err)
    err = weight_step(run, &p, r);
  if (!err && search && ista)
    err = terms_pack_grads(run, &st);
  if (!err && need_val)
    err = validation_pass(run, &st, &p, run->n_hpo > 0 || second_order(run),
                          &val_loss, &val_correct, &vb);
  if (!err && search && !ista)
    err = terms_pack_grads(run, &st);
  if (!err && !search)
    err = dam_k_fill(ex, st.packed, 0.0f);
  dam_hpo_step hs = {sizeof hs,    p.n,   p.w,   p.buf,
                     needs_buf_prev(run) ? p.prev : NULL,
                     p.g,          r->lr, r->wd, r->momentum};
  for (uint32_t i = 0; !err && i < run->n_hpo; i++)
    err = dam_hpo_record(run->hpo[i], ex, &hs);
  if (!err && second_order(run))
    err = darts_second_order(run, &st, &p, &tp, r->lr);
  if (!err)
    err = download_all(run, &tp, &st, val_loss, val_correct, &rb);
  if (!err)
    err = finite_loss(run, "training", rb.loss);
  if (!err && val_loss)
    err = finite_loss(run, "validation", rb.val_loss);
  if (!err) {
    const dam_dataset *d = run->data->train;
    r->loss = rb.loss;
    r->acc = (double)count_correct(rb.logits, d->classes, d, tp.batch.samples,
                                   tp.batch.valid) / tp.batch.valid;
    r->val_loss = val_loss ? rb.val_loss : NAN;
    r->val_acc = val_loss ? rb.val_correct / vb.images->shape.dim[0] : NAN;
    err = host_updates(run, &tp, &st, &rb, &hs);
  }
  if (!err) {
    run->val_epoch = need_val ? vb.epoch + (vb.index + 1) /
                                    dam_batcher_per_epoch(run->val)
                              : run->val_epoch;
    run->val_index = need_val ? (vb.index + 1) % dam_batcher_per_epoch(run->val)
                              : run->val_index;
  }
  for (uint32_t i = 0; i < run->n_hpo; i++)
    run->hpo[i]->pending = false;
  int end = dam_exec_end_step(ex);
  dam_da_sample_free(&tp.sample);
  readback_free(&rb);
  params_free(&p);
  dam__terms_free(&st);
  return err ? err : end;
}

int dam__weight_step(dam_run *run, dam_step_result *r) {
  dam_step_terms st;
  step_params p = {0};
  train_pass tp = {0};
  memset(r, 0, sizeof *r);
  int err = dam__terms_build(run, &st, false);
  if (!err)
    err = params_collect(run, &st, &p);
  if (!err)
    err = grads_zero(run->ex, &p);
  if (!err)
    err = train_forward_backward(run, &st, &tp, false);
  if (!err)
    err = weight_step(run, &p, r);
  float loss = NAN;
  if (!err)
    err = dam_tensor_download(run->ex, tp.loss, &loss);
  if (!err)
    err = finite_loss(run, "training", loss);
  r->loss = loss;
  int end = dam_exec_end_step(run->ex);
  params_free(&p);
  dam__terms_free(&st);
  return err ? err : end;
}

int dam__arch_step(dam_run *run, dam_step_result *r) {
  dam_step_terms st;
  step_params p = {0};
  dam_batch vb = {0};
  dam_tensor *loss = NULL, *correct = NULL;
  memset(r, 0, sizeof *r);
  int err = dam__terms_build(run, &st, true);
  if (!err)
    err = params_collect(run, &st, &p);
  if (!err)
    err = validation_pass(run, &st, &p, false, &loss, &correct, &vb);
  if (!err)
    err = terms_pack_grads(run, &st);
  float *grad = malloc((st.n[0] + st.n[1] + 1) * sizeof *grad), v = NAN;
  if (!err && !grad)
    err = dam_fail(DAM_ENOMEM, "out of memory");
  if (!err) {
    dam_range src[2] = {dam_tensor_range(st.packed), dam_tensor_range(loss)};
    void *dst[2] = {grad, &v};
    err = dam_exec_download_ranges(run->ex, src, 2, dst);
  }
  if (!err)
    err = finite_loss(run, "validation", v);
  r->val_loss = v;
  if (!err) {
    dam_arch_add_grad(run->arch, 0, grad, 1.0);
    dam_arch_add_grad(run->arch, 1, grad + st.n[0], 1.0);
    err = dam_arch_step(run->arch);
  }
  int end = dam_exec_end_step(run->ex);
  free(grad);
  params_free(&p);
  dam__terms_free(&st);
  return err ? err : end;
}

int dam__evaluate(dam_run *run, const dam_dataset *test, double *acc,
                  double *loss) {
  uint32_t *idx = malloc(test->n * sizeof *idx);
  if (!idx)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < test->n; i++)
    idx[i] = i;
  uint32_t bs = (uint32_t)run->cfg->train.eval_batch_size;
  dam_batcher_opts bo = {.batch_size = bs < test->n ? bs : test->n,
                         .pad_partial = true};
  dam_batcher *b = NULL;
  dam_step_terms st = {0};
  float *logits = malloc((size_t)bo.batch_size * test->classes * sizeof *logits);
  float *per = malloc(bo.batch_size * sizeof *per);
  uint64_t correct = 0;
  double sum = 0;
  int err = logits && per ? dam_batcher_create(run->ex, test, idx, test->n,
                                               &bo, &b)
                          : dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t k = 0; !err && k < dam_batcher_per_epoch(b); k++) {
    dam_batch batch;
    dam_tensor *y = NULL, *l = NULL, *x = NULL;
    if (!(err = dam__terms_build(run, &st, false)) &&
        !(err = dam_batcher_next(b, &batch)) &&
        (x = normalize(run, batch.images))) {
      dam_supernet_pass p = pass_of(run, &st, false, 0.0f);
      if ((y = dam_supernet_forward(run->ex, run->net, x, &p, NULL)))
        l = dam_softmax_xent(run->ex, y, batch.labels);
    }
    if (!err && !l)
      err = DAM_EINVAL;
    dam_range src[2] = {l ? dam_tensor_range(y) : (dam_range){0},
                        l ? dam_tensor_range(l) : (dam_range){0}};
    void *dst[2] = {logits, per};
    if (!err)
      err = dam_exec_download_ranges(run->ex, src, 2, dst);
    if (!err) {
      correct += count_correct(logits, test->classes, test, batch.samples,
                               batch.valid);
      for (uint32_t i = 0; i < batch.valid; i++)
        sum += per[i];
    }
    dam__terms_free(&st);
    int end = dam_exec_end_step(run->ex);
    err = err ? err : end;
  }
  dam_batcher_free(b);
  free(idx);
  free(logits);
  free(per);
  *acc = test->n ? (double)correct / test->n : 0;
  *loss = test->n ? sum / test->n : 0;
  return err;
}
