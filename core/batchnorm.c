/*
 * Batch normalization kernels over the bn_*.comp shaders.  Training and
 * backward reduce each channel in one barrier-free pass: many invocations
 * per channel write partial sums, and the channel's last one to finish
 * adds them and folds everything the elementwise pass needs into four
 * coefficients per channel (shaders/bn_reduce.glsl), which that pass
 * reads once per invocation.  On CPU devices a subgroup per channel does
 * the statistics alone, and the backward's sums and gx in one dispatch
 * (the bn_*_channel shaders): there a launch costs more than the
 * parallelism of the split.
 */
#include "batchnorm.h"
#include "error.h"
#include "kernel_util.h"
#include "part_sums.h"

#include <string.h>

#include "bn_apply.spv.h"
#include "bn_apply_flat.spv.h"
#include "bn_backward_apply.spv.h"
#include "bn_backward_apply_set.spv.h"
#include "bn_backward_apply_flat.spv.h"
#include "bn_backward_apply_flat_set.spv.h"
#include "bn_backward_channel.spv.h"
#include "bn_backward_channel_set.spv.h"
#include "bn_backward_channel_flat.spv.h"
#include "bn_backward_channel_flat_set.spv.h"
#include "bn_backward_channel_pair.spv.h"
#include "bn_backward_channel_pair_set.spv.h"
#include "bn_backward_channel_flat_pair.spv.h"
#include "bn_backward_channel_flat_pair_set.spv.h"
#include "bn_backward_stats.spv.h"
#include "bn_backward_stats_flat.spv.h"
#include "bn_backward_stats_flat_wg.spv.h"
#include "bn_backward_stats_wg.spv.h"
#include "bn_eval_coef.spv.h"
#include "bn_stats.spv.h"
#include "bn_stats_channel.spv.h"
#include "bn_stats_channel_flat.spv.h"
#include "bn_stats_channel_flat_pair.spv.h"
#include "bn_stats_channel_pair.spv.h"
#include "bn_stats_flat.spv.h"
#include "bn_stats_flat_wg.spv.h"
#include "bn_stats_wg.spv.h"

DAM_SHADER_TEXEL(bn_stats, 10, 0x3F8, 0x1, 32);
DAM_SHADER_TEXEL(bn_stats_flat, 10, 0x3F8, 0x1, 32);
DAM_SHADER_TEXEL(bn_backward_stats, 11, 0x3E0, 0x3, 24);
DAM_SHADER_TEXEL(bn_backward_stats_flat, 11, 0x3E0, 0x3, 24);
DAM_SHADER_TEXEL(bn_stats_wg, 10, 0x3F8, 0x1, 32);
DAM_SHADER_TEXEL(bn_stats_flat_wg, 10, 0x3F8, 0x1, 32);
DAM_SHADER_TEXEL(bn_backward_stats_wg, 11, 0x3E0, 0x3, 24);
DAM_SHADER_TEXEL(bn_backward_stats_flat_wg, 11, 0x3E0, 0x3, 24);
/* The one-pass reductions by device (CPU, GPU: the _wg variants) and by
 * plane (vec4s or floats, or the vec4s covering the tensor). */
static const dam_shader *const stats_shaders[2][2] = {
    {&shader_bn_stats, &shader_bn_stats_flat},
    {&shader_bn_stats_wg, &shader_bn_stats_flat_wg}};
static const dam_shader *const backward_stats_shaders[2][2] = {
    {&shader_bn_backward_stats, &shader_bn_backward_stats_flat},
    {&shader_bn_backward_stats_wg, &shader_bn_backward_stats_flat_wg}};
DAM_SHADER(bn_eval_coef, 5, 0x10, 12);
DAM_SHADER_TEXEL(bn_apply, 3, 0x4, 0x1, 20);
DAM_SHADER_TEXEL(bn_backward_apply, 4, 0x8, 0x3, 20);
DAM_SHADER_TEXEL(bn_apply_flat, 3, 0x4, 0x1, 20);
DAM_SHADER_TEXEL(bn_backward_apply_flat, 4, 0x8, 0x3, 20);
DAM_SHADER_TEXEL(bn_backward_apply_set, 4, 0x8, 0x3, 20);
DAM_SHADER_TEXEL(bn_backward_apply_flat_set, 4, 0x8, 0x3, 20);
DAM_SHADER_SIZED(bn_stats_channel, 8, 0xF8, 0x1, 32, 8);
DAM_SHADER_SIZED(bn_stats_channel_flat, 8, 0xF8, 0x1, 32, 8);
DAM_SHADER_SIZED(bn_stats_channel_pair, 14, 0x3EF8, 0x101, 32, 8);
DAM_SHADER_SIZED(bn_stats_channel_flat_pair, 14, 0x3EF8, 0x101, 32, 8);
DAM_SHADER_SIZED(bn_backward_channel, 9, 0xE0, 0x3, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_set, 9, 0xE0, 0x3, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_flat, 9, 0xE0, 0x3, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_flat_set, 9, 0xE0, 0x3, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_pair, 14, 0x10E0, 0x203, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_pair_set, 14, 0x10E0, 0x203, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_flat_pair, 14, 0x10E0, 0x203, 20, 8);
DAM_SHADER_SIZED(bn_backward_channel_flat_pair_set, 14, 0x10E0, 0x203, 20,
                 8);

