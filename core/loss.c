/*
 * Softmax cross-entropy and accuracy kernels.  The forward takes one
 * invocation per sample (rows are short: K is the number of classes), the
 * backward one per logit; counting correct predictions is one strided pass
 * and, past ROWS_PER_INVOCATION samples, a sum of the partial counts.
 */
#include "loss.h"
#include "kernel_util.h"
#include "kernels.h"

#include "xent.spv.h"
#include "xent_backward.spv.h"
#include "xent_correct.spv.h"

DAM_SHADER(xent, 4, 0xc, 8);
DAM_SHADER(xent_backward, 4, 0x8, 8);
DAM_SHADER(xent_correct, 3, 0x4, 12);

/* Samples each counting invocation takes at least. */
#define ROWS_PER_INVOCATION 64
#define MAX_PARTS 4096

/* N and K from 2-D logits. */
static int logit_dims(const char *op, const dam_tensor *z, uint32_t *n,
                      uint32_t *k) {
  if (z->shape.ndim != 2)
    return dam_fail(DAM_ESHAPE, "%s: logits of %u dims, expected [N, K]",
                    op, z->shape.ndim);
  *n = z->shape.dim[0];
  *k = z->shape.dim[1];
  return DAM_OK;
}

static int check_count(const char *op, const char *what, const dam_tensor *t,
                       uint64_t want) {
  if (t->numel != want)
    return dam_fail(DAM_ESHAPE, "%s: %s has %llu elements, expected %llu",
                    op, what, (unsigned long long)t->numel,
                    (unsigned long long)want);
  return DAM_OK;
}

/* NULL, layout and 32-bit checks of each of t[0..n). */
static int check_tensors(const char *op, const dam_tensor *const *t,
                         uint32_t n) {
  int err = dam__k_check(op, t, n, 0);
  for (uint32_t i = 1; i < n && !err; i++)
    err = dam__k_check(op, t + i, 1, 0);
  return err;
}

int dam_k_softmax_xent(dam_exec *ex, const dam_tensor *logits,
                       const dam_tensor *labels, dam_tensor *loss,
                       dam_tensor *probs) {
  const char *op = "softmax_xent";
  const dam_tensor *t[] = {logits, labels, loss, probs};
  uint32_t n = 0, k = 0;
  int err = check_tensors(op, t, 4);
  if (!err)
    err = logit_dims(op, logits, &n, &k);
  if (!err)
    err = check_count(op, "labels", labels, n);
  if (!err)
    err = check_count(op, "loss", loss, n);
  if (!err && !dam_shape_equal(&probs->shape, &logits->shape))
    err = dam_fail(DAM_ESHAPE, "%s: probs of shape [%u,%u,%u,%u] for logits "
                   "[%u,%u]", op, probs->shape.dim[0], probs->shape.dim[1],
                   probs->shape.dim[2], probs->shape.dim[3], n, k);
  if (err)
    return err;
  struct { uint32_t n, k; } push = {n, k};
  return dam__k_run(ex, &shader_xent, t, &push, n);
}

int dam_k_softmax_xent_backward(dam_exec *ex, const dam_tensor *probs,
                                const dam_tensor *labels,
                                const dam_tensor *gloss,
                                dam_tensor *glogits) {
  const char *op = "softmax_xent_backward";
  const dam_tensor *t[] = {probs, labels, gloss, glogits};
  uint32_t n = 0, k = 0;
  int err = check_tensors(op, t, 4);
  if (!err)
    err = logit_dims(op, probs, &n, &k);
  if (!err)
    err = check_count(op, "labels", labels, n);
  if (!err)
    err = check_count(op, "loss gradient", gloss, n);
  if (!err)
    err = check_count(op, "logits gradient", glogits, probs->numel);
  if (err)
    return err;
  struct { uint32_t n, k; } push = {n, k};
  return dam__k_run(ex, &shader_xent_backward, t, &push, probs->numel);
}

int dam_k_count_correct(dam_exec *ex, const dam_tensor *logits,
                        const dam_tensor *labels, dam_tensor *correct) {
  const char *op = "count_correct";
  const dam_tensor *t[] = {logits, labels, correct};
  uint32_t n = 0, k = 0;
  int err = check_tensors(op, t, 3);
  if (!err)
    err = logit_dims(op, logits, &n, &k);
  if (!err)
    err = check_count(op, "labels", labels, n);
  if (!err)
    err = check_count(op, "result", correct, 1);
  if (err)
    return err;
  uint32_t parts = (n + ROWS_PER_INVOCATION - 1) / ROWS_PER_INVOCATION;
  struct { uint32_t n, k, parts; } push = {
      n, k, parts < MAX_PARTS ? parts : MAX_PARTS};
  if (push.parts == 1)
    return dam__k_run(ex, &shader_xent_correct, t, &push, 1);
  dam_shape s = dam_shape4(push.parts, 0, 0, 0);
  dam_tensor *part = dam_tensor_new(ex, &s, false);
  if (!part)
    return DAM_ENOMEM;
  const dam_tensor *pass[] = {logits, labels, part};
  err = dam__k_run(ex, &shader_xent_correct, pass, &push, push.parts);
  return err ? err : dam_k_sum(ex, part, correct);
}
