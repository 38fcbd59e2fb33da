/*
 * The supernet (supernet.h): construction from the candidate op plugins,
 * the forward pass over a set of weighted terms, the named tensor table
 * and pruning to a genotype.
 */
#include "supernet.h"

#include "autograd.h"
#include "error.h"
#include "kernels.h"
#include "nn.h"
#include "rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAM__AUX_HIDDEN 128
#define DAM__AUX_WIDE 768

/* ReLU -> 1x1 conv -> BN (no affine), or, after a reduction, DARTS'
 * factorized reduce (relu, two half convs, BN). */
typedef struct dam__preprocess {
  dam_tensor *w, *w2, *mean, *var; /* w2 only for the factorized reduce */
} dam__preprocess;

typedef struct dam__cell {
  bool reduce;
  uint32_t c; /* channels of each node */
  dam__preprocess pre[2];
} dam__cell;

/* A conv and the batch norm after it. */
typedef struct dam__conv_bn {
  dam_tensor *w, *gamma, *beta, *mean, *var;
} dam__conv_bn;

struct dam_supernet {
  dam_exec *ex;
  dam_supernet_desc d;
  uint32_t edges; /* per cell */
  dam__conv_bn stem;
  dam__cell *cells;
  dam_op **ops; /* [cell][edge][op], NULL where absent */
  dam__conv_bn aux[2];
  dam_tensor *aux_fc_w, *aux_fc_b, *fc_w, *fc_b;
  uint32_t aux_cell, aux_pool, aux_kernel;
  dam_net_tensor *table;
  uint32_t n_table, cap_table;
};

static const dam_bn_args bn_args = {1e-5f, 0.1f};

static uint32_t edge_of(uint32_t node, uint32_t from) {
  return node * (node + 3) / 2 + from;
}

static dam_op **op_slot(const dam_supernet *net, uint32_t cell, uint32_t edge,
                        uint32_t op) {
  return &net->ops[((size_t)cell * net->edges + edge) * net->d.n_ops + op];
}

static int add_tensor(dam_supernet *net, dam_tensor *t, int64_t op,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add_tensor(dam_supernet *net, dam_tensor *t, int64_t op,
                      const char *fmt, ...) {
  if (!t)
    return DAM_ENOMEM;
  if (net->n_table == net->cap_table) {
    uint32_t cap = net->cap_table ? 2 * net->cap_table : 64;
    dam_net_tensor *a = realloc(net->table, cap * sizeof *a);
    if (!a)
      return dam_fail(DAM_ENOMEM, "out of memory");
    net->table = a;
    net->cap_table = cap;
  }
  dam_net_tensor *e = &net->table[net->n_table++];
  *e = (dam_net_tensor){.t = t, .op = op};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->name, sizeof e->name, fmt, ap);
  va_end(ap);
  if (t->requires_grad && !(e->buf = dam_state_new(net->ex, &t->shape, 0))) {
    net->n_table--;
    return DAM_ENOMEM;
  }
  return 0;
}

/* A conv weight drawn like PyTorch's default init. */
static dam_tensor *conv_weight(dam_exec *ex, uint32_t out, uint32_t in,
                               uint32_t k) {
  dam_shape s = dam_shape4(out, in, k, k);
  dam_tensor *w = dam_param_new(ex, &s);
  float bound = 1.0f / sqrtf((float)(in * k * k));
  if (w && dam_tensor_init_uniform(ex, w, -bound, bound)) {
    dam_tensor_free(ex, w);
    return NULL;
  }
  return w;
}

static int bn_stats(dam_supernet *net, uint32_t c, dam_tensor **mean,
                    dam_tensor **var, const char *prefix) {
  dam_shape s = dam_shape4(c, 0, 0, 0);
  *mean = dam_state_new(net->ex, &s, 0.0f);
  *var = dam_state_new(net->ex, &s, 1.0f);
  int err = add_tensor(net, *mean, -1, "%s.running_mean", prefix);
  return err ? err : add_tensor(net, *var, -1, "%s.running_var", prefix);
}

