/*
 * Optimizer kernels: SGD (DHA form) and Adam steps, and the reductions over
 * sets of parameter tensors (dot products, gradient norm) with clipping.
 *
 * The weight step and the set reductions take a whole set in one dispatch
 * per group of tensors that share their buffers (usually one: the
 * persistent pool's block): the group's ranges are bound once, each
 * covering its tensors, and a table of offsets (shaders/optim_table.glsl,
 * uploaded into a step tensor) tells each invocation its tensor.  A
 * reduction's groups write their partial sums into aligned slices of one
 * step tensor, then one or two strided passes reduce them to the
 * one-element result (taking the square root in the last pass for a norm).
 * Clipping alone binds CLIP_SETS gradients per dispatch.  Nothing is read
 * back: no kernel here waits on the host.
 */
#include "optim.h"
#include "kernel_util.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.spv.h"
#include "clip.spv.h"
#include "optim_dot_table.spv.h"
#include "optim_reduce.spv.h"
#include "sgd.spv.h"
#include "sgd_table.spv.h"

/* Tensors per dispatch of clip.comp (SETS there). */
#define CLIP_SETS 15
/* uint32s per tensor in a set's table (OPTIM_ENTRY in optim_table.glsl). */
#define TABLE_ENTRY 8

DAM_SHADER(sgd, 3, 0x5, 20);
DAM_SHADER(sgd_table, 5, 0xa, 24);
DAM_SHADER(adam, 4, 0xd, 28);
DAM_SHADER(clip, CLIP_SETS + 1, 0xfffe, 4 * (CLIP_SETS + 3));
DAM_SHADER(optim_dot_table, 4, 0x8, 8);
DAM_SHADER(optim_reduce, 3, 0x4, 16);

/* Each partial-sum (or clipping, or update) invocation takes at least
 * this many elements of a tensor on a CPU device, GPU_PER_INVOCATION on a
 * GPU (whose invocations each wait on memory: on an H200 the update took
 * 95 us a dispatch of five tensors at 128); a later pass at least
 * REDUCE_PER_INVOCATION partial sums. */
#define PARTIAL_PER_INVOCATION 128
#define GPU_PER_INVOCATION 4
#define REDUCE_PER_INVOCATION 64
#define MAX_PARTS 4096

typedef struct reduce_push {
  uint32_t n, parts, dot, root;
} reduce_push;

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

/* A set of tensor tuples (t[r][i], r < roles) in groups whose tensors
 * share their buffers (usually one group), each taking one dispatch: per
 * group the range covering each role's tensors, its invocations, and the
 * range of its table (shaders/optim_table.glsl) in one step tensor that
 * holds every group's, uploaded at once. */
typedef struct table_group {
  dam_range range[3], table;
  uint32_t members, slots;
} table_group;

typedef struct set_plan {
  table_group *group;
  uint32_t n_groups;
  dam_tensor *table;
} set_plan;

static bool same_buffers(const dam_tensor *const *const *t, uint32_t roles,
                         uint32_t i, uint32_t j) {
  for (uint32_t r = 0; r < roles; r++)
    if (t[r][i]->mem.buffer != t[r][j]->mem.buffer)
      return false;
  return true;
}

static void set_plan_free(dam_exec *ex, set_plan *plan) {
  dam_tensor_release(ex, plan->table);
  free(plan->group);
}

/* Fills the table entries of `plan`'s groups (of[i]: tuple i's group,
 * start[k]: group k's first entry). */
static void fill_entries(const dam_exec *ex,
                         const dam_tensor *const *const *t, uint32_t roles,
                         uint32_t n, const uint32_t *of, const uint32_t *start,
                         set_plan *plan, uint32_t *entry) {
  for (uint32_t i = 0; i < n; i++) {
    table_group *g = &plan->group[of[i]];
    uint32_t *e = entry + TABLE_ENTRY * (start[of[i]] + g->members++);
    for (uint32_t r = 0; r < roles; r++)
      e[r] = (uint32_t)((t[r][i]->mem.offset - g->range[r].offset) /
                        sizeof(float));
    e[3] = (uint32_t)t[0][i]->numel;
    e[4] = g->slots;
    g->slots += partial_parts(ex, t[0][i]->numel);
  }
  for (uint32_t k = 0; k < plan->n_groups; k++)
    entry[TABLE_ENTRY * (start[k] + plan->group[k].members) + 4] =
        plan->group[k].slots;
}

