/*
 * Optimizer kernels: SGD (DHA form) and Adam steps, and the reductions over
 * sets of parameter tensors (dot products, gradient norm) with clipping.
 *
 * A set reduction over n tensors binds DOT_SETS pairs per dispatch, each
 * dispatch writing the partial sums of its pairs into its own aligned
 * slice of one step tensor.  The slices are disjoint buffer ranges, so the
 * runtime puts no barrier between these dispatches; then one or two
 * strided passes reduce the slices to the one-element result (taking the
 * square root in the last pass for a norm).  Clipping binds CLIP_SETS
 * gradients per dispatch and reads the norm on the device.  Nothing is
 * read back: over 100 tensors, the norm, the clipping and two dots take
 * 58 dispatches and no host wait.
 */
#include "optim.h"
#include "kernel_util.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

#include "adam.spv.h"
#include "clip.spv.h"
#include "optim_dot_sets.spv.h"
#include "optim_reduce.spv.h"
#include "sgd.spv.h"
#include "sgd_sets.spv.h"

/* Tensors per dispatch of optim_dot_sets.comp (pairs) and clip.comp
 * (SETS there). */
#define DOT_SETS 7
#define CLIP_SETS 15
#define SGD_SETS 5

DAM_SHADER(sgd, 3, 0x5, 20);
DAM_SHADER(sgd_sets, 3 * SGD_SETS + 1, 0xb6da, 4 * (SGD_SETS + 7));
DAM_SHADER(adam, 4, 0xd, 28);
DAM_SHADER(clip, CLIP_SETS + 1, 0xfffe, 4 * (CLIP_SETS + 3));
DAM_SHADER(optim_dot_sets, 2 * DOT_SETS + 1, 1u << (2 * DOT_SETS),
           4 * 3 * DOT_SETS);
DAM_SHADER(optim_reduce, 3, 0x4, 16);

/* Each partial-sum (or clipping, or update) invocation takes at least
 * this many elements of a tensor on a CPU device, GPU_PER_INVOCATION on a
 * GPU (whose invocations each wait on memory: on an H200 sgd_sets took
 * 95 us a dispatch at 128); a later pass at least REDUCE_PER_INVOCATION
 * partial sums. */
#define PARTIAL_PER_INVOCATION 128
#define GPU_PER_INVOCATION 4
#define REDUCE_PER_INVOCATION 64
#define MAX_PARTS 4096

typedef struct reduce_push {
  uint32_t n, parts, dot, root;
} reduce_push;

typedef struct dot_sets_push {
  uint32_t n[DOT_SETS], parts[DOT_SETS], end[DOT_SETS];
} dot_sets_push;

typedef struct clip_push {
  uint32_t n[CLIP_SETS];
  float max_norm;
  uint32_t per, max_parts;
} clip_push;

int dam_k_sgd(dam_exec *ex, dam_tensor *w, const dam_tensor *g,
              dam_tensor *buf, float lr, float wd, float momentum,
              bool nesterov) {
  const dam_tensor *t[] = {w, g, buf};
  int err = dam__k_check("sgd", t, 3, w ? w->numel : 0);
  if (err)
    return err;
  struct { uint32_t n; float lr, wd, momentum; uint32_t nesterov; } push = {
      (uint32_t)w->numel, lr, wd, momentum, nesterov};
  return dam__k_run(ex, &shader_sgd, t, &push, w->numel);
}