/* conv k x k (in -> out) + BN with affine parameters. */
static int conv_bn_create(dam_supernet *net, dam__conv_bn *cb, uint32_t in,
                          uint32_t out, uint32_t k, const char *prefix) {
  dam_shape s = dam_shape4(out, 0, 0, 0);
  char name[64];
  int err = add_tensor(net, cb->w = conv_weight(net->ex, out, in, k), -1,
                       "%s.conv.weight", prefix);
  if (!err)
    err = add_tensor(net, cb->gamma = dam_param_new(net->ex, &s), -1,
                     "%s.bn.weight", prefix);
  if (!err)
    err = dam_k_fill(net->ex, cb->gamma, 1.0f);
  if (!err)
    err = add_tensor(net, cb->beta = dam_param_new(net->ex, &s), -1,
                     "%s.bn.bias", prefix);
  snprintf(name, sizeof name, "%s.bn", prefix);
  return err ? err : bn_stats(net, out, &cb->mean, &cb->var, name);
}

static int preprocess_create(dam_supernet *net, dam__preprocess *p,
                             uint32_t in, uint32_t out, bool factorized,
                             uint32_t cell, int k) {
  char name[64];
  int err;
  if (factorized) {
    err = add_tensor(net, p->w = conv_weight(net->ex, out / 2, in, 1), -1,
                     "cells.%u.pre%d.conv_1.weight", cell, k);
    if (!err)
      err = add_tensor(net, p->w2 = conv_weight(net->ex, out - out / 2, in, 1),
                       -1, "cells.%u.pre%d.conv_2.weight", cell, k);
  } else {
    err = add_tensor(net, p->w = conv_weight(net->ex, out, in, 1), -1,
                     "cells.%u.pre%d.conv.weight", cell, k);
  }
  snprintf(name, sizeof name, "cells.%u.pre%d.bn", cell, k);
  return err ? err : bn_stats(net, out, &p->mean, &p->var, name);
}

static int op_create(dam_supernet *net, uint32_t cell, uint32_t node,
                     uint32_t from, uint32_t o) {
  const dam_op_desc *desc = net->d.ops[o];
  const dam__cell *ce = &net->cells[cell];
  uint32_t e = edge_of(node, from);
  dam_op_site site = {sizeof site, ce->reduce && from < 2 ? 2 : 1, ce->c,
                      ce->c};
  dam_op **slot = op_slot(net, cell, e, o);
  int err = dam_op_create(net->ex, desc, net->d.op_params[o], &site, slot);
  if (err)
    return err;
  int64_t id = slot - net->ops;
  const char *name = desc->hdr.name;
  for (uint32_t k = 0; !err && k < (*slot)->weights.n; k++)
    err = add_tensor(net, (*slot)->weights.t[k], id,
                     "cells.%u.edges.%u.%s.weight_%u", cell, e, name, k);
  for (uint32_t k = 0; !err && k < (*slot)->buffers.n; k++)
    err = add_tensor(net, (*slot)->buffers.t[k], id,
                     "cells.%u.edges.%u.%s.buffer_%u", cell, e, name, k);
  return err;
}

/* The op index of a genotype edge's op name, or -1. */
static int32_t op_index(const dam_supernet *net, const char *name) {
  for (uint32_t o = 0; o < net->d.n_ops; o++)
    if (strcmp(net->d.ops[o]->hdr.name, name) == 0)
      return (int32_t)o;
  return -1;
}

static int cell_ops_create(dam_supernet *net, uint32_t cell,
                           const dam_genotype *fixed) {
  const dam__cell *ce = &net->cells[cell];
  int err = 0;
  for (uint32_t i = 0; !err && i < net->d.nodes; i++) {
    if (fixed) {
      const dam_genotype_cell *gc = &fixed->cell[ce->reduce];
      for (uint32_t k = 0; !err && k < gc->n_in[i]; k++) {
        int32_t o = op_index(net, gc->in[i][k].op);
        if (o < 0)
          return dam_fail(DAM_ENOTFOUND,
                          "genotype: op %s is not among the candidate ops",
                          gc->in[i][k].op);
        if (!*op_slot(net, cell, edge_of(i, gc->in[i][k].from), (uint32_t)o))
          err = op_create(net, cell, i, gc->in[i][k].from, (uint32_t)o);
      }
      continue;
    }
    for (uint32_t j = 0; !err && j < i + 2; j++)
      for (uint32_t o = 0; !err && o < net->d.n_ops; o++)
        if (strcmp(net->d.ops[o]->hdr.name, "none") != 0)
          err = op_create(net, cell, i, j, o);
  }
  return err;
}