static int set_plan_make(dam_exec *ex, const dam_tensor *const *const *t,
                         uint32_t roles, uint32_t n, set_plan *plan) {
  memset(plan, 0, sizeof *plan);
  uint32_t *of = calloc(2 * (size_t)n + 1, sizeof *of), *first = of + n;
  plan->group = calloc(n, sizeof *plan->group);
  if (!of || !plan->group) {
    free(of);
    free(plan->group);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = 0;
    while (k < plan->n_groups && !same_buffers(t, roles, first[k], i))
      k++;
    table_group *g = &plan->group[k];
    if (k == plan->n_groups) {
      first[plan->n_groups++] = i;
      for (uint32_t r = 0; r < roles; r++)
        g->range[r] = dam_tensor_range(t[r][i]);
    }
    of[i] = k;
    for (uint32_t r = 0; r < roles; r++) {
      dam_range *c = &g->range[r], x = dam_tensor_range(t[r][i]);
      VkDeviceSize end = c->offset + c->size;
      end = x.offset + x.size > end ? x.offset + x.size : end;
      c->offset = x.offset < c->offset ? x.offset : c->offset;
      c->size = end - c->offset;
    }
    g->members++;
  }
  /* each group's table starts on a binding offset the device accepts */
  uint32_t align = (slot_align(ex) + TABLE_ENTRY - 1) / TABLE_ENTRY, total = 0;
  for (uint32_t k = 0; k < plan->n_groups; k++) {
    first[k] = total; /* now the group's first entry */
    total = round_up(total + plan->group[k].members + 1, align);
    plan->group[k].members = 0;
  }
  uint32_t *entry = calloc((size_t)total * TABLE_ENTRY, sizeof *entry);
  dam_shape s = dam_shape4(total * TABLE_ENTRY, 0, 0, 0);
  plan->table = entry ? dam_tensor_new(ex, &s, false) : NULL;
  int err = !entry         ? dam_fail(DAM_ENOMEM, "out of memory")
            : plan->table ? DAM_OK
                          : DAM_ENOMEM;
  if (!err) {
    fill_entries(ex, t, roles, n, of, first, plan, entry);
    err = dam_tensor_upload(ex, plan->table, (const float *)entry);
  }
  dam_range whole = plan->table ? dam_tensor_range(plan->table)
                                : (dam_range){0};
  for (uint32_t k = 0; !err && k < plan->n_groups; k++)
    plan->group[k].table = (dam_range){
        whole.buffer, whole.offset + first[k] * TABLE_ENTRY * sizeof(float),
        (plan->group[k].members + 1) * TABLE_ENTRY * sizeof(float)};
  free(entry);
  free(of);
  if (err)
    set_plan_free(ex, plan);
  return err;
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
  const dam_tensor *const *pair[] = {a, b};
  set_plan plan;
  if ((err = set_plan_make(ex, pair, 2, n, &plan)))
    return err;
  uint32_t align = slot_align(ex);
  uint64_t total = 0;
  for (uint32_t k = 0; k < plan.n_groups; k++)
    total += round_up(plan.group[k].slots, align);
  dam_shape s = dam_shape4((uint32_t)total, 0, 0, 0);
  dam_tensor *part = NULL;
  if (total > UINT32_MAX)
    err = dam_fail(DAM_ERANGE, "%s: %u tensors need too many partial sums",
                   op, n);
  else if (!(part = dam_tensor_new(ex, &s, false)))
    err = DAM_ENOMEM;
  dam_range whole = part ? dam_tensor_range(part) : (dam_range){0};
  VkDeviceSize offset = whole.offset;
  for (uint32_t k = 0; k < plan.n_groups && !err; k++) {
    const table_group *g = &plan.group[k];
    struct { uint32_t tensors, slots; } push = {g->members,
                                                round_up(g->slots, align)};
    dam_range r[] = {g->range[0], g->range[1], g->table,
                     {whole.buffer, offset, push.slots * sizeof(float)}};
    err = dam_exec_dispatch(ex, &shader_optim_dot_table, r, 4, &push,
                            push.slots);
    offset += push.slots * sizeof(float);
  }
  set_plan_free(ex, &plan);
  if (err)
    return err;
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
  const dam_tensor *const *sets[] = {(const dam_tensor *const *)w,
                                     (const dam_tensor *const *)g,
                                     (const dam_tensor *const *)buf};
  set_plan plan;
  if (n == 0 || (err = set_plan_make(ex, sets, 3, n, &plan)))
    return err;
  for (uint32_t k = 0; k < plan.n_groups && !err; k++) {
    const table_group *grp = &plan.group[k];
    struct {
      float lr, wd, momentum;
      uint32_t nesterov;
      float max_norm;
      uint32_t tensors;
    } push = {a->lr, a->wd, a->momentum, a->nesterov,
              norm ? max_norm : 0.0f, grp->members};
    dam_range r[] = {norm ? dam_tensor_range(norm) : grp->range[1],
                     grp->range[0], grp->range[1], grp->range[2], grp->table};
    err = dam_exec_dispatch(ex, &shader_sgd_table, r, 5, &push, grp->slots);
  }
  set_plan_free(ex, &plan);
  return err;
}