/* Most invocations per channel in the one-pass reductions on a CPU
 * device, whose last one adds their partial sums alone, and on a GPU,
 * whose workgroups (of REDUCE_WG) each add theirs first and whose last
 * workgroup adds at most one partial a lane.  When a GPU's last invocation
 * added them alone, that sum was the cost: at 64x16x28x28 to 64x64x7x7 on
 * an H200, 128 parts took 37-66 us a pass, 1024 78-90 us and 32 42-125 us
 * (bench kernels batchnorm). */
#define MAX_PARTS 1024
/* the local size of bn_stats.glsl and bn_backward_stats.glsl */
#define REDUCE_WG 64
#define GPU_MAX_PARTS (REDUCE_WG * REDUCE_WG)
/* Accesses (floats, or vec4s where a plane is a multiple of 4 floats) of a
 * plane each elementwise invocation makes. */
#define PER_INVOCATION 8
/* Vec4s of each invocation's span in the flat elementwise passes. */
#define FLAT_SPAN 32
/* Invocations (one subgroup) per channel in the bn_*_channel shaders. */
#define CHANNEL_LANES 8

typedef struct bn_geom {
  uint32_t n, c, hw, count; /* count = n * hw, the elements of a channel */
} bn_geom;

/* Push constants of the elementwise passes over planes: `parts`
 * invocations share a plane; wide 1 when planes are read as vec4s
 * (tensors start 64-byte aligned), 2 when only the whole tensor is (the
 * bn_*_flat shaders). */
typedef struct planes_push {
  uint32_t planes, c, hw, parts, wide;
} planes_push;

/* Push constants of the reductions (shaders/bn_stats.glsl and
 * bn_backward_stats.glsl; the backward's end at flags). */
typedef struct reduce_push {
  uint32_t n, c, hw, parts, wide, flags;
  float eps, momentum;
} reduce_push;

/* Split each plane over invocations of `per` accesses (of a float, or of a
 * vec4 where the plane is a multiple of 4 floats). */
static planes_push planes_split(const bn_geom *g, uint32_t per) {
  uint32_t wide = g->hw % 4 == 0, units = wide ? g->hw / 4 : g->hw;
  return (planes_push){g->n * g->c, g->c, g->hw, (units + per - 1) / per,
                       wide};
}

static bool force_split;

void dam__batchnorm_force_split(bool split) { force_split = split; }

/* A channel's reduction as one subgroup of 8 (the bn_*_channel shaders):
 * CPU devices with such subgroups that add up, and tensors read as vec4s
 * (4k floats). */
static bool use_channel_pass(dam_exec *ex, const bn_geom *g) {
  const dam_device_info *d = &ex->dev->info;
  return !force_split && dam__k_cpu_device(ex) &&
         d->subgroup_size == CHANNEL_LANES && d->subgroup_add &&
         (uint64_t)g->n * g->c * g->hw % 4 == 0;
}

/* The geometry of a 2-D or 4-D batch-norm input of shape s. */
static bn_geom geom_of(const dam_shape *s) {
  return (bn_geom){s->dim[0], s->dim[1], s->dim[2] * s->dim[3],
                   s->dim[0] * s->dim[2] * s->dim[3]};
}

/* x (required) 2-D or 4-D; y, when given, of x's shape. */
static int check_data(const char *op, const dam_tensor *x,
                      const dam_tensor *y, const char *y_name, bn_geom *g) {
  const dam_tensor *t[] = {x};
  int err = dam__k_check(op, t, 1, 0);
  if (err)
    return err;
  const dam_shape *s = &x->shape;
  if (s->ndim != 2 && s->ndim != 4)
    return dam_fail(DAM_ESHAPE, "%s: x has %u dims, expected [N, C, H, W] "
                    "or [N, C]", op, s->ndim);
  if (y) {
    t[0] = y;
    if ((err = dam__k_check(op, t, 1, 0)))
      return err;
    if (!dam_shape_equal(&y->shape, s))
      return dam_fail(DAM_ESHAPE, "%s: %s does not have x's shape [%u, %u, "
                      "%u, %u]", op, y_name, s->dim[0], s->dim[1],
                      s->dim[2], s->dim[3]);
  }
  *g = geom_of(s);
  return DAM_OK;
}