static int aux_create(dam_supernet *net, uint32_t c_in, uint32_t h) {
  net->aux_pool = h < 5 ? h : 5;
  uint32_t after = (h - net->aux_pool) / 3 + 1;
  net->aux_kernel = after < 2 ? after : 2;
  dam_shape wfc = dam_shape4(net->d.classes, DAM__AUX_WIDE, 0, 0);
  dam_shape bfc = dam_shape4(net->d.classes, 0, 0, 0);
  int err = conv_bn_create(net, &net->aux[0], c_in, DAM__AUX_HIDDEN, 1, "aux.0");
  if (!err)
    err = conv_bn_create(net, &net->aux[1], DAM__AUX_HIDDEN, DAM__AUX_WIDE,
                         net->aux_kernel, "aux.1");
  if (!err)
    err = add_tensor(net, net->aux_fc_w = dam_param_new(net->ex, &wfc), -1,
                     "aux.classifier.weight");
  if (!err)
    err = dam_tensor_init_uniform(net->ex, net->aux_fc_w, -0.036f, 0.036f);
  return err ? err
             : add_tensor(net, net->aux_fc_b = dam_param_new(net->ex, &bfc),
                          -1, "aux.classifier.bias");
}

static int build(dam_supernet *net, const dam_genotype *fixed) {
  const dam_supernet_desc *d = &net->d;
  uint32_t c_stem = d->stem_multiplier * d->channels;
  uint32_t c_pp = c_stem, c_p = c_stem, c = d->channels;
  uint32_t h = d->stem_stride == 2 ? (d->height + 1) / 2 : d->height;
  bool reduce_prev = false;
  int err = conv_bn_create(net, &net->stem, d->in_channels, c_stem, 3, "stem");
  net->aux_cell = UINT32_MAX;
  for (uint32_t i = 0; !err && i < d->cells; i++) {
    dam__cell *ce = &net->cells[i];
    ce->reduce = i == d->cells / 3 || i == 2 * d->cells / 3;
    if (ce->reduce) {
      c *= 2;
      h = (h + 1) / 2;
    }
    ce->c = c;
    err = preprocess_create(net, &ce->pre[0], c_pp, c, reduce_prev, i, 0);
    if (!err)
      err = preprocess_create(net, &ce->pre[1], c_p, c, false, i, 1);
    if (!err)
      err = cell_ops_create(net, i, fixed);
    reduce_prev = ce->reduce;
    c_pp = c_p;
    c_p = d->nodes * c;
    if (!err && d->auxiliary && i == 2 * d->cells / 3) {
      net->aux_cell = i;
      err = aux_create(net, c_p, h);
    }
  }
  dam_shape w = dam_shape4(d->classes, c_p, 0, 0);
  dam_shape b = dam_shape4(d->classes, 0, 0, 0);
  float bound = 1.0f / sqrtf((float)c_p);
  if (!err)
    err = add_tensor(net, net->fc_w = dam_param_new(net->ex, &w), -1,
                     "classifier.weight");
  if (!err)
    err = dam_tensor_init_uniform(net->ex, net->fc_w, -bound, bound);
  if (!err)
    err = add_tensor(net, net->fc_b = dam_param_new(net->ex, &b), -1,
                     "classifier.bias");
  if (!err)
    err = dam_tensor_init_uniform(net->ex, net->fc_b, -bound, bound);
  return err;
}

int dam_supernet_create(dam_exec *ex, const dam_supernet_desc *d,
                        const dam_genotype *fixed, dam_supernet **out) {
  *out = NULL;
  if (!d->cells || !d->nodes || d->nodes > DAM_GENOTYPE_MAX_NODES ||
      !d->n_ops || !d->classes)
    return dam_fail(DAM_EINVAL, "supernet: %u cells, %u nodes, %u ops, %u "
                    "classes", d->cells, d->nodes, d->n_ops, d->classes);
  dam_supernet *net = calloc(1, sizeof *net);
  if (!net)
    return dam_fail(DAM_ENOMEM, "out of memory");
  net->ex = ex;
  net->d = *d;
  net->edges = d->nodes * (d->nodes + 3) / 2;
  net->cells = calloc(d->cells, sizeof *net->cells);
  net->ops = calloc((size_t)d->cells * net->edges * d->n_ops, sizeof *net->ops);
  int err = net->cells && net->ops ? build(net, fixed)
                                   : dam_fail(DAM_ENOMEM, "out of memory");
  if (err) {
    dam_supernet_free(net);
    return err;
  }
  *out = net;
  return 0;
}