int dam_k_adam(dam_exec *ex, dam_tensor *w, const dam_tensor *g,
               dam_tensor *m, dam_tensor *v, const dam_adam_args *a) {
  const dam_tensor *t[] = {w, g, m, v};
  int err = dam__k_check("adam", t, 4, w ? w->numel : 0);
  if (err)
    return err;
  if (!a)
    return dam_fail(DAM_EINVAL, "adam: arguments are NULL");
  if (a->step < 1)
    return dam_fail(DAM_EINVAL, "adam: step %u, the first step is 1",
                    a->step);
  if (!(a->beta1 >= 0 && a->beta1 < 1) || !(a->beta2 >= 0 && a->beta2 < 1))
    return dam_fail(DAM_EINVAL, "adam: betas (%g, %g) outside [0, 1)",
                    a->beta1, a->beta2);
  if (!(a->eps >= 0))
    return dam_fail(DAM_EINVAL, "adam: eps %g is negative", a->eps);
  double bc1 = 1.0 - pow(a->beta1, a->step);
  double bc2 = 1.0 - pow(a->beta2, a->step);
  struct {
    uint32_t n;
    float step_size, beta1, beta2, eps, wd, inv_sqrt_bc2;
  } push = {(uint32_t)w->numel, (float)(a->lr / bc1), a->beta1, a->beta2,
            a->eps, a->wd, (float)(1.0 / sqrt(bc2))};
  return dam__k_run(ex, &shader_adam, t, &push, w->numel);
}

static uint32_t partial_per(const dam_exec *ex) {
  return dam__k_cpu_device(ex) ? PARTIAL_PER_INVOCATION : GPU_PER_INVOCATION;
}

/* Invocations of the partial-sum pass over a tensor of n elements. */
static uint32_t partial_parts(const dam_exec *ex, uint64_t n) {
  uint32_t per = partial_per(ex);
  uint64_t parts = (n + per - 1) / per;
  return parts < 1 ? 1 : parts > MAX_PARTS ? MAX_PARTS : (uint32_t)parts;
}

/* Elements per slice so that every slice starts on a binding offset the
 * device accepts. */
static uint32_t slot_align(const dam_exec *ex) {
  VkDeviceSize a = ex->dev->props.limits.minStorageBufferOffsetAlignment;
  return a <= sizeof(float) ? 1 : (uint32_t)((a + 3) / sizeof(float));
}

static uint32_t round_up(uint32_t v, uint32_t a) {
  return (v + a - 1) / a * a;
}

static int check_sets(const char *op, const dam_tensor *const *a,
                      const dam_tensor *const *b, uint32_t n,
                      const dam_tensor *y) {
  if (n && (!a || !b))
    return dam_fail(DAM_EINVAL, "%s: tensor array is NULL", op);
  int err = dam__k_check(op, &y, 1, 0);
  if (err)
    return err;
  if (y->numel != 1)
    return dam_fail(DAM_ESHAPE, "%s: result has %llu elements, expected 1",
                    op, (unsigned long long)y->numel);
  for (uint32_t i = 0; i < n; i++) {
    const dam_tensor *pair[] = {a[i], b[i]};
    if (!a[i] || !b[i])
      return dam_fail(DAM_EINVAL, "%s: tensor %u of the set is NULL", op, i);
    if ((err = dam__k_check(op, pair, 2, a[i]->numel)))
      return dam_fail(err, "%s (pair %u)", dam_last_error(), i);
  }
  return DAM_OK;
}

/* Strided passes reducing the first n elements of `part` to y[0]. */
static int reduce_to_one(dam_exec *ex, const dam_tensor *part, uint32_t n,
                         dam_tensor *y, bool root) {
  reduce_push push = {n, 0, 0, 0};
  for (;;) {
    uint32_t parts = (push.n + REDUCE_PER_INVOCATION - 1) /
                     REDUCE_PER_INVOCATION;
    push.parts = parts <= 1 ? 1 : parts < MAX_PARTS ? parts : MAX_PARTS;
    push.root = push.parts == 1 && root;
    const dam_tensor *out = y;
    if (push.parts > 1) {
      dam_shape s = dam_shape4(push.parts, 0, 0, 0);
      if (!(out = dam_tensor_new(ex, &s, false)))
        return DAM_ENOMEM;
    }
    const dam_tensor *t[] = {part, part, out};
    int err = dam__k_run(ex, &shader_optim_reduce, t, &push, push.parts);
    if (err || push.parts == 1)
      return err;
    part = out;
    push.n = push.parts;
  }
}

/* The push constants of the partial-sum dispatch over pairs
 * [first, first + DOT_SETS) (fewer at the end of the set); returns its
 * slot count, padded so that the next slice starts on a binding offset. */
