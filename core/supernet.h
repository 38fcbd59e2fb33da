/*
 * The DARTS supernet built from the config (DESIGN §6): a 3x3 stem, cells
 * of `nodes` intermediate nodes (reduction cells at 1/3 and 2/3 depth,
 * channels doubled there), global average pooling and a linear classifier,
 * and an optional auxiliary head after the second reduction.  Every edge
 * holds an instance of each candidate op plugin (or, for a fixed network,
 * only the genotype's); a forward pass evaluates only the terms it is
 * given, each op output scaled by its weight.  The net names each of its
 * tensors (for checkpoints and model.safetensors) and keeps each trained
 * tensor's momentum buffer.
 */
#ifndef DAM_SUPERNET_H
#define DAM_SUPERNET_H

#include "arch.h"
#include "op.h"

typedef struct dam_supernet_desc {
  uint32_t in_channels, height, width, classes;
  uint32_t cells, channels, nodes, stem_multiplier, stem_stride;
  bool auxiliary;
  uint32_t n_ops;
  const dam_op_desc *const *ops; /* candidate op descriptors */
  const void *const *op_params;  /* their filled params blocks */
} dam_supernet_desc;

/* One named tensor of the net. */
typedef struct dam_net_tensor {
  char name[96];
  dam_tensor *t;
  dam_tensor *buf; /* momentum buffer of a trained tensor (zeros), else NULL */
  int64_t op;      /* the op instance owning it, or -1 (stem, cells'
                      preprocessing, classifier, auxiliary head) */
} dam_net_tensor;

typedef struct dam_supernet dam_supernet;

/* What a forward pass evaluates: per cell kind the terms and one
 * one-element weight tensor per term. */
typedef struct dam_supernet_pass {
  const dam_arch_term *terms[2];
  dam_tensor *const *weights[2];
  uint32_t n_terms[2];
  bool training;       /* batch statistics in the batch norms */
  float drop_path;     /* drop probability of each non-identity op output */
  uint64_t *rng;       /* drop-path masks; required when drop_path > 0 */
} dam_supernet_pass;

/* Build the net in ex: with fixed == NULL every candidate op on every edge
 * (descriptors named "none" get no instance), else only the genotype's
 * ops.  Weights are drawn from ex's seeded generator.  DAM_ESHAPE /
 * DAM_EPLUGIN naming the op that can't be placed, DAM_ENOMEM. */
int dam_supernet_create(dam_exec *ex, const dam_supernet_desc *d,
                        const dam_genotype *fixed, dam_supernet **out);

/* Destroy the op instances and free every tensor of the net (NULL ok). */
void dam_supernet_free(dam_supernet *net);

/* Logits [N, classes] of x [N, C, H, W]; *aux (may be NULL) receives the
 * auxiliary head's logits when the net has one and p->training, else
 * NULL.  NULL on failure with the error set. */
dam_tensor *dam_supernet_forward(dam_exec *ex, dam_supernet *net,
                                 dam_tensor *x, const dam_supernet_pass *p,
                                 dam_tensor **aux);

/* Every tensor of the net, in a fixed order; *n receives the count.  The
 * array stays the net's and changes only with dam_supernet_prune. */
dam_net_tensor *dam_supernet_tensors(dam_supernet *net, uint32_t *n);

/* Whether tensor i is used by a pass over these terms (fixed tensors
 * always are). */
bool dam_supernet_uses(const dam_supernet *net, const dam_net_tensor *t,
                       const dam_arch_term *const terms[2],
                       const uint32_t n_terms[2]);

/* Drop every op instance the genotype does not use (the final network). */
void dam_supernet_prune(dam_supernet *net, const dam_genotype *g);

/* Parameters (trained elements) of the network g derives, in millions. */
double dam_supernet_params_of(const dam_genotype *g, void *net);

/* The terms and weights (one per kept edge, node by node) of a genotype's
 * cell kind; returns their count (at most nodes * 2).  An op that is not a
 * candidate gets op UINT32_MAX, which a forward pass refuses. */
uint32_t dam_genotype_terms(const dam_supernet *net, const dam_genotype *g,
                            int cell, dam_arch_term *terms, float *w);

#endif