/* A per-channel tensor: C elements, contiguous; NULL only when optional. */
static int check_channel(const char *op, const char *name,
                         const dam_tensor *t, const bn_geom *g,
                         bool required) {
  if (!t)
    return required ? dam_fail(DAM_EINVAL, "%s: %s is NULL", op, name)
                    : DAM_OK;
  if (!dam_tensor_contiguous(t))
    return dam_fail(DAM_EINVAL, "%s: %s is not contiguous", op, name);
  if (t->numel != g->c)
    return dam_fail(DAM_ESHAPE, "%s: %s has %llu elements, expected C = %u",
                    op, name, (unsigned long long)t->numel, g->c);
  return DAM_OK;
}

/* The one-pass reduction of every channel (shaders/bn_reduce.glsl) by
 * shaders[gpu][flat], flat where x is read as the vec4s covering each
 * plane.  t holds their bindings except t[at] and t[at + 1], the partial
 * sums and the arrival counts, which are made here; p comes with its
 * flags (and eps and momentum) set. */
static int reduce_channels(dam_exec *ex, const char *op,
                           const dam_shader *const shaders[2][2],
                           const dam_tensor **t, uint32_t at,
                           const bn_geom *g, reduce_push *p) {
  uint32_t units = g->hw;
  p->wide = g->hw % 4 == 0;
  if (p->wide) {
    units = g->hw / 4;
  } else if ((uint64_t)g->n * g->c * g->hw % 4 == 0) {
    p->wide = 2;
    units = (g->hw + 3) / 4 + 1; /* a plane may start mid-vec4 */
  }
  uint64_t parts = (dam__k_target_invocations(ex) + g->c - 1) / g->c;
  if (parts > (uint64_t)g->n * units)
    parts = (uint64_t)g->n * units;
  bool gpu = !dam__k_cpu_device(ex);
  uint64_t most = gpu ? GPU_MAX_PARTS : MAX_PARTS;
  if (parts > most)
    parts = most;
  if (gpu) /* whole workgroups; lanes past the slots add nothing */
    parts = (parts + REDUCE_WG - 1) / REDUCE_WG * REDUCE_WG;
  p->n = g->n;
  p->c = g->c;
  p->hw = g->hw;
  p->parts = (uint32_t)parts;
  uint64_t partials = gpu ? parts / REDUCE_WG : parts;
  dam_shape ps = dam_shape4((uint32_t)(g->c * partials * 2), 0, 0, 0);
  dam_shape as = dam_shape4(g->c, 0, 0, 0);
  dam_tensor *part = dam_tensor_new(ex, &ps, false);
  dam_tensor *arrived = part ? dam_tensor_new(ex, &as, false) : NULL;
  int err = arrived ? dam_exec_zero(ex, dam_tensor_range(arrived))
                    : dam_fail(DAM_ENOMEM, "%s: partial sums: %s", op,
                               dam_last_error());
  if (!err) {
    t[at] = part;
    t[at + 1] = arrived;
    err = dam__k_run(ex, shaders[gpu][p->wide == 2], t, p,
                     (uint64_t)g->c * p->parts);
  }
  dam_tensor_release(ex, part);
  dam_tensor_release(ex, arrived);
  return err;
}

/* An elementwise pass over x's planes, s, or where planes of hw >= 4
 * floats are not a multiple of 4 but the tensor is, `flat` over vec4 spans
 * of the whole tensor (parts = vec4s per invocation; bn_flat.glsl). */
static int planes_pass(dam_exec *ex, const dam_shader *s,
                       const dam_shader *flat, const dam_tensor *const *t,
                       const bn_geom *g) {
  planes_push p = planes_split(g, PER_INVOCATION);
  uint64_t floats = (uint64_t)p.planes * g->hw;
  if (!p.wide && g->hw >= 4 && floats % 4 == 0) {
    p.parts = FLAT_SPAN;
    return dam__k_run(ex, flat, t, &p,
                      (floats / 4 + FLAT_SPAN - 1) / FLAT_SPAN);
  }
  return dam__k_run(ex, s, t, &p, (uint64_t)p.planes * p.parts);
}

