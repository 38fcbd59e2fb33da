/*
 * The architecture relaxations on the host (DESIGN §6): ISTA single-stage
 * sparse coding (default) and DARTS' softmax over every op of every edge.
 * An arch holds, per cell kind, the learnable codes (ISTA's b_i, DARTS'
 * alphas) with their Adam state.  Each step the engine asks which (edge, op)
 * terms each node evaluates and with what weight (dam_arch_terms), runs the
 * supernet with those weights, hands back d loss / d weight per term
 * (dam_arch_add_grad), and takes one Adam step (dam_arch_step).  Once per
 * epoch ISTA re-solves its sparse codes and freezes the nodes that stopped
 * moving (dam_arch_epoch_end).  Everything is double precision on the host
 * and seeded.  Formulas: docs/NAS.md.
 */
#ifndef DAM_ARCH_H
#define DAM_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "genotype.h"
#include "safetensors.h"

enum dam_arch_method { DAM_ARCH_ISTA = 0, DAM_ARCH_DARTS = 1 };

/* Parameters of a derived network, in millions, for ISTA's optional
 * budget: the engine counts them through the op plugins. */
typedef double (*dam_arch_params_fn)(const dam_genotype *g, void *ctx);

typedef struct dam_arch_settings {
  int method;        /* enum dam_arch_method */
  uint32_t nodes;    /* intermediate nodes per cell, 1..8 */
  uint32_t multiplier;
  uint32_t n_ops;    /* candidate ops; op o is op_names[o] */
  const char *const *op_names;
  int32_t none_op;   /* index of DARTS' "none" op (never evaluated, never
                        chosen), or -1 */
  /* ISTA */
  uint32_t proj_dims, sparseness;
  double dist_limit, lasso_lambda;
  double param_budget;        /* millions of parameters; 0 = none */
  double code_std;            /* std of the initial codes b_i (the
                                 reference's 1e-3 when 0) */
  dam_arch_params_fn params_of; /* required when param_budget > 0 */
  void *params_ctx;
  /* Adam on the codes (torch.optim.Adam, L2 decay added to the grad) */
  double lr, beta1, beta2, wd;
  uint64_t seed;
} dam_arch_settings;

/* One term a node evaluates: op `op` on input `from` (0, 1: the cell's
 * inputs, 2 + j: node j), scaled by a weight. */
typedef struct dam_arch_term {
  uint32_t node, from, op;
} dam_arch_term;

typedef struct dam_arch dam_arch;

/* A new arch (*out, free with dam_arch_free): ISTA draws each node's
 * dictionary A_i uniform in [0, 1) (proj_dims x (i+2)*n_ops), its code b_i
 * and solves the first sparse codes; DARTS draws alphas 1e-3 * N(0, 1).
 * DAM_EINVAL for bad settings (the message says which), DAM_ENOMEM. */
int dam_arch_create(const dam_arch_settings *s, dam_arch **out);

void dam_arch_free(dam_arch *a);

/* The terms of cell kind `cell` in node order, and their current weights:
 * ISTA the support of each node (one op per kept edge) with
 * w = A_S^T b - (A_S^T A_S - I) z_S; DARTS every op but "none" on every
 * edge with softmax weights.  terms and w hold at least
 * dam_arch_max_terms() entries; returns how many were written. */
uint32_t dam_arch_terms(const dam_arch *a, int cell, dam_arch_term *terms,
                        float *w);

/* An upper bound of dam_arch_terms' count. */
uint32_t dam_arch_max_terms(const dam_arch *a);

/* Add scale * d loss / d w (gw, one per term of the last dam_arch_terms
 * of that cell kind) into the codes' gradient, through the chain rule
 * (ISTA: d/db = A_S gw; DARTS: through the softmax).  Frozen ISTA nodes
 * take no gradient. */
void dam_arch_add_grad(dam_arch *a, int cell, const float *gw, double scale);

/* One Adam step on every code from the accumulated gradient, which is
 * then cleared.  Non-finite gradients are refused with DAM_EINVAL and
 * nothing changes. */
int dam_arch_step(dam_arch *a);

/* End of a search epoch.  ISTA: re-solve each unfrozen node's sparse code
 * z from b by LASSO (coordinate descent), pick its support again (the best
 * op on each input edge by |z|, then the best `sparseness` edges; any op
 * can win, the last one too), and freeze the node when ||z_new - z_old||_2
 * <= dist_limit.  With a budget, a z whose derived network exceeds it is
 * rejected (the node keeps its old z and support).  Writes the number of
 * nodes frozen now into *newly (may be NULL).  DARTS: nothing. */
void dam_arch_epoch_end(dam_arch *a, uint32_t *newly);

/* True when the search is over: every ISTA node frozen (never for
 * DARTS, whose search runs its configured epochs). */
bool dam_arch_done(const dam_arch *a);

/* Freeze everything now (the search epochs ran out). */
void dam_arch_freeze_all(dam_arch *a);

/* Whether node `node` of cell kind `cell` is frozen (DARTS: false). */
bool dam_arch_frozen(const dam_arch *a, int cell, uint32_t node);

/* The derived genotype: ISTA the current supports with their weights;
 * DARTS per node the 2 edges with the largest non-none softmax weight,
 * each with its best non-none op and that op's softmax weight. */
void dam_arch_genotype(const dam_arch *a, dam_genotype *g);

/* Save every code, sparse code, support, frozen flag, Adam moment and
 * step count into st as F64/U32 tensors named "arch.*".  Errors of
 * dam_st_add. */
int dam_arch_save(const dam_arch *a, dam_safetensors *st);

/* Restore what dam_arch_save wrote, for an arch created with the same
 * settings.  DAM_ENOTFOUND / DAM_EDATA (naming the tensor) when st lacks
 * a tensor or holds one of the wrong dtype or shape; a is unchanged on
 * error. */
int dam_arch_load(dam_arch *a, const dam_safetensors *st);

#endif
