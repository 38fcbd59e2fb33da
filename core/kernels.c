/* Elementwise and reduction kernels over the embedded core shaders. */
#include "kernels.h"
#include "kernel_util.h"

#include <math.h>

#include "add.spv.h"
#include "axpby.spv.h"
#include "broadcast_acc.spv.h"
#include "copy.spv.h"
#include "fill.spv.h"
#include "mul.spv.h"
#include "mul_acc.spv.h"
#include "reduce_sum.spv.h"
#include "relu.spv.h"
#include "relu_backward.spv.h"
#include "relu_backward_wide.spv.h"

DAM_SHADER(fill, 1, 0x1, 8);
DAM_SHADER(copy, 2, 0x2, 4);
DAM_SHADER(add, 3, 0x4, 4);
DAM_SHADER(mul, 3, 0x4, 4);
DAM_SHADER(mul_acc, 3, 0x4, 4);
DAM_SHADER(axpby, 2, 0x2, 12);
DAM_SHADER_TEXEL(relu, 2, 0x2, 0x1, 4);
DAM_SHADER_TEXEL(relu_backward, 4, 0x4, 0xb, 4);
DAM_SHADER_TEXEL(relu_backward_wide, 4, 0x4, 0xb, 4);
DAM_SHADER(reduce_sum, 3, 0x4, 12);
DAM_SHADER(broadcast_acc, 3, 0x4, 12);

/* Each reduction invocation sums at least this many elements. */
#define REDUCE_PER_INVOCATION 64
#define REDUCE_MAX_PARTS 4096

int dam_k_fill(dam_exec *ex, dam_tensor *y, float value) {
  const dam_tensor *t[] = {y};
  int err = dam__k_check("fill", t, 1, 0);
  if (!err)
    dam__k_take_zeros(y);
  if (err || (value == 0.0f && !signbit(value))) /* zero bits: a memset */
    return err ? err : dam_exec_zero(ex, dam_tensor_range(y));
  struct { uint32_t n; float value; } push = {(uint32_t)y->numel, value};
  return dam__k_run(ex, &shader_fill, t, &push,
                    dam__k_elementwise_invocations(y->numel));
}

/* y = op(a, b) elementwise; a shader of 4 bindings also reads y, as texels,
 * at binding 3 (relu_backward adds into it). */
static int binary(dam_exec *ex, const char *op, const dam_shader *s,
                  const dam_tensor *a, const dam_tensor *b, dam_tensor *y) {
  const dam_tensor *t[] = {a, b, y, y};
  int err = dam__k_check(op, t, 3, y ? y->numel : 0);
  uint32_t n = err ? 0 : (uint32_t)y->numel;
  return err ? err
             : dam__k_run(ex, s, t, &n, dam__k_elementwise_invocations(n));
}

int dam_k_add(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
              dam_tensor *y) {
  return binary(ex, "add", &shader_add, a, b, y);
}

int dam_k_mul(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
              dam_tensor *y) {
  return binary(ex, "mul", &shader_mul, a, b, y);
}

int dam_k_mul_acc(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
                  dam_tensor *y) {
  return binary(ex, "mul_acc", &shader_mul_acc, a, b, y);
}

int dam_k_relu_backward(dam_exec *ex, const dam_tensor *x,
                        const dam_tensor *gy, dam_tensor *gx) {
  return binary(ex, "relu_backward",
                dam__k_cpu_device(ex) ? &shader_relu_backward_wide
                                      : &shader_relu_backward,
                x, gy, gx);
}

int dam_k_axpby(dam_exec *ex, float alpha, const dam_tensor *x, float beta,
                dam_tensor *y) {
  const dam_tensor *t[] = {x, y};
  int err = dam__k_check("axpby", t, 2, y ? y->numel : 0);
  if (err)
    return err;
  struct { uint32_t n; float alpha, beta; } push = {(uint32_t)y->numel,
                                                    alpha, beta};
  return dam__k_run(ex, &shader_axpby, t, &push,
                    dam__k_elementwise_invocations(y->numel));
}

static int unary(dam_exec *ex, const char *op, const dam_shader *s,
                 const dam_tensor *x, dam_tensor *y) {
  const dam_tensor *t[] = {x, y};
  int err = dam__k_check(op, t, 2, y ? y->numel : 0);
  uint32_t n = err ? 0 : (uint32_t)y->numel;
  return err ? err
             : dam__k_run(ex, s, t, &n, dam__k_elementwise_invocations(n));
}

int dam_k_relu(dam_exec *ex, const dam_tensor *x, dam_tensor *y) {
  return unary(ex, "relu", &shader_relu, x, y);
}

int dam_k_copy(dam_exec *ex, const dam_tensor *x, dam_tensor *y) {
  return unary(ex, "copy", &shader_copy, x, y);
}

/* Strided passes until one value is left in y. */
static int reduce(dam_exec *ex, const char *op, const dam_tensor *a,
                  const dam_tensor *b, dam_tensor *y) {
  const dam_tensor *t[] = {a, b ? b : a, y};
  int err = dam__k_check(op, t, 2, a ? a->numel : 0);
  if (!err)
    err = dam__k_check(op, t + 2, 1, 1);
  if (err)
    return err;
  struct { uint32_t n, parts, dot; } push = {(uint32_t)a->numel, 0, b != 0};
  for (;;) {
    uint32_t parts = (push.n + REDUCE_PER_INVOCATION - 1) /
                     REDUCE_PER_INVOCATION;
    push.parts = parts <= 1 ? 1 : parts < REDUCE_MAX_PARTS ? parts
                                                           : REDUCE_MAX_PARTS;
    const dam_tensor *out = y;
    if (push.parts > 1) {
      dam_shape s = dam_shape4(push.parts, 0, 0, 0);
      if (!(out = dam_tensor_new(ex, &s, false)))
        return DAM_ENOMEM;
    }
    const dam_tensor *pass[] = {t[0], t[1], out};
    err = dam__k_run(ex, &shader_reduce_sum, pass, &push, push.parts);
    if (err || push.parts == 1)
      return err;
    t[0] = t[1] = out;
    push.n = push.parts;
    push.dot = 0;
  }
}

int dam_k_sum(dam_exec *ex, const dam_tensor *x, dam_tensor *y) {
  return reduce(ex, "sum", x, NULL, y);
}

int dam_k_dot(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
              dam_tensor *y) {
  if (!b)
    return dam_fail(DAM_EINVAL, "dot: tensor 1 is NULL");
  return reduce(ex, "dot", a, b, y);
}

int dam_k_broadcast_acc(dam_exec *ex, const dam_tensor *s, float alpha,
                        const dam_tensor *b, dam_tensor *y) {
  const dam_tensor *t[] = {s, b ? b : y, y};
  int err = dam__k_check("broadcast_acc", t + 1, 2, y ? y->numel : 0);
  if (!err)
    err = dam__k_check("broadcast_acc", t, 1, 1);
  if (err)
    return err;
  struct { uint32_t n; float alpha; uint32_t has_b; } push = {
      (uint32_t)y->numel, alpha, b != NULL};
  return dam__k_run(ex, &shader_broadcast_acc, t, &push, y->numel);
}
