/*
 * The reverse-mode tape.  Forward functions (autograd.h, op.h) record one
 * node per operation whose output needs a gradient; dam_backward walks the
 * nodes in reverse, hands each its needs-grad mask, and the node's backward
 * accumulates into its inputs' gradients.
 */
#ifndef DAM_TAPE_H
#define DAM_TAPE_H

#include "tensor.h"

#define DAM_NODE_INPUTS 4
/* dam_node.unread's bit for the node's output. */
#define DAM_NODE_OUT (1u << DAM_NODE_INPUTS)

typedef struct dam_node dam_node;

/* Accumulate d(loss)/d(in[i]) into dam_tensor_grad(in[i]) for each bit i
 * of `needs`, given out->grad. */
typedef int (*dam_backward_fn)(dam_exec *ex, dam_node *node, uint32_t needs);

struct dam_node {
  const char *name;
  dam_backward_fn backward;
  dam_tensor *in[DAM_NODE_INPUTS];
  uint32_t n_in;
  dam_tensor *out;
  bool weights;                /* has trainable tensors of its own: its
                                  backward runs even if no input needs a
                                  gradient */
  float scalar;                /* a constant of the op, e.g. a scale */
  void *data;                  /* owned by the node when free_data is set */
  void (*free_data)(void *data);
  bool accumulates;            /* out is an earlier node's output,
                                  updated in place: its gradient passes
                                  through, and it is released with that
                                  node's */
  uint32_t unread;             /* in[i] (bit i) and out (DAM_NODE_OUT)
                                  whose contents the backward never reads,
                                  only their gradients; 0 is always safe */
  bool shared;                 /* later forwards may take out again
                                  (dam_relu reuses a recorded relu) */
};

struct dam_tape {
  dam_node *nodes;
  uint32_t n, cap;
};
typedef struct dam_tape dam_tape;

/* True when any of the n tensors requires a gradient. */
bool dam_any_requires_grad(dam_tensor *const *t, uint32_t n);

/* Append a copy of *node to ex's tape (created on first use) and mark
 * node->out as requiring a gradient.  node->out must be a tensor no other
 * node produces (a fresh step tensor), unless node->accumulates.  On
 * failure node->data is freed. */
int dam_tape_record(dam_exec *ex, const dam_node *node);

/* What a differentiable forward returns: node->out when err is 0 (the
 * node recorded if one of its inputs requires a gradient), else NULL with
 * node->data freed. */
dam_tensor *dam_tape_finish(dam_exec *ex, int err, const dam_node *node);

/* Back-propagate from `loss` (one element): seeds its gradient with 1,
 * runs every reachable node's backward, then clears the tape.  Gradients
 * of persistent tensors accumulate across calls (zero them with
 * dam_k_fill); gradients of leaves (tensors no node produced) stay; the
 * gradient of each node's step output is released as soon as that node's
 * backward is recorded.  Records work; does not wait. */
int dam_backward(dam_exec *ex, dam_tensor *loss);

/* dam_backward that also releases each node's step output once that
 * node's backward is recorded (nothing on the tape reads it later), except
 * the n_keep tensors of keep: those the caller reads back or feeds to a
 * later pass.  Tensors nodes keep in their data (statistics, plugins'
 * saved tensors) stay until the end of the step.  The no_release knob
 * (exec.h) turns every release off. */
int dam_backward_release(dam_exec *ex, dam_tensor *loss,
                         dam_tensor *const *keep, uint32_t n_keep);

/* A point of the forward: the newest step tensor and the tape's length. */
typedef struct dam_scope {
  dam_tensor *tensors;
  uint32_t nodes;
} dam_scope;

/* The forward's current point. */
dam_scope dam_scope_open(dam_exec *ex);

/* Release now, while the forward goes on, the memory of the step tensors
 * made since s (except keep[0..n_keep)) that nodes recorded since then
 * reference, each time in a bit of their `unread`: the backward needs only
 * their gradients (or reads them through others: a conv's input relu).
 * The caller guarantees that nothing but keep and the tape reaches a
 * tensor made since s: a plugin's composed forward, a block of layers.
 * Outputs of shared nodes, which later forwards may take from the tape,
 * are released only with `shared` (a whole cell), and then also older
 * relu outputs that the scope's nodes reference unread (they are made
 * again where read).  Tensors no node references (e.g. statistics in node
 * data) stay.  Does nothing under the no_release knob. */
void dam_scope_close(dam_exec *ex, const dam_scope *s,
                     dam_tensor *const *keep, uint32_t n_keep,
                     bool shared);

/* Drop every node (freeing node data). */
void dam_tape_clear(dam_tape *tape);

/* Clear and free (NULL ok). */
void dam_tape_free(dam_tape *tape);

#endif
