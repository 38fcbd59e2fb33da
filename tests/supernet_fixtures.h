/*
 * The tiny supernet the supernet tests share (test_supernet.c,
 * test_supernet_grads.c): 1x8x8 images, 3 cells of 2 nodes (cell 0 normal,
 * cells 1 and 2 reductions), 2 channels, 3 classes, over 4 in-tree op
 * plugins; term sets, and its forward pass on the device.
 */
#ifndef DAM_TEST_SUPERNET_FIXTURES_H
#define DAM_TEST_SUPERNET_FIXTURES_H

#include "harness.h"

#include "supernet.h"

#define IMAGES 2
#define SIDE 8
#define CLASSES 3
#define CELLS 3 /* cell 0 normal, cells 1 and 2 reductions */
#define NODES 2
#define EDGES (NODES * (NODES + 3) / 2)
#define N_OPS 4
#define NONE_OP 3
#define MAX_TERMS 16

extern const char *const op_names[N_OPS];

typedef struct term_set {
  dam_arch_term t[2][MAX_TERMS];
  float w[2][MAX_TERMS];
  uint32_t n[2];
} term_set;

/* Loads the op plugins of OP_PLUGIN_DIR and finds op_names in them; 0 on
 * success, else -1 with a line on stderr.  free_ops releases them, after
 * every op instance is gone. */
int load_ops(void);
void free_ops(void);

/* The tiny net's description, with or without the auxiliary head. */
dam_supernet_desc net_desc(bool auxiliary);

/* dam_supernet_create of net_desc (of `fixed` when non-NULL), failing the
 * test on an error. */
dam_supernet *net_new(harness *h, bool auxiliary, const dam_genotype *fixed);

bool reduce_cell(uint32_t cell);

/* The edge from input `from` into node `node`, and the input an edge
 * reads. */
uint32_t edge_of(uint32_t node, uint32_t from);
uint32_t from_of(uint32_t edge);

void add_term(term_set *s, int kind, uint32_t node, uint32_t from, uint32_t op,
              float w);

/* Every op but none on every edge, with weights in [0.2, 0.6). */
void all_terms(harness *h, term_set *s);

/* Two terms per node (different edges, different ops), and in the
 * reduction cell a third of node 1, a max pool of input 1 as node 0's:
 * the two share their pool (dam_share_begin). */
void some_terms(term_set *s);

/* The forward pass of net on images x over the terms of s; the weights
 * become one-element step tensors (into wt when non-NULL, requiring
 * gradients when grad is set).  p holds training, drop_path and rng. */
dam_tensor *forward(harness *h, dam_supernet *net, const float *x,
                    const term_set *s, dam_supernet_pass p, bool grad,
                    dam_tensor *wt[2][MAX_TERMS], dam_tensor **aux);

/* The logits of a pass without drop-path (malloc'd [IMAGES * CLASSES]). */
float *logits_of(harness *h, dam_supernet *net, const float *x,
                 const term_set *s, bool training);

void assert_logits_shape(const dam_tensor *y);

#endif