/* A step tensor for the C vec4 coefficients of an elementwise pass. */
static dam_tensor *coefficients(dam_exec *ex, const char *op,
                                const bn_geom *g) {
  dam_shape s = dam_shape4(g->c * 4, 0, 0, 0);
  dam_tensor *t = dam_tensor_new(ex, &s, false);
  if (!t)
    dam_fail(DAM_ENOMEM, "%s: coefficients: %s", op, dam_last_error());
  return t;
}

/* coef holds 4 * C floats. */
static int check_coef(const char *op, const dam_tensor *coef,
                      const bn_geom *g) {
  const dam_tensor *t[] = {coef};
  int err = dam__k_check(op, t, 1, 0);
  if (!err && coef->numel != 4 * (uint64_t)g->c)
    err = dam_fail(DAM_ESHAPE, "%s: coefficients of %llu floats for %u "
                   "channels (need 4 per channel)", op,
                   (unsigned long long)coef->numel, g->c);
  return err;
}

/* The checks of the training form; y may be NULL (only the statistics). */
static int train_check(const char *op, const dam_tensor *x,
                       const dam_tensor *gamma, const dam_tensor *beta,
                       const dam_tensor *running_mean,
                       const dam_tensor *running_var, const dam_bn_args *a,
                       const dam_tensor *y, const dam_tensor *save_mean,
                       const dam_tensor *save_invstd, bn_geom *g) {
  int err = check_data(op, x, y, "y", g);
  if (!err && !a)
    err = dam_fail(DAM_EINVAL, "%s: NULL arguments", op);
  if (!err && (!(a->eps >= 0) || !(a->momentum >= 0 && a->momentum <= 1)))
    err = dam_fail(DAM_EINVAL, "%s: eps %g, momentum %g (need eps >= 0, "
                   "0 <= momentum <= 1)", op, a->eps, a->momentum);
  if (!err && g->count < 2)
    err = dam_fail(DAM_EINVAL, "%s: channels of %u element(s) have no "
                   "batch variance", op, g->count);
  if (!err)
    err = check_channel(op, "gamma", gamma, g, false);
  if (!err)
    err = check_channel(op, "beta", beta, g, false);
  if (!err)
    err = check_channel(op, "running_mean", running_mean, g, false);
  if (!err)
    err = check_channel(op, "running_var", running_var, g, false);
  if (!err)
    err = check_channel(op, "save_mean", save_mean, g, true);
  if (!err)
    err = check_channel(op, "save_invstd", save_invstd, g, true);
  return err;
}

/* Whether one dispatch can do both statistics passes over ranges a and b
 * of shader s: neither writes what the other touches. */
static bool passes_disjoint(const dam_shader *s, const dam_range *a,
                            const dam_range *b) {
  for (uint32_t i = 0; i < s->n_bindings; i++)
    for (uint32_t j = 0; j < s->n_bindings; j++)
      if (((s->write_mask >> i) | (s->write_mask >> j)) & 1u &&
          dam_ranges_overlap(&a[i], &b[j]))
        return false;
  return true;
}

/* The statistics pass t of bn_stats_channel(_flat) s without gamma and
 * beta, held back (dam_exec_hold) so that the next such pass of the same
 * shape and flags runs in the same dispatch (the _pair variant): a node
 * sum's terms end in norms, and the next op's first norm usually comes
 * before anything reads the last one's statistics. */
static int stats_in_pairs(dam_exec *ex, const dam_shader *s,
                          const dam_tensor *const *t, const reduce_push *p,
                          uint64_t invocations) {
  dam_range r[8], both[14];
  dam_held h;
  int err = dam__k_bind(ex, s, t, r);
  if (err || !dam_exec_take_held(ex, s, &h))
    return err ? err : dam_exec_hold(ex, s, r, p, (uint32_t)invocations);
  if (memcmp(h.push, p, sizeof *p) || !passes_disjoint(s, h.ranges, r)) {
    err = dam_exec_dispatch(ex, s, h.ranges, 8, h.push, h.invocations);
    return err ? err : dam_exec_hold(ex, s, r, p, (uint32_t)invocations);
  }
  memcpy(both, h.ranges, sizeof r);
  both[8] = r[0];
  memcpy(both + 9, r + 3, 5 * sizeof *r);
  return dam_exec_dispatch(ex,
                           s == &shader_bn_stats_channel
                               ? &shader_bn_stats_channel_pair
                               : &shader_bn_stats_channel_flat_pair,
                           both, 14, p, 2 * (uint32_t)invocations);
}