void dam_supernet_free(dam_supernet *net) {
  if (!net)
    return;
  for (uint32_t i = 0; i < net->n_table; i++) {
    dam_tensor_free(net->ex, net->table[i].buf);
    dam_tensor_free(net->ex, net->table[i].t);
  }
  size_t n_ops = net->ops ? (size_t)net->d.cells * net->edges * net->d.n_ops : 0;
  for (size_t i = 0; i < n_ops; i++)
    dam_op_destroy(net->ops[i]);
  free(net->ops);
  free(net->cells);
  free(net->table);
  free(net);
}

/* ---- forward ---- */

static dam_tensor *conv_bn(dam_exec *ex, const dam__conv_bn *cb, dam_tensor *x,
                           uint32_t stride, uint32_t pad, bool training) {
  dam_conv2d_geom g = {{stride, stride}, {pad, pad}, {1, 1}, 1};
  dam_tensor *y = dam_conv2d(ex, x, cb->w, &g);
  return y ? dam_batchnorm(ex, y, cb->gamma, cb->beta, cb->mean, cb->var,
                           &bn_args, training)
           : NULL;
}

static dam_tensor *preprocess(dam_exec *ex, const dam__preprocess *p,
                              dam_tensor *x, bool training) {
  dam_conv2d_geom g = {{1, 1}, {0, 0}, {1, 1}, 1};
  dam_scope scope = dam_scope_open(ex);
  dam_tensor *r = dam_relu(ex, x), *y = NULL;
  if (r)
    y = p->w2 ? dam_factorized_reduce(ex, r, p->w, p->w2)
              : dam_conv2d(ex, r, p->w, &g);
  if (y)
    y = dam_batchnorm(ex, y, NULL, NULL, p->mean, p->var, &bn_args,
                      training);
  if (y)
    dam_scope_close(ex, &scope, &y, 1, false);
  return y;
}

/* Concatenation of n >= 1 tensors in groups of DAM_NODE_INPUTS. */
static dam_tensor *concat_all(dam_exec *ex, dam_tensor **xs, uint32_t n) {
  dam_tensor *acc = NULL;
  while (n) {
    dam_tensor *group[DAM_NODE_INPUTS];
    uint32_t k = 0;
    if (acc)
      group[k++] = acc;
    while (k < DAM_NODE_INPUTS && n) {
      group[k++] = *xs++;
      n--;
    }
    if (!(acc = k == 1 ? group[0] : dam_concat(ex, group, k)))
      return NULL;
  }
  return acc;
}

/* One op output with drop-path (per image keep/(1-p) or 0). */
static dam_tensor *drop_path(dam_exec *ex, dam_tensor *h,
                             const dam_supernet_pass *p) {
  uint32_t n = h->shape.dim[0];
  float *mask = malloc(n * sizeof *mask);
  if (!mask)
    return dam_fail(DAM_ENOMEM, "out of memory"), NULL;
  float keep = 1.0f - p->drop_path;
  for (uint32_t i = 0; i < n; i++)
    mask[i] = dam_uniform01(p->rng) < keep ? 1.0f / keep : 0.0f;
  dam_tensor *y = dam_scale_rows(ex, h, mask);
  free(mask);
  return y;
}

/* acc plus the 1 to 3 weighted terms x[i] * w[i] left of a node's sum
 * (acc NULL: none yet); NULL on failure. */
static dam_tensor *node_sum_rest(dam_exec *ex, dam_tensor *acc,
                                 dam_tensor *const *x, dam_tensor *const *w,
                                 uint32_t n) {
  if (n >= 2 && !(acc = dam_scale_pair(ex, acc, x[0], w[0], x[1], w[1])))
    return NULL;
  if (n % 2 == 1)
    acc = acc ? dam_scale_acc(ex, acc, x[n - 1], w[n - 1])
              : dam_scale_add(ex, NULL, x[n - 1], w[n - 1]);
  return acc;
}

