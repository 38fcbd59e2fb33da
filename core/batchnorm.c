/*
 * Batch normalization kernels over the bn_*.comp shaders.  Training and
 * backward reduce each channel in two barrier-free passes: partial sums
 * over chunks of each (n, c) plane with many invocations, then one
 * invocation per channel adding its partials and folding everything the
 * elementwise pass needs into four coefficients per channel, which that
 * pass reads once per invocation.
 */
#include "batchnorm.h"
#include "error.h"
#include "kernel_util.h"

#include "bn_apply.spv.h"
#include "bn_apply_flat.spv.h"
#include "bn_backward_apply.spv.h"
#include "bn_backward_apply_flat.spv.h"
#include "bn_backward_combine.spv.h"
#include "bn_backward_partial.spv.h"
#include "bn_backward_partial_flat.spv.h"
#include "bn_combine.spv.h"
#include "bn_eval_coef.spv.h"
#include "bn_partial.spv.h"
#include "bn_partial_flat.spv.h"

DAM_SHADER_TEXEL(bn_partial, 2, 0x2, 0x1, 20);
DAM_SHADER_TEXEL(bn_backward_partial, 4, 0x8, 0x3, 20);
DAM_SHADER_TEXEL(bn_partial_flat, 2, 0x2, 0x1, 20);
DAM_SHADER_TEXEL(bn_backward_partial_flat, 4, 0x8, 0x3, 20);
DAM_SHADER(bn_combine, 9, 0x1F0, 28);
DAM_SHADER(bn_eval_coef, 5, 0x10, 12);
DAM_SHADER_TEXEL(bn_apply, 3, 0x4, 0x1, 20);
DAM_SHADER(bn_backward_combine, 7, 0x70, 20);
DAM_SHADER_TEXEL(bn_backward_apply, 4, 0x8, 0x3, 20);
DAM_SHADER_TEXEL(bn_apply_flat, 3, 0x4, 0x1, 20);
DAM_SHADER_TEXEL(bn_backward_apply_flat, 4, 0x8, 0x3, 20);

/* Floats of a plane each partial sum covers (at most). */
#define PER_PART 64
/* Accesses (floats, or vec4s where a plane is a multiple of 4 floats) of a
 * plane each elementwise invocation makes. */
#define PER_INVOCATION 8
/* Vec4s of each invocation's span in the flat elementwise passes. */
#define FLAT_SPAN 32

typedef struct bn_geom {
  uint32_t n, c, hw, count; /* count = n * hw, the elements of a channel */
} bn_geom;

/* Push constants of the passes over planes: `parts` invocations share a
 * plane; wide 1 when planes are read as vec4s (tensors start 64-byte
 * aligned), 2 when only the whole tensor is (the bn_*_flat shaders). */
typedef struct planes_push {
  uint32_t planes, c, hw, parts, wide;
} planes_push;

/* Split each plane over invocations of `per` accesses (of a float, or of a
 * vec4 where the plane is a multiple of 4 floats). */