static uint32_t batch_slots(const dam_exec *ex, const dam_tensor *const *a,
                            uint32_t first, uint32_t n, uint32_t align,
                            dot_sets_push *push) {
  uint32_t end = 0, k = 0;
  memset(push, 0, sizeof *push);
  for (; k < DOT_SETS && first + k < n; k++) {
    push->n[k] = (uint32_t)a[first + k]->numel;
    push->parts[k] = partial_parts(ex, push->n[k]);
    push->end[k] = end += push->parts[k];
  }
  end = round_up(end, align);
  for (uint32_t j = k - 1; j < DOT_SETS; j++)
    push->end[j] = end;
  return end;
}

/* Write the pending zeros of the n tensors t (dam_tensor.zeros_pending):
 * the set kernels bind their ranges directly. */
static int materialize(dam_exec *ex, const dam_tensor *const *t, uint32_t n) {
  int err = DAM_OK;
  for (uint32_t i = 0; i < n && !err; i++)
    err = dam_tensor_materialize(ex, (dam_tensor *)t[i]);
  return err;
}

static int sets_reduce(dam_exec *ex, const char *op,
                       const dam_tensor *const *a,
                       const dam_tensor *const *b, uint32_t n, dam_tensor *y,
                       bool root) {
  int err = check_sets(op, a, b, n, y);
  if (!err)
    err = materialize(ex, a, n);
  if (!err)
    err = materialize(ex, b, n);
  if (err)
    return err;
  if (n == 0)
    return dam_k_fill(ex, y, 0.0f);
  if (n == 1 && partial_parts(ex, a[0]->numel) == 1) {
    reduce_push push = {(uint32_t)a[0]->numel, 1, 1, root};
    const dam_tensor *t[] = {a[0], b[0], y};
    return dam__k_run(ex, &shader_optim_reduce, t, &push, 1);
  }
  uint32_t align = slot_align(ex);
  uint64_t total = 0;
  dot_sets_push push;
  for (uint32_t i = 0; i < n; i += DOT_SETS)
    total += batch_slots(ex, a, i, n, align, &push);
  if (total > UINT32_MAX)
    return dam_fail(DAM_ERANGE, "%s: %u tensors need too many partial sums",
                    op, n);
  dam_shape s = dam_shape4((uint32_t)total, 0, 0, 0);
  dam_tensor *part = dam_tensor_new(ex, &s, false);
  if (!part)
    return DAM_ENOMEM;
  dam_range whole = dam_tensor_range(part), r[2 * DOT_SETS + 1];
  VkDeviceSize offset = whole.offset;
  for (uint32_t i = 0; i < n; i += DOT_SETS) {
    uint32_t slots = batch_slots(ex, a, i, n, align, &push);
    for (uint32_t k = 0; k < DOT_SETS; k++) {
      uint32_t t = i + k < n ? i + k : i;
      r[k] = dam_tensor_range(a[t]);
      r[DOT_SETS + k] = dam_tensor_range(b[t]);
    }
    r[2 * DOT_SETS] = (dam_range){whole.buffer, offset,
                                  slots * sizeof(float)};
    if ((err = dam_exec_dispatch(ex, &shader_optim_dot_sets, r,
                                 2 * DOT_SETS + 1, &push, slots)))
      return err;
    offset += slots * sizeof(float);
  }
  return reduce_to_one(ex, part, (uint32_t)total, y, root);
}

int dam_k_dot_sets(dam_exec *ex, const dam_tensor *const *a,
                   const dam_tensor *const *b, uint32_t n, dam_tensor *y) {
  return sets_reduce(ex, "dot_sets", a, b, n, y, false);
}

int dam_k_grad_norm(dam_exec *ex, const dam_tensor *const *g, uint32_t n,
                    dam_tensor *norm) {
  return sets_reduce(ex, "grad_norm", g, g, n, norm, true);
}