/* The statistics pass of the training form into save_mean, save_invstd,
 * the running statistics and coef (checked). */
static int train_stats(dam_exec *ex, const char *op, const dam_tensor *x,
                       const dam_tensor *gamma, const dam_tensor *beta,
                       dam_tensor *running_mean, dam_tensor *running_var,
                       const dam_bn_args *a, dam_tensor *save_mean,
                       dam_tensor *save_invstd, dam_tensor *coef,
                       const bn_geom *g) {
  reduce_push p = {.flags = (gamma ? 1u : 0) | (beta ? 2u : 0) |
                            (running_mean ? 4u : 0) | (running_var ? 8u : 0),
                   .eps = a->eps,
                   .momentum = a->momentum};
  const dam_tensor *t[] = {x,
                           gamma ? gamma : save_mean,
                           beta ? beta : save_mean,
                           running_mean ? running_mean : coef,
                           running_var ? running_var : coef,
                           save_mean,
                           save_invstd,
                           coef,
                           NULL,
                           NULL};
  if (use_channel_pass(ex, g)) {
    p.n = g->n, p.c = g->c, p.hw = g->hw, p.parts = CHANNEL_LANES;
    const dam_shader *s = g->hw % 4 ? &shader_bn_stats_channel_flat
                                    : &shader_bn_stats_channel;
    uint64_t invocations = (uint64_t)g->c * CHANNEL_LANES;
    return gamma || beta ? dam__k_run(ex, s, t, &p, invocations)
                         : stats_in_pairs(ex, s, t, &p, invocations);
  }
  return reduce_channels(ex, op, stats_shaders, t, 8, g, &p);
}

int dam_k_batchnorm_train(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gamma, const dam_tensor *beta,
                          dam_tensor *running_mean, dam_tensor *running_var,
                          const dam_bn_args *a, dam_tensor *y,
                          dam_tensor *save_mean, dam_tensor *save_invstd) {
  const char *op = "batchnorm_train";
  bn_geom g;
  int err = !y ? dam_fail(DAM_EINVAL, "%s: y is NULL", op)
               : train_check(op, x, gamma, beta, running_mean, running_var,
                             a, y, save_mean, save_invstd, &g);
  if (err)
    return err;
  dam_tensor *coef = coefficients(ex, op, &g);
  if (!coef)
    return DAM_ENOMEM;
  const dam_tensor *apply[] = {x, coef, y};
  err = train_stats(ex, op, x, gamma, beta, running_mean, running_var, a,
                    save_mean, save_invstd, coef, &g);
  if (!err)
    err = planes_pass(ex, &shader_bn_apply, &shader_bn_apply_flat, apply, &g);
  dam_tensor_release(ex, coef);
  return err;
}

int dam_k_batchnorm_stats(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gamma, const dam_tensor *beta,
                          dam_tensor *running_mean, dam_tensor *running_var,
                          const dam_bn_args *a, dam_tensor *save_mean,
                          dam_tensor *save_invstd, dam_tensor *coef) {
  const char *op = "batchnorm_stats";
  bn_geom g;
  int err = train_check(op, x, gamma, beta, running_mean, running_var, a,
                        NULL, save_mean, save_invstd, &g);
  if (!err)
    err = check_coef(op, coef, &g);
  return err ? err
             : train_stats(ex, op, x, gamma, beta, running_mean, running_var,
                           a, save_mean, save_invstd, coef, &g);
}

int dam_k_batchnorm_apply(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *coef, dam_tensor *y) {
  const char *op = "batchnorm_apply";
  bn_geom g;
  int err = check_data(op, x, y, "y", &g);
  if (!err && !y)
    err = dam_fail(DAM_EINVAL, "%s: y is NULL", op);
  if (!err)
    err = check_coef(op, coef, &g);
  const dam_tensor *apply[] = {x, coef, y};
  return err ? err
             : planes_pass(ex, &shader_bn_apply, &shader_bn_apply_flat, apply,
                           &g);
}

