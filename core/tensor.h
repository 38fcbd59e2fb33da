/*
 * Tensors: fp32, up to 4-D (N, C, H, W) over a range of a device buffer,
 * with an optional gradient and a requires-grad flag.  Persistent tensors
 * (weights, optimizer state) live until freed; step tensors (activations)
 * live until dam_exec_end_step, or until dam_tensor_release gives their
 * memory back earlier.
 */
#ifndef DAM_TENSOR_H
#define DAM_TENSOR_H

#include "exec.h"

#include <diffautoml/plugin.h>

struct dam_tensor {
  dam_shape shape;
  uint32_t stride[4]; /* in elements; contiguous unless a view */
  uint64_t numel;
  dam_alloc mem;      /* the range holding element [0,0,0,0] onward */
  bool persistent;
  bool requires_grad;
  struct dam_tensor *grad;
  struct dam_tensor *relu_of; /* contents are relu(relu_of) (dam_relu):
                                 made when first read, and again after a
                                 release */
  struct dam_tensor *bn_of, *bn_coef; /* contents are bn_of normalized with
                                 the coefficients bn_coef (a batch norm in
                                 training, dam_batchnorm): made like
                                 relu_of's, unless a node sum reads them
                                 through bn_of (dam_scale_add) */
  struct dam_tensor *bn_stats[2]; /* such a batch norm's save_mean and
                                 save_invstd when it has no gamma and beta:
                                 a node sum runs its backward for its own
                                 term (nn_scale.c) */
  bool zeros_pending;         /* contents are zeros not yet written (a step
                                 tensor's new gradient): written when first
                                 bound, unless a kernel that writes every
                                 element takes them (dam__k_take_zeros) */
  uint8_t scope_refs;         /* dam_scope_close's scratch */
  struct dam_tensor *prev, *next; /* ex's list of step or persistent
                                     tensors */
};
typedef struct dam_tensor dam_tensor;

/* A shape from up to 4 dims (trailing zeros ignored): dam_shape4(n,c,h,w). */
dam_shape dam_shape4(uint32_t n, uint32_t c, uint32_t h, uint32_t w);

/* Elements of a shape. */
uint64_t dam_shape_numel(const dam_shape *s);

/* Same dims (ndim and every dim). */
bool dam_shape_equal(const dam_shape *a, const dam_shape *b);

/* A new uninitialised tensor.  Step tensors are freed by
 * dam_exec_end_step; persistent ones by dam_tensor_free, or else by
 * dam_exec_destroy.  NULL on failure
 * with dam_last_error() set (e.g. past maxStorageBufferRange). */
dam_tensor *dam_tensor_new(dam_exec *ex, const dam_shape *shape,
                           bool persistent);

/* A new persistent tensor filled with `value`, not trained (running
 * statistics, optimizer state), appended to ex->state_sink when that is
 * set.  NULL on failure. */
dam_tensor *dam_state_new(dam_exec *ex, const dam_shape *shape, float value);

/* A new persistent, requires-grad tensor filled with zeros, appended to
 * ex->param_sink when that is set. */
dam_tensor *dam_param_new(dam_exec *ex, const dam_shape *shape);

/* Append t to l (growing it).  DAM_ENOMEM. */
int dam_tensor_list_push(dam_tensor_list *l, dam_tensor *t);

/* Seed the generator of dam_tensor_init_uniform. */
void dam_exec_seed(dam_exec *ex, uint64_t seed);

/* Record an upload of uniform values in [lo, hi) into t from ex's seeded
 * generator (splitmix64: the same values on every platform). */
int dam_tensor_init_uniform(dam_exec *ex, dam_tensor *t, float lo, float hi);

/* Free a persistent tensor and its gradient (NULL and step tensors are
 * ignored: the step owns those). */
void dam_tensor_free(dam_exec *ex, dam_tensor *t);

/* Give a step tensor's memory back to the arena now (NULL, persistent and
 * already released tensors are ignored).  The caller guarantees that
 * nothing recorded later needs its contents; work recorded earlier is
 * ordered before any reuse by the recorder's hazard tracking.  The struct
 * stays valid until dam_exec_end_step, without memory: recording any
 * access to it fails with DAM_EINVAL. */
void dam_tensor_release(dam_exec *ex, dam_tensor *t);

/* Give a step tensor without memory that has a recipe (relu_of, bn_of)
 * its contents: memory from the arena and the relu or normalization,
 * recorded now; write the pending zeros of a new gradient
 * (zeros_pending).  Nothing else for a tensor with memory; DAM_EINVAL for
 * a released one without a recipe.
 * Kernels call it on every tensor they bind, downloads and the optimizer's
 * set kernels on theirs. */
int dam_tensor_materialize(dam_exec *ex, dam_tensor *t);

/* Whether t has memory, or a recipe that makes its contents. */
bool dam_tensor_readable(const dam_tensor *t);

/* Whether t is a batch norm's output not yet made (bn_of, bn_coef): a
 * reader may take it through the norm's input instead. */
bool dam_tensor_bn_unmade(const dam_tensor *t);

/* The buffer range of t's elements. */
dam_range dam_tensor_range(const dam_tensor *t);

/* The range to bind t at binding i of s: its elements, or for a texel
 * binding (dam_shader.texel_mask) the whole 16-byte texels holding them
 * (allocations are padded to at least 16 bytes, so the floats past the
 * last element exist; their values are unspecified). */
dam_range dam_tensor_binding(const dam_tensor *t, const dam_shader *s,
                             uint32_t i);

/* True when the elements are densely packed in NCHW order (kernels
 * refuse other layouts with DAM_EINVAL). */
bool dam_tensor_contiguous(const dam_tensor *t);

/* Record an upload of numel floats into t. */
int dam_tensor_upload(dam_exec *ex, dam_tensor *t, const float *data);

/* Finish the recorded work and read t's numel floats. */
int dam_tensor_download(dam_exec *ex, const dam_tensor *t, float *data);

/* A new step tensor of zeros, written when first bound unless a kernel
 * that writes every element takes them (dam_tensor.zeros_pending); NULL
 * on failure, as dam_tensor_new. */
dam_tensor *dam_tensor_zeros(dam_exec *ex, const dam_shape *shape);

/* t's gradient, created on first use (zero, same lifetime as t; a step
 * tensor's zeros are written when first bound, or written over by a
 * kernel that takes them: dam_tensor.zeros_pending).
 * dam_backward releases the gradients of the step tensors its nodes
 * produced; asking again afterwards gives a new, zero gradient. */
dam_tensor *dam_tensor_grad(dam_exec *ex, dam_tensor *t);

/* Release every step tensor (called by dam_exec_end_step). */
void dam__tensors_release_step(dam_exec *ex);

/* Release every persistent tensor still alive (called by
 * dam_exec_destroy, after the pools). */
void dam__tensors_release_persistent(dam_exec *ex);

#endif
