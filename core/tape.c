/* Recording and replaying the autograd tape. */
#include "tape.h"
#include "part_sums.h"
#include "error.h"
#include "kernels.h"

#include <stdlib.h>

bool dam_any_requires_grad(dam_tensor *const *t, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (t[i] && t[i]->requires_grad)
      return true;
  return false;
}

static void node_release(dam_node *node) {
  if (node->free_data)
    node->free_data(node->data);
}

int dam_tape_record(dam_exec *ex, const dam_node *node) {
  dam_tape *tape = ex->tape;
  if (!tape && !(tape = ex->tape = calloc(1, sizeof *tape))) {
    node_release((dam_node *)node);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  if (tape->n == tape->cap) {
    uint32_t cap = tape->cap ? 2 * tape->cap : 256;
    dam_node *nodes = realloc(tape->nodes, cap * sizeof *nodes);
    if (!nodes) {
      node_release((dam_node *)node);
      return dam_fail(DAM_ENOMEM, "out of memory");
    }
    tape->nodes = nodes;
    tape->cap = cap;
  }
  tape->nodes[tape->n++] = *node;
  node->out->requires_grad = true;
  return DAM_OK;
}

dam_tensor *dam_tape_finish(dam_exec *ex, int err, const dam_node *node) {
  if (err) {
    node_release((dam_node *)node);
    return NULL;
  }
  if (!node->weights &&
      !dam_any_requires_grad((dam_tensor *const *)node->in, node->n_in)) {
    node_release((dam_node *)node);
    return node->out;
  }
  return dam_tape_record(ex, node) ? NULL : node->out;
}

/* The step tensors backward releases besides output gradients: every
 * node output but keep[0..n) when `outputs` is set. */
typedef struct release_rule {
  bool outputs;
  dam_tensor *const *keep;
  uint32_t n;
} release_rule;

static bool kept(const release_rule *r, const dam_tensor *t) {
  for (uint32_t i = 0; i < r->n; i++)
    if (r->keep[i] == t)
      return true;
  return false;
}

/* node->out is fresh (no other node produces it, but later accumulating
 * nodes may update it), so every node that reads it or keeps it in its
 * data was recorded later, and its backward has run: once node's backward
 * is recorded, out's gradient is dead, and so is out unless the caller
 * still needs it. */
static void release_after(dam_exec *ex, dam_node *node,
                          const release_rule *r) {
  dam_tensor *out = node->out;
  if (out->persistent || ex->no_release || node->accumulates)
    return;
  dam_tensor_release(ex, out->grad);
  out->grad = NULL;
  if (r->outputs && !kept(r, out))
    dam_tensor_release(ex, out);
}

/* Record node's backward when its output has a gradient and an input or
 * its own weights need one. */
static int node_backward(dam_exec *ex, dam_node *node) {
  if (!node->out->grad) /* not on a path to the loss */
    return DAM_OK;
  uint32_t needs = 0;
  for (uint32_t i = 0; i < node->n_in; i++)
    if (node->in[i] && node->in[i]->requires_grad)
      needs |= 1u << i;
  int err = needs || node->weights ? node->backward(ex, node, needs) : 0;
  return err ? dam_fail(err, "backward of %s: %s", node->name,
                        dam_last_error())
             : DAM_OK;
}

static int backward(dam_exec *ex, dam_tensor *loss, const release_rule *r) {
  if (!loss || loss->numel != 1)
    return dam_fail(DAM_EINVAL, "backward: the loss must have one element");
  if (!loss->requires_grad)
    return dam_fail(DAM_EINVAL, "backward: the loss does not depend on "
                    "anything that requires a gradient");
  dam_tensor *seed = dam_tensor_grad(ex, loss);
  int err = seed ? dam_k_fill(ex, seed, 1.0f) : DAM_ENOMEM;
  dam_tape *tape = ex->tape;
  for (uint32_t k = tape ? tape->n : 0; !err && k-- > 0;) {
    err = node_backward(ex, &tape->nodes[k]);
    if (!err)
      release_after(ex, &tape->nodes[k], r);
  }
  dam_tape_clear(tape);
  return err ? err : dam_part_sums_flush(ex);
}

int dam_backward(dam_exec *ex, dam_tensor *loss) {
  return backward(ex, loss, &(release_rule){false, NULL, 0});
}

int dam_backward_release(dam_exec *ex, dam_tensor *loss,
                         dam_tensor *const *keep, uint32_t n_keep) {
  return backward(ex, loss, &(release_rule){true, keep, n_keep});
}

dam_scope dam_scope_open(dam_exec *ex) {
  return (dam_scope){ex->step_tensors, ex->tape ? ex->tape->n : 0};
}

/* in[i], or for i == n_in the output. */
static dam_tensor *node_ref(const dam_node *node, uint32_t i) {
  return i < node->n_in ? node->in[i] : node->out;
}

/* dam_tensor.scope_refs while a scope closes. */
enum { REFERENCED = 1, NEEDED = 2, SHARED = 4 };

/* A batch-norm output not yet made (dam_tensor.bn_of) that stays keeps the
 * input it is made from. */
static void keep_bn_input(dam_tensor *t) {
  if (t && dam_tensor_bn_unmade(t) && (t->scope_refs & NEEDED))
    t->bn_of->scope_refs |= NEEDED;
}

void dam_scope_close(dam_exec *ex, const dam_scope *s,
                     dam_tensor *const *keep, uint32_t n_keep,
                     bool shared) {
  if (ex->no_release || !ex->tape)
    return;
  const dam_tape *tape = ex->tape;
  for (dam_tensor *t = ex->step_tensors; t != s->tensors; t = t->next)
    t->scope_refs = 0;
  for (uint32_t k = s->nodes; k < tape->n; k++)
    for (uint32_t i = 0; i <= tape->nodes[k].n_in; i++)
      if (node_ref(&tape->nodes[k], i))
        node_ref(&tape->nodes[k], i)->scope_refs = 0;
  for (uint32_t k = s->nodes; k < tape->n; k++) {
    const dam_node *node = &tape->nodes[k];
    for (uint32_t i = 0; i <= node->n_in; i++) {
      bool out = i == node->n_in;
      dam_tensor *t = node_ref(node, i);
      if (!t)
        continue;
      t->scope_refs |= REFERENCED;
      if (!(node->unread & (out ? DAM_NODE_OUT : 1u << i)))
        t->scope_refs |= NEEDED;
      if (out && node->shared && !shared)
        t->scope_refs |= SHARED;
    }
  }
  for (uint32_t i = 0; i < n_keep; i++)
    if (keep[i])
      keep[i]->scope_refs |= NEEDED;
  for (uint32_t k = s->nodes; k < tape->n; k++)
    for (uint32_t i = 0; i <= tape->nodes[k].n_in; i++)
      keep_bn_input(node_ref(&tape->nodes[k], i));
  for (uint32_t i = 0; i < n_keep; i++)
    keep_bn_input(keep[i]);
  for (dam_tensor *t = ex->step_tensors; t != s->tensors; t = t->next)
    if (t->scope_refs == REFERENCED)
      dam_tensor_release(ex, t);
  /* Relu outputs made before s that a reader in the scope materialized:
   * made again wherever read later. */
  for (uint32_t k = s->nodes; shared && k < tape->n; k++)
    for (uint32_t i = 0; i <= tape->nodes[k].n_in; i++) {
      dam_tensor *t = node_ref(&tape->nodes[k], i);
      if (t && t->relu_of && t->scope_refs == REFERENCED)
        dam_tensor_release(ex, t);
    }
}

void dam_tape_clear(dam_tape *tape) {
  if (!tape)
    return;
  for (uint32_t i = 0; i < tape->n; i++)
    node_release(&tape->nodes[i]);
  tape->n = 0;
}

void dam_tape_free(dam_tape *tape) {
  dam_tape_clear(tape);
  if (tape)
    free(tape->nodes);
  free(tape);
}