int dam_k_batchnorm_eval(dam_exec *ex, const dam_tensor *x,
                         const dam_tensor *gamma, const dam_tensor *beta,
                         const dam_tensor *running_mean,
                         const dam_tensor *running_var, float eps,
                         dam_tensor *y) {
  const char *op = "batchnorm_eval";
  bn_geom g;
  int err = check_data(op, x, y, "y", &g);
  if (!err && !y)
    err = dam_fail(DAM_EINVAL, "%s: y is NULL", op);
  if (!err && !(eps >= 0))
    err = dam_fail(DAM_EINVAL, "%s: eps %g (need eps >= 0)", op, eps);
  if (!err)
    err = check_channel(op, "gamma", gamma, &g, false);
  if (!err)
    err = check_channel(op, "beta", beta, &g, false);
  if (!err)
    err = check_channel(op, "running_mean", running_mean, &g, true);
  if (!err)
    err = check_channel(op, "running_var", running_var, &g, true);
  if (err)
    return err;

  dam_tensor *coef = coefficients(ex, op, &g);
  if (!coef)
    return DAM_ENOMEM;
  struct { uint32_t c, flags; float eps; } p = {
      g.c, (gamma ? 1u : 0) | (beta ? 2u : 0), eps};
  const dam_tensor *t[] = {running_mean, running_var,
                           gamma ? gamma : running_mean,
                           beta ? beta : running_mean, coef};
  if ((err = dam__k_run(ex, &shader_bn_eval_coef, t, &p, g.c)))
    return err;
  const dam_tensor *apply[] = {x, coef, y};
  err = planes_pass(ex, &shader_bn_apply, &shader_bn_apply_flat, apply, &g);
  dam_tensor_release(ex, coef);
  return err;
}

/* Flags of the backward (bn_backward_coef.glsl): x holds xhat; of
 * bn_backward_channel.comp: gx is given, each channel's sum of gy * xhat
 * is written (the scale's gradient's share); of both backward paths: gy
 * is scaled. */
#define X_IS_XHAT 8u
#define GX_GIVEN 16u
#define GY_SCALED 32u
#define DOT_XHAT 64u

/* A step tensor for n_terms sums of gy * xhat per channel of g's (in
 * bn_backward_channel.comp's order); NULL on error. */
static dam_tensor *channel_dots(dam_exec *ex, const bn_geom *g,
                                uint32_t n_terms) {
  dam_shape s = dam_shape4(g->c * n_terms, 0, 0, 0);
  return dam_tensor_new(ex, &s, false);
}

/* After the dispatch that wrote dots (err its result; dots NULL: none
 * asked), their sums over g's channels queued into gscale[0 .. n_terms),
 * or dots released on an error. */
static int queue_dots(dam_exec *ex, int err, dam_tensor *dots,
                      const bn_geom *g, dam_tensor *const *gscale,
                      uint32_t n_terms) {
  if (!dots)
    return err;
  if (err) {
    dam_tensor_release(ex, dots);
    return err;
  }
  return dam_part_sums_add_split(ex, dots, g->c, gscale, n_terms);
}

/* The backward through bn_backward_channel.comp: in = {x, gy, save_mean,
 * save_invstd, gamma, gy's scale (either NULL when not given)}, flags as
 * the reduction's (GY_SCALED with a scale); gscale (with a scale, no
 * ggamma) += <gy, xhat> through the deferred partial sums. */
static int channel_backward(dam_exec *ex, const dam_tensor *const in[6],
                            dam_tensor *gx, dam_tensor *ggamma,
                            dam_tensor *gbeta, dam_tensor *gscale,
                            const bn_geom *g, uint32_t flags) {
  dam_tensor *dots = gscale ? channel_dots(ex, g, 1) : NULL;
  if (gscale && !dots)
    return DAM_ENOMEM;
  const dam_tensor *any = gx ? gx : ggamma ? ggamma : gbeta;
  const dam_tensor *t[] = {in[0], in[1], in[2], in[3],
                           in[4] ? in[4] : in[2],
                           dots ? dots : ggamma ? ggamma : any,
                           gbeta ? gbeta : any, any,
                           in[5] ? in[5] : in[2]};
  struct { uint32_t n, c, hw, parts, flags; } p = {
      g->n, g->c, g->hw, CHANNEL_LANES,
      flags | (gx ? GX_GIVEN : 0) | (dots ? DOT_XHAT : 0)};
  static const dam_shader *const shaders[2][2] = {
      {&shader_bn_backward_channel, &shader_bn_backward_channel_set},
      {&shader_bn_backward_channel_flat,
       &shader_bn_backward_channel_flat_set}};
  bool set = gx && dam__k_take_zeros(gx);
  int err = dam__k_run(ex, shaders[g->hw % 4 != 0][set], t, &p,
                       (uint64_t)g->c * CHANNEL_LANES);
  return queue_dots(ex, err, dots, g, &gscale, 1);
}