static planes_push planes_split(const bn_geom *g, uint32_t per) {
  uint32_t wide = g->hw % 4 == 0, units = wide ? g->hw / 4 : g->hw;
  return (planes_push){g->n * g->c, g->c, g->hw, (units + per - 1) / per,
                       wide};
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
  *g = (bn_geom){s->dim[0], s->dim[1], s->dim[2] * s->dim[3],
                 s->dim[0] * s->dim[2] * s->dim[3]};
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

/* Pass 1 of a reduction: a step tensor of N * C * *parts vec2 partial
 * sums, *parts per plane, from bn_partial.comp, or from
 * bn_backward_partial.comp when gy is given. */
static int partial_sums(dam_exec *ex, const char *op, const dam_tensor *x,
                        const dam_tensor *gy, const dam_tensor *mean,
                        const bn_geom *g, dam_tensor **part,
                        uint32_t *parts) {
  planes_push p = planes_split(g, PER_PART / 4);
  if (!p.wide && (uint64_t)p.planes * g->hw % 4 == 0) {
    /* Each plane's covering vec4s, masked: one more than hw / 4 rounded
     * up where the plane starts mid-vec4. */
    uint32_t units = (g->hw + 3) / 4 + 1, per = PER_PART / 4;
    p.wide = 2;
    p.parts = (units + per - 1) / per;
  } else if (!p.wide) {
    p = planes_split(g, PER_PART);
  }
  *parts = p.parts;
  dam_shape s = dam_shape4(g->n * g->c * p.parts * 2, 0, 0, 0);
  if (!(*part = dam_tensor_new(ex, &s, false)))
    return dam_fail(DAM_ENOMEM, "%s: partial sums: %s", op,
                    dam_last_error());
  uint64_t invocations = (uint64_t)p.planes * p.parts;
  if (gy) {
    const dam_tensor *t[] = {x, gy, mean, *part};
    return dam__k_run(ex, p.wide == 2 ? &shader_bn_backward_partial_flat
                                      : &shader_bn_backward_partial,
                      t, &p, invocations);
  }
  const dam_tensor *t[] = {x, *part};
  return dam__k_run(ex, p.wide == 2 ? &shader_bn_partial_flat
                                    : &shader_bn_partial,
                    t, &p, invocations);
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

int dam_k_batchnorm_train(dam_exec *ex, const dam_tensor *x,
                          const dam_tensor *gamma, const dam_tensor *beta,
                          dam_tensor *running_mean, dam_tensor *running_var,
                          const dam_bn_args *a, dam_tensor *y,
                          dam_tensor *save_mean, dam_tensor *save_invstd) {
  const char *op = "batchnorm_train";
  bn_geom g;
  int err = check_data(op, x, y, "y", &g);
  if (!err && !y)
    err = dam_fail(DAM_EINVAL, "%s: y is NULL", op);
  if (!err && !a)
    err = dam_fail(DAM_EINVAL, "%s: NULL arguments", op);
  if (!err && (!(a->eps >= 0) || !(a->momentum >= 0 && a->momentum <= 1)))
    err = dam_fail(DAM_EINVAL, "%s: eps %g, momentum %g (need eps >= 0, "
                   "0 <= momentum <= 1)", op, a->eps, a->momentum);
  if (!err && g.count < 2)
    err = dam_fail(DAM_EINVAL, "%s: channels of %u element(s) have no "
                   "batch variance", op, g.count);
  if (!err)
    err = check_channel(op, "gamma", gamma, &g, false);
  if (!err)
    err = check_channel(op, "beta", beta, &g, false);
  if (!err)
    err = check_channel(op, "running_mean", running_mean, &g, false);
  if (!err)
    err = check_channel(op, "running_var", running_var, &g, false);
  if (!err)
    err = check_channel(op, "save_mean", save_mean, &g, true);
  if (!err)
    err = check_channel(op, "save_invstd", save_invstd, &g, true);
  if (err)
    return err;

  dam_tensor *part, *coef;
  uint32_t parts;
  if ((err = partial_sums(ex, op, x, NULL, NULL, &g, &part, &parts)))
    return err;
  if (!(coef = coefficients(ex, op, &g)))
    return DAM_ENOMEM;
  struct {
    uint32_t c, hw, parts, n, flags;
    float eps, momentum;
  } p = {g.c, g.hw, parts, g.n,
         (gamma ? 1u : 0) | (beta ? 2u : 0) | (running_mean ? 4u : 0) |
             (running_var ? 8u : 0),
         a->eps, a->momentum};
  const dam_tensor *t[] = {
      x,           part,
      gamma ? gamma : part,
      beta ? beta : part,
      running_mean ? running_mean : coef,
      running_var ? running_var : coef,
      save_mean,   save_invstd,
      coef};
  if ((err = dam__k_run(ex, &shader_bn_combine, t, &p, g.c)))
    return err;
  dam_tensor_release(ex, part);
  const dam_tensor *apply[] = {x, coef, y};
  err = planes_pass(ex, &shader_bn_apply, &shader_bn_apply_flat, apply, &g);
  dam_tensor_release(ex, coef);
  return err;
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

int dam_k_batchnorm_backward(dam_exec *ex, const dam_tensor *x,
                             const dam_tensor *gy, const dam_tensor *gamma,
                             const dam_tensor *save_mean,
                             const dam_tensor *save_invstd, dam_tensor *gx,
                             dam_tensor *ggamma, dam_tensor *gbeta) {
  const char *op = "batchnorm_backward";
  bn_geom g;
  int err = check_data(op, x, gy, "gy", &g);
  if (!err && !gy)
    err = dam_fail(DAM_EINVAL, "%s: gy is NULL", op);
  if (!err && gx)
    err = check_data(op, x, gx, "gx", &g);
  if (!err)
    err = check_channel(op, "gamma", gamma, &g, false);
  if (!err)
    err = check_channel(op, "save_mean", save_mean, &g, true);
  if (!err)
    err = check_channel(op, "save_invstd", save_invstd, &g, true);
  if (!err)
    err = check_channel(op, "ggamma", ggamma, &g, false);
  if (!err)
    err = check_channel(op, "gbeta", gbeta, &g, false);
  if (err || (!gx && !ggamma && !gbeta))
    return err;

  dam_tensor *part, *coef;
  uint32_t parts;
  if ((err = partial_sums(ex, op, x, gy, save_mean, &g, &part, &parts)))
    return err;
  if (!(coef = coefficients(ex, op, &g)))
    return DAM_ENOMEM;
  struct { uint32_t c, hw, parts, n, flags; } p = {
      g.c, g.hw, parts, g.n,
      (gamma ? 1u : 0) | (ggamma ? 2u : 0) | (gbeta ? 4u : 0)};
  const dam_tensor *t[] = {part,
                           gamma ? gamma : part,
                           save_mean,
                           save_invstd,
                           ggamma ? ggamma : coef,
                           gbeta ? gbeta : coef,
                           coef};
  err = dam__k_run(ex, &shader_bn_backward_combine, t, &p, g.c);
  dam_tensor_release(ex, part);
  if (!err && gx) {
    const dam_tensor *apply[] = {x, gy, coef, gx};
    err = planes_pass(ex, &shader_bn_backward_apply,
                      &shader_bn_backward_apply_flat, apply, &g);
  }
  dam_tensor_release(ex, coef);
  return err;
}