int dam_k_clip_by_norm(dam_exec *ex, dam_tensor *const *g, uint32_t n,
                       const dam_tensor *norm, float max_norm) {
  int err = dam__k_check("clip_by_norm", &norm, 1, 0);
  if (err)
    return err;
  if (norm->numel != 1)
    return dam_fail(DAM_ESHAPE, "clip_by_norm: norm has %llu elements, "
                    "expected 1", (unsigned long long)norm->numel);
  if (!(max_norm > 0))
    return dam_fail(DAM_EINVAL, "clip_by_norm: max_norm %g is not > 0",
                    max_norm);
  if (n && !g)
    return dam_fail(DAM_EINVAL, "clip_by_norm: tensor array is NULL");
  for (uint32_t i = 0; i < n; i++) {
    const dam_tensor *t = g[i];
    if ((err = dam__k_check("clip_by_norm", &t, 1, 0)))
      return dam_fail(err, "%s (gradient %u)", dam_last_error(), i);
  }
  if ((err = materialize(ex, (const dam_tensor *const *)g, n)))
    return err;
  for (uint32_t i = 0; i < n; i += CLIP_SETS) {
    clip_push push = {.max_norm = max_norm,
                      .per = partial_per(ex),
                      .max_parts = MAX_PARTS};
    dam_range r[CLIP_SETS + 1] = {dam_tensor_range(norm)};
    uint32_t invocations = 0;
    for (uint32_t k = 0; k < CLIP_SETS; k++) {
      bool used = i + k < n;
      r[1 + k] = dam_tensor_range(g[used ? i + k : i]);
      push.n[k] = used ? (uint32_t)g[i + k]->numel : 0;
      invocations += used ? partial_parts(ex, push.n[k]) : 0;
    }
    if ((err = dam_exec_dispatch(ex, &shader_clip, r, CLIP_SETS + 1, &push,
                                 invocations)))
      return err;
  }
  return DAM_OK;
}

typedef struct sgd_sets_push {
  uint32_t n[SGD_SETS];
  float lr, wd, momentum;
  uint32_t nesterov;
  float max_norm;
  uint32_t per, max_parts;
} sgd_sets_push;

int dam_k_sgd_sets(dam_exec *ex, dam_tensor *const *w, dam_tensor *const *g,
                   dam_tensor *const *buf, uint32_t n, const dam_tensor *norm,
                   float max_norm, const dam_sgd_args *a) {
  int err = norm ? dam__k_check("sgd_sets", &norm, 1, 1) : 0;
  if (err)
    return err;
  if (!a || (n && (!w || !g || !buf)))
    return dam_fail(DAM_EINVAL, "sgd_sets: NULL arguments");
  if (norm && !(max_norm > 0))
    return dam_fail(DAM_EINVAL, "sgd_sets: max_norm %g is not > 0",
                    max_norm);
  for (uint32_t i = 0; i < n; i++) {
    const dam_tensor *t[] = {w[i], g[i], buf[i]};
    if ((err = dam__k_check("sgd_sets", t, 3, w[i] ? w[i]->numel : 0)))
      return dam_fail(err, "%s (tensor %u)", dam_last_error(), i);
  }
  if ((err = materialize(ex, (const dam_tensor *const *)g, n)))
    return err;
  for (uint32_t i = 0; i < n; i += SGD_SETS) {
    sgd_sets_push push = {.lr = a->lr, .wd = a->wd, .momentum = a->momentum,
                          .nesterov = a->nesterov,
                          .max_norm = norm ? max_norm : 0.0f,
                          .per = partial_per(ex),
                          .max_parts = MAX_PARTS};
    dam_range r[3 * SGD_SETS + 1];
    r[0] = dam_tensor_range(norm ? norm : w[i]);
    uint32_t invocations = 0;
    for (uint32_t k = 0; k < SGD_SETS; k++) {
      uint32_t j = i + k < n ? i + k : i;
      r[1 + 3 * k] = dam_tensor_range(w[j]);
      r[2 + 3 * k] = dam_tensor_range(g[j]);
      r[3 + 3 * k] = dam_tensor_range(buf[j]);
      push.n[k] = i + k < n ? (uint32_t)w[j]->numel : 0;
      invocations += push.n[k] ? partial_parts(ex, push.n[k]) : 0;
    }
    if ((err = dam_exec_dispatch(ex, &shader_sgd_sets, r, 3 * SGD_SETS + 1,
                                 &push, invocations)))
      return err;
  }
  return DAM_OK;
}