/* The checks of the backward's arguments (NULL where optional). */
static int backward_check(const char *op, const dam_tensor *x,
                          const dam_tensor *gy, const dam_tensor *gamma,
                          const dam_tensor *save_mean,
                          const dam_tensor *save_invstd,
                          const dam_tensor *gx, const dam_tensor *ggamma,
                          const dam_tensor *gbeta, bn_geom *g) {
  int err = check_data(op, x, gy, "gy", g);
  if (!err && !gy)
    err = dam_fail(DAM_EINVAL, "%s: gy is NULL", op);
  if (!err && gx)
    err = check_data(op, x, gx, "gx", g);
  if (!err)
    err = check_channel(op, "gamma", gamma, g, false);
  if (!err)
    err = check_channel(op, "save_mean", save_mean, g, true);
  if (!err)
    err = check_channel(op, "save_invstd", save_invstd, g, true);
  if (!err)
    err = check_channel(op, "ggamma", ggamma, g, false);
  if (!err)
    err = check_channel(op, "gbeta", gbeta, g, false);
  return err;
}

/* The backward for scale[0] * gy (scale NULL: gy), its arguments
 * checked (g their geometry); gscale (only on the channel pass) as
 * channel_backward's. */
static int backward_run(dam_exec *ex, const char *op, const dam_tensor *x,
                        const dam_tensor *gy, const dam_tensor *scale,
                        const dam_tensor *gamma, const dam_tensor *save_mean,
                        const dam_tensor *save_invstd, dam_tensor *gx,
                        dam_tensor *ggamma, dam_tensor *gbeta,
                        dam_tensor *gscale, const bn_geom *g,
                        uint32_t flags) {
  reduce_push p = {.flags = flags | (gamma ? 1u : 0) | (ggamma ? 2u : 0) |
                            (gbeta ? 4u : 0) | (scale ? GY_SCALED : 0)};
  if (use_channel_pass(ex, g)) {
    const dam_tensor *in[] = {x, gy, save_mean, save_invstd, gamma, scale};
    return channel_backward(ex, in, gx, ggamma, gbeta, gscale, g, p.flags);
  }
  dam_tensor *coef = coefficients(ex, op, g);
  if (!coef)
    return DAM_ENOMEM;
  const dam_tensor *t[] = {x,
                           gy,
                           save_mean,
                           save_invstd,
                           gamma ? gamma : save_mean,
                           NULL,
                           NULL,
                           ggamma ? ggamma : coef,
                           gbeta ? gbeta : coef,
                           coef,
                           scale ? scale : coef};
  int err = reduce_channels(ex, op, backward_stats_shaders, t, 5, g, &p);
  if (!err && gx) {
    const dam_tensor *apply[] = {x, gy, coef, gx};
    bool set = dam__k_take_zeros(gx);
    err = planes_pass(ex,
                      set ? &shader_bn_backward_apply_set
                          : &shader_bn_backward_apply,
                      set ? &shader_bn_backward_apply_flat_set
                          : &shader_bn_backward_apply_flat,
                      apply, g);
  }
  dam_tensor_release(ex, coef);
  return err;
}

static int backward(dam_exec *ex, const char *op, const dam_tensor *x,
                    const dam_tensor *gy, const dam_tensor *gamma,
                    const dam_tensor *save_mean,
                    const dam_tensor *save_invstd, dam_tensor *gx,
                    dam_tensor *ggamma, dam_tensor *gbeta, uint32_t flags) {
  bn_geom g;
  int err = backward_check(op, x, gy, gamma, save_mean, save_invstd, gx,
                           ggamma, gbeta, &g);
  if (err || (!gx && !ggamma && !gbeta))
    return err;
  return backward_run(ex, op, x, gy, NULL, gamma, save_mean, save_invstd, gx,
                      ggamma, gbeta, NULL, &g, flags);
}

int dam_k_batchnorm_backward(dam_exec *ex, const dam_tensor *x,
                             const dam_tensor *gy, const dam_tensor *gamma,
                             const dam_tensor *save_mean,
                             const dam_tensor *save_invstd, dam_tensor *gx,
                             dam_tensor *ggamma, dam_tensor *gbeta) {
  return backward(ex, "batchnorm_backward", x, gy, gamma, save_mean,
                  save_invstd, gx, ggamma, gbeta, 0);
}

int dam_k_batchnorm_backward_xhat(dam_exec *ex, const dam_tensor *y,
                                  const dam_tensor *gy,
                                  const dam_tensor *save_invstd,
                                  dam_tensor *gx) {
  return backward(ex, "batchnorm_backward_xhat", y, gy, NULL, save_invstd,
                  save_invstd, gx, NULL, NULL, X_IS_XHAT);
}