static dam_tensor *cell_nodes(dam_exec *ex, dam_supernet *net, uint32_t ci,
                              dam_tensor *s0, dam_tensor *s1,
                              const dam_supernet_pass *p) {
  const dam__cell *ce = &net->cells[ci];
  dam_tensor *st[2 + DAM_GENOTYPE_MAX_NODES] = {
      preprocess(ex, &ce->pre[0], s0, p->training),
      preprocess(ex, &ce->pre[1], s1, p->training)};
  if (!st[0] || !st[1])
    return NULL;
  const dam_arch_term *terms = p->terms[ce->reduce];
  for (uint32_t i = 0; i < net->d.nodes; i++) {
    /* the node's sum, built four weighted terms per dispatch */
    dam_tensor *acc = NULL, *held[4], *held_w[4];
    uint32_t n_held = 0;
    for (uint32_t k = 0; k < p->n_terms[ce->reduce]; k++) {
      if (terms[k].node != i)
        continue;
      if (terms[k].from >= i + 2 || terms[k].op >= net->d.n_ops)
        return dam_fail(DAM_EINVAL, "supernet: cell %u node %u: no input %u "
                        "or op %u", ci, i, terms[k].from, terms[k].op), NULL;
      dam_tensor *x = st[terms[k].from];
      dam_op *op = *op_slot(net, ci, edge_of(i, terms[k].from), terms[k].op);
      if (!op)
        return dam_fail(DAM_EINVAL, "supernet: cell %u node %u: op %u on "
                        "input %u was dropped", ci, i, terms[k].op,
                        terms[k].from), NULL;
      dam_tensor *h = dam_op_forward(ex, op, x, p->training);
      if (h && h != x && p->training && p->drop_path > 0)
        h = drop_path(ex, h, p);
      if (!h)
        return NULL;
      held[n_held] = h;
      held_w[n_held++] = p->weights[ce->reduce][k];
      if (n_held == 4) {
        if (!(acc = dam_scale_quad(ex, acc, held, held_w)))
          return NULL;
        n_held = 0;
      }
    }
    if (n_held && !(acc = node_sum_rest(ex, acc, held, held_w, n_held)))
      return NULL;
    if (!acc)
      return dam_fail(DAM_EINVAL, "supernet: cell %u node %u has no input",
                      ci, i), NULL;
    st[2 + i] = acc;
  }
  uint32_t m = net->d.nodes;
  return concat_all(ex, st + 2, m);
}

/* A cell, its edges from one state sharing their pools and pixel phases
 * (pool plugins pool the state alike on each edge, and skip_connect's
 * factorized reduces split it alike). */
static dam_tensor *cell_forward(dam_exec *ex, dam_supernet *net, uint32_t ci,
                                dam_tensor *s0, dam_tensor *s1,
                                const dam_supernet_pass *p) {
  dam_share share;
  dam_share_begin(ex, &share);
  dam_tensor *y = cell_nodes(ex, net, ci, s0, s1, p);
  dam_share_end(ex);
  return y;
}

static dam_tensor *aux_forward(dam_exec *ex, dam_supernet *net, dam_tensor *x) {
  dam_pool_args pa = {DAM_POOL_AVG, net->aux_pool, 3, 0};
  dam_scope head = dam_scope_open(ex);
  dam_tensor *y = dam_relu(ex, x);
  if (y)
    y = dam_pool2d(ex, y, &pa);
  if (y)
    y = conv_bn(ex, &net->aux[0], y, 1, 0, true);
  if (y)
    y = dam_relu(ex, y);
  if (y)
    y = conv_bn(ex, &net->aux[1], y, 1, 0, true);
  if (y)
    y = dam_relu(ex, y);
  if (y)
    y = dam_global_avg_pool(ex, y);
  if (y)
    y = dam_linear(ex, y, net->aux_fc_w, net->aux_fc_b);
  if (y)
    dam_scope_close(ex, &head, &y, 1, true);
  return y;
}

dam_tensor *dam_supernet_forward(dam_exec *ex, dam_supernet *net,
                                 dam_tensor *x, const dam_supernet_pass *p,
                                 dam_tensor **aux) {
  if (aux)
    *aux = NULL;
  uint32_t stride = net->d.stem_stride ? net->d.stem_stride : 1;
  dam_tensor *s0 = conv_bn(ex, &net->stem, x, stride, 1, p->training);
  dam_tensor *s1 = s0;
  for (uint32_t i = 0; s1 && i < net->d.cells; i++) {
    dam_scope cell = dam_scope_open(ex);
    dam_tensor *out = cell_forward(ex, net, i, s0, s1, p);
    /* What only the cell's backward reads goes, shared relus included (a
     * relu is made again where it is read). */
    if (out)
      dam_scope_close(ex, &cell, &out, 1, true);
    s0 = s1;
    s1 = out;
    if (s1 && aux && p->training && i == net->aux_cell &&
        !(*aux = aux_forward(ex, net, s1)))
      return NULL;
  }
  dam_tensor *y = s1 ? dam_global_avg_pool(ex, s1) : NULL;
  return y ? dam_linear(ex, y, net->fc_w, net->fc_b) : NULL;
}