/* The checks of dam_k_batchnorm_backward_scaled's arguments. */
static int scaled_check(dam_exec *ex, const char *op, const dam_tensor *x,
                        const dam_tensor *gy, const dam_tensor *scale,
                        const dam_tensor *save_mean,
                        const dam_tensor *save_invstd, const dam_tensor *gx,
                        const dam_tensor *gscale, bn_geom *g) {
  int err = backward_check(op, x, gy, NULL, save_mean, save_invstd, gx, NULL,
                           NULL, g);
  if (!err && !gx)
    err = dam_fail(DAM_EINVAL, "%s: gx is NULL", op);
  if (!err && (!scale || scale->numel != 1))
    err = dam_fail(DAM_EINVAL, "%s: the scale is not one element", op);
  if (!err && gscale && (gscale->numel != 1 || !use_channel_pass(ex, g)))
    err = dam_fail(DAM_EINVAL, "%s: the scale's gradient is not one "
                   "element, or this device's backward does not take it",
                   op);
  return err;
}

bool dam_k_batchnorm_backward_takes_gscale(dam_exec *ex,
                                           const dam_tensor *x) {
  bn_geom g = geom_of(&x->shape);
  return (x->shape.ndim == 2 || x->shape.ndim == 4) &&
         use_channel_pass(ex, &g);
}

int dam_k_batchnorm_backward_scaled(dam_exec *ex, const dam_tensor *x,
                                    const dam_tensor *gy,
                                    const dam_tensor *scale,
                                    const dam_tensor *save_mean,
                                    const dam_tensor *save_invstd,
                                    dam_tensor *gx, dam_tensor *gscale) {
  const char *op = "batchnorm_backward_scaled";
  bn_geom g;
  int err = scaled_check(ex, op, x, gy, scale, save_mean, save_invstd, gx,
                         gscale, &g);
  return err ? err
             : backward_run(ex, op, x, gy, scale, NULL, save_mean,
                            save_invstd, gx, NULL, NULL, gscale, &g, 0);
}

int dam_k_batchnorm_backward_scaled_pair(
    dam_exec *ex, const dam_tensor *const x[2], const dam_tensor *gy,
    const dam_tensor *const scale[2], const dam_tensor *const mean[2],
    const dam_tensor *const invstd[2], dam_tensor *const gx[2],
    dam_tensor *const gscale[2]) {
  const char *op = "batchnorm_backward_scaled";
  bn_geom g[2];
  int err = DAM_OK;
  for (int i = 0; i < 2 && !err; i++)
    err = scaled_check(ex, op, x[i], gy, scale[i], mean[i], invstd[i], gx[i],
                       gscale ? gscale[i] : NULL, &g[i]);
  if (err)
    return err;
  if (!use_channel_pass(ex, &g[0]) || gx[0] == gx[1] || g[0].n != g[1].n ||
      g[0].c != g[1].c || g[0].hw != g[1].hw ||
      (gscale && (!gscale[0] || !gscale[1]))) {
    for (int i = 0; i < 2 && !err; i++)
      err = backward_run(ex, op, x[i], gy, scale[i], NULL, mean[i],
                         invstd[i], gx[i], NULL, NULL,
                         gscale ? gscale[i] : NULL, &g[i], 0);
    return err;
  }
  dam_tensor *dots = gscale ? channel_dots(ex, &g[0], 2) : NULL;
  if (gscale && !dots)
    return DAM_ENOMEM;
  /* gamma, gbeta: placeholders, as the flags say */
  const dam_tensor *t[] = {x[0],   gy,      mean[0],   invstd[0],
                           mean[0], dots ? dots : gx[0], gx[0], gx[0],
                           scale[0], x[1],   mean[1],   invstd[1],
                           gx[1],  scale[1]};
  struct { uint32_t n, c, hw, parts, flags; } p = {
      g[0].n, g[0].c, g[0].hw, CHANNEL_LANES,
      GX_GIVEN | GY_SCALED | (dots ? DOT_XHAT : 0)};
  static const dam_shader *const shaders[2][2] = {
      {&shader_bn_backward_channel_pair, &shader_bn_backward_channel_pair_set},
      {&shader_bn_backward_channel_flat_pair,
       &shader_bn_backward_channel_flat_pair_set}};
  bool set = gx[0]->zeros_pending && gx[1]->zeros_pending;
  if (set) {
    dam__k_take_zeros(gx[0]);
    dam__k_take_zeros(gx[1]);
  }
  err = dam__k_run(ex, shaders[g[0].hw % 4 != 0][set], t, &p,
                   2ull * g[0].c * CHANNEL_LANES);
  return queue_dots(ex, err, dots, &g[0], gscale, 2);
}