/* ---- the tensor table ---- */

dam_net_tensor *dam_supernet_tensors(dam_supernet *net, uint32_t *n) {
  *n = net->n_table;
  return net->table;
}

/* Cell, edge and op of an op id. */
static void op_coords(const dam_supernet *net, int64_t id, uint32_t *cell,
                      uint32_t *edge, uint32_t *op) {
  *op = (uint32_t)(id % net->d.n_ops);
  *edge = (uint32_t)(id / net->d.n_ops % net->edges);
  *cell = (uint32_t)(id / net->d.n_ops / net->edges);
}

bool dam_supernet_uses(const dam_supernet *net, const dam_net_tensor *t,
                       const dam_arch_term *const terms[2],
                       const uint32_t n_terms[2]) {
  if (t->op < 0)
    return true;
  uint32_t cell, edge, op;
  op_coords(net, t->op, &cell, &edge, &op);
  int kind = net->cells[cell].reduce;
  for (uint32_t k = 0; k < n_terms[kind]; k++)
    if (terms[kind][k].op == op &&
        edge_of(terms[kind][k].node, terms[kind][k].from) == edge)
      return true;
  return false;
}

/* Whether genotype g keeps op `op` on edge `edge` of cell kind `kind`. */
static bool genotype_keeps(const dam_supernet *net, const dam_genotype *g,
                           int kind, uint32_t edge, uint32_t op) {
  const dam_genotype_cell *gc = &g->cell[kind];
  for (uint32_t i = 0; i < g->nodes; i++)
    for (uint32_t k = 0; k < gc->n_in[i]; k++)
      if (edge_of(i, gc->in[i][k].from) == edge &&
          op_index(net, gc->in[i][k].op) == (int32_t)op)
        return true;
  return false;
}

void dam_supernet_prune(dam_supernet *net, const dam_genotype *g) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < net->n_table; i++) {
    dam_net_tensor *t = &net->table[i];
    uint32_t cell, edge, op;
    if (t->op >= 0) {
      op_coords(net, t->op, &cell, &edge, &op);
      if (!genotype_keeps(net, g, net->cells[cell].reduce, edge, op)) {
        dam_tensor_free(net->ex, t->buf);
        dam_tensor_free(net->ex, t->t);
        continue;
      }
    }
    net->table[kept++] = *t;
  }
  net->n_table = kept;
  for (uint32_t c = 0; c < net->d.cells; c++)
    for (uint32_t e = 0; e < net->edges; e++)
      for (uint32_t o = 0; o < net->d.n_ops; o++) {
        dam_op **slot = op_slot(net, c, e, o);
        if (*slot && !genotype_keeps(net, g, net->cells[c].reduce, e, o)) {
          dam_op_destroy(*slot);
          *slot = NULL;
        }
      }
}

double dam_supernet_params_of(const dam_genotype *g, void *ctx) {
  const dam_supernet *net = ctx;
  uint64_t n = 0;
  for (uint32_t i = 0; i < net->n_table; i++) {
    const dam_net_tensor *t = &net->table[i];
    uint32_t cell, edge, op;
    if (!t->t->requires_grad)
      continue;
    if (t->op >= 0) {
      op_coords(net, t->op, &cell, &edge, &op);
      if (!genotype_keeps(net, g, net->cells[cell].reduce, edge, op))
        continue;
    }
    n += t->t->numel;
  }
  return (double)n / 1e6;
}

uint32_t dam_genotype_terms(const dam_supernet *net, const dam_genotype *g,
                            int cell, dam_arch_term *terms, float *w) {
  const dam_genotype_cell *gc = &g->cell[cell];
  uint32_t n = 0;
  for (uint32_t i = 0; i < g->nodes; i++)
    for (uint32_t k = 0; k < gc->n_in[i]; k++) {
      int32_t o = op_index(net, gc->in[i][k].op);
      terms[n] = (dam_arch_term){i, gc->in[i][k].from,
                                 o < 0 ? UINT32_MAX : (uint32_t)o};
      w[n++] = gc->in[i][k].weight;
    }
  return n;
}
