/* The supernet (core/supernet.c) over the in-tree op plugins, on the tiny
 * net of supernet_fixtures.h: its named tensor table, the logits' and
 * auxiliary logits' shapes, that a pass evaluates exactly the terms it is
 * given, pruning to a genotype against a net built for that genotype, and
 * seeding.  Its gradients: test_supernet_grads.c. */
#include "supernet_fixtures.h"

#include "autograd.h"
#include "error.h"
#include "kernels.h"
#include "supernet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Evaluation mode: the running statistics. */
static float *eval_logits(harness *h, dam_supernet *net, const float *x,
                          const term_set *s) {
  return logits_of(h, net, x, s, false);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; i++)
    d = fmax(d, fabs((double)a[i] - b[i]));
  return d;
}

static int32_t find(const dam_net_tensor *t, uint32_t n, const char *name) {
  for (uint32_t i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0)
      return (int32_t)i;
  return -1;
}

/* Cell, edge and op name of an op's tensor "cells.C.edges.E.OP.what". */
static bool parse_op_tensor(const char *name, uint32_t *cell, uint32_t *edge,
                            char op[64]) {
  return sscanf(name, "cells.%u.edges.%u.%63[^.]", cell, edge, op) == 3;
}

static int32_t op_index(const char *name) {
  for (int32_t o = 0; o < N_OPS; o++)
    if (strcmp(op_names[o], name) == 0)
      return o;
  return -1;
}

/* ---- tests ---- */

static void tensor_table(void **state) {
  harness *h = *state;
  dam_supernet *net = net_new(h, false, NULL);
  uint32_t n;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  assert_true(n > 0);
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = i + 1; j < n; j++)
      if (strcmp(t[i].name, t[j].name) == 0)
        fail_msg("tensor name %s appears twice", t[i].name);

  static const char *const fixed[] = {"stem.conv.weight",
                                      "stem.bn.weight",
                                      "stem.bn.bias",
                                      "stem.bn.running_mean",
                                      "stem.bn.running_var",
                                      "classifier.weight",
                                      "classifier.bias",
                                      "cells.0.pre0.conv.weight",
                                      "cells.2.pre0.conv_1.weight",
                                      "cells.2.pre0.conv_2.weight"};
  for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
    int32_t i = find(t, n, fixed[k]);
    if (i < 0)
      fail_msg("no tensor %s", fixed[k]);
    assert_true(t[i].op < 0);
  }
  /* The classifier sees the last cell's 2 nodes of 2 * 2 * 2 channels. */
  dam_tensor *fc = t[find(t, n, "classifier.weight")].t;
  assert_int_equal(fc->shape.dim[0], CLASSES);
  assert_int_equal(fc->shape.dim[1], NODES * 8);
  assert_int_equal(find(t, n, "aux.classifier.weight"), -1);

  /* Which op instances own tensors: pools (their BN statistics) and
   * separable convs on every edge, skip_connect only at stride 2 (the
   * factorized reduce on a reduction cell's inputs), none nowhere. */
  bool seen[CELLS][EDGES][N_OPS] = {{{false}}};
  uint64_t trained = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t cell, edge;
    char op[64];
    bool owned = parse_op_tensor(t[i].name, &cell, &edge, op);
    assert_true(owned == (t[i].op >= 0));
    if (owned) {
      int32_t o = op_index(op);
      if (o < 0 || o == NONE_OP || cell >= CELLS || edge >= EDGES)
        fail_msg("unexpected op tensor %s", t[i].name);
      seen[cell][edge][o] = true;
    }
    if (t[i].t->requires_grad) {
      trained++;
      if (!t[i].buf)
        fail_msg("trained tensor %s has no momentum buffer", t[i].name);
      assert_true(dam_shape_equal(&t[i].buf->shape, &t[i].t->shape));
      assert_false(t[i].buf->requires_grad);
      float *b = harness_read(h, t[i].buf);
      for (uint64_t k = 0; k < t[i].buf->numel; k++)
        if (b[k] != 0.0f)
          fail_msg("momentum of %s not zero", t[i].name);
      free(b);
    } else if (t[i].buf) {
      fail_msg("untrained tensor %s has a momentum buffer", t[i].name);
    }
  }
  assert_true(trained > 0 && trained < n);
  for (uint32_t c = 0; c < CELLS; c++)
    for (uint32_t e = 0; e < EDGES; e++) {
      assert_true(seen[c][e][1]);
      assert_true(seen[c][e][2]);
      assert_true(seen[c][e][0] == (reduce_cell(c) && from_of(e) < 2));
    }
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_supernet_free(net);
}

static void forward_shapes(void **state) {
  harness *h = *state;
  dam_supernet *net = net_new(h, true, NULL);
  uint32_t n;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  assert_true(find(t, n, "aux.classifier.weight") >= 0);
  assert_true(find(t, n, "aux.0.conv.weight") >= 0);
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  term_set s;
  all_terms(h, &s);

  dam_tensor *aux = NULL;
  dam_supernet_pass train = {.training = true};
  dam_tensor *y = forward(h, net, x, &s, train, false, NULL, &aux);
  assert_logits_shape(y);
  assert_logits_shape(aux);
  float *v = harness_read(h, y), *va = harness_read(h, aux);
  for (int i = 0; i < IMAGES * CLASSES; i++)
    assert_true(isfinite(v[i]) && isfinite(va[i]));
  free(v);
  free(va);
  assert_int_equal(dam_exec_end_step(h->ex), 0);

  /* No auxiliary head out of training, nor when not asked for. */
  dam_supernet_pass eval = {.training = false};
  aux = (dam_tensor *)1;
  assert_logits_shape(forward(h, net, x, &s, eval, false, NULL, &aux));
  assert_null(aux);
  assert_logits_shape(forward(h, net, x, &s, train, false, NULL, NULL));

  /* Drop-path in training. */
  uint64_t rng = 99;
  dam_supernet_pass drop = {.training = true, .drop_path = 0.3f, .rng = &rng};
  assert_logits_shape(forward(h, net, x, &s, drop, false, NULL, &aux));
  assert_logits_shape(aux);
  assert_true(rng != 99);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_supernet_free(net);

  /* A net without the head gives none in training either. */
  net = net_new(h, false, NULL);
  aux = (dam_tensor *)1;
  assert_logits_shape(forward(h, net, x, &s, train, false, NULL, &aux));
  assert_null(aux);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_supernet_free(net);
  free(x);
}

static void only_given_terms(void **state) {
  harness *h = *state;
  dam_supernet *net = net_new(h, false, NULL);
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  term_set s;
  some_terms(&s);

  /* dam_supernet_uses: fixed tensors always, op tensors exactly when a
   * term names their edge and op. */
  uint32_t n, used = 0;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  const dam_arch_term *const terms[2] = {s.t[0], s.t[1]};
  for (uint32_t i = 0; i < n; i++) {
    bool expect = true;
    uint32_t cell, edge;
    char op[64];
    if (parse_op_tensor(t[i].name, &cell, &edge, op)) {
      int kind = reduce_cell(cell);
      expect = false;
      for (uint32_t k = 0; k < s.n[kind]; k++)
        expect |= edge_of(s.t[kind][k].node, s.t[kind][k].from) == edge &&
                  strcmp(op_names[s.t[kind][k].op], op) == 0;
      used += expect;
    }
    if (dam_supernet_uses(net, &t[i], terms, s.n) != expect)
      fail_msg("dam_supernet_uses(%s) is %d", t[i].name, !expect);
  }
  assert_true(used > 0);

  float *base = eval_logits(h, net, x, &s);
  /* A term weighted 0 contributes exactly what a missing one does. */
  for (int kind = 0; kind < 2; kind++) {
    for (uint32_t k = 0; k < s.n[kind]; k++) {
      term_set zero = s, cut = s;
      zero.w[kind][k] = 0.0f;
      memmove(&cut.t[kind][k], &cut.t[kind][k + 1],
              (cut.n[kind] - k - 1) * sizeof cut.t[kind][0]);
      memmove(&cut.w[kind][k], &cut.w[kind][k + 1],
              (cut.n[kind] - k - 1) * sizeof cut.w[kind][0]);
      cut.n[kind]--;
      float *a = eval_logits(h, net, x, &zero),
            *b = eval_logits(h, net, x, &cut);
      double d = max_abs_diff(a, b, IMAGES * CLASSES);
      double moved = max_abs_diff(a, base, IMAGES * CLASSES);
      if (d > 1e-6)
        fail_msg("kind %d term %u: weight 0 differs from no term by %g", kind,
                 k, d);
      if (!(moved > 1e-5))
        fail_msg("kind %d term %u: its weight does not change the logits", kind,
                 k);
      free(a);
      free(b);
    }
  }
  free(base);

  /* A node without terms, and a term whose op has no instance. */
  term_set bad = s;
  bad.n[0] = 2; /* node 1 of the normal cell has none */
  dam_supernet_pass eval = {.training = false};
  assert_null(forward(h, net, x, &bad, eval, false, NULL, NULL));
  assert_non_null(strstr(dam_last_error(), "no input"));
  bad = s;
  bad.t[1][0].op = NONE_OP;
  assert_null(forward(h, net, x, &bad, eval, false, NULL, NULL));
  assert_non_null(strstr(dam_last_error(), "dropped"));
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_supernet_free(net);
  free(x);
}

static void set_edge(dam_genotype_edge *e, uint32_t from, const char *op,
                     float w) {
  e->from = from;
  snprintf(e->op, sizeof e->op, "%s", op);
  e->weight = w;
}

static void make_genotype(dam_genotype *g) {
  memset(g, 0, sizeof *g);
  g->nodes = NODES;
  g->multiplier = NODES;
  dam_genotype_cell *c = &g->cell[DAM_CELL_NORMAL];
  c->n_in[0] = c->n_in[1] = 2;
  set_edge(&c->in[0][0], 0, "skip_connect", 0.7f);
  set_edge(&c->in[0][1], 1, "sep_conv_3x3", 0.3f);
  set_edge(&c->in[1][0], 2, "max_pool_3x3", 0.6f);
  set_edge(&c->in[1][1], 0, "sep_conv_3x3", 0.4f);
  c = &g->cell[DAM_CELL_REDUCE];
  c->n_in[0] = c->n_in[1] = 2;
  set_edge(&c->in[0][0], 1, "max_pool_3x3", 0.5f);
  set_edge(&c->in[0][1], 0, "skip_connect", 0.5f);
  set_edge(&c->in[1][0], 2, "sep_conv_3x3", 0.8f);
  set_edge(&c->in[1][1], 1, "skip_connect", 0.2f);
  assert_int_equal(dam_genotype_check(g), 0);
}

static bool genotype_has(const dam_genotype *g, int kind, uint32_t edge,
                         const char *op) {
  const dam_genotype_cell *c = &g->cell[kind];
  for (uint32_t i = 0; i < g->nodes; i++)
    for (uint32_t k = 0; k < c->n_in[i]; k++)
      if (edge_of(i, c->in[i][k].from) == edge &&
          strcmp(c->in[i][k].op, op) == 0)
        return true;
  return false;
}

static void genotype_term_set(const dam_supernet *net, const dam_genotype *g,
                              term_set *s) {
  memset(s, 0, sizeof *s);
  for (int kind = 0; kind < 2; kind++) {
    s->n[kind] = dam_genotype_terms(net, g, kind, s->t[kind], s->w[kind]);
    assert_int_equal(s->n[kind], 4);
    uint32_t k = 0;
    for (uint32_t i = 0; i < NODES; i++)
      for (uint32_t e = 0; e < g->cell[kind].n_in[i]; e++, k++) {
        const dam_genotype_edge *ge = &g->cell[kind].in[i][e];
        assert_int_equal(s->t[kind][k].node, i);
        assert_int_equal(s->t[kind][k].from, ge->from);
        assert_string_equal(op_names[s->t[kind][k].op], ge->op);
        assert_true(s->w[kind][k] == ge->weight);
      }
  }
}

static uint64_t trained_numel(const dam_net_tensor *t, uint32_t n) {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < n; i++)
    if (t[i].t->requires_grad)
      sum += t[i].t->numel;
  return sum;
}

static void prune_to_genotype(void **state) {
  harness *h = *state;
  dam_genotype g;
  make_genotype(&g);
  dam_supernet *net = net_new(h, false, NULL);
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  uint32_t n;
  dam_net_tensor *t = dam_supernet_tensors(net, &n);
  uint32_t fixed_before = 0;
  for (uint32_t i = 0; i < n; i++)
    fixed_before += t[i].op < 0;
  uint64_t full = trained_numel(t, n);
  double params = dam_supernet_params_of(&g, net);

  dam_supernet_prune(net, &g);
  t = dam_supernet_tensors(net, &n);
  uint32_t fixed_after = 0;
  bool seen[CELLS][EDGES][N_OPS] = {{{false}}};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t cell, edge;
    char op[64];
    if (!parse_op_tensor(t[i].name, &cell, &edge, op)) {
      fixed_after++;
      continue;
    }
    if (!genotype_has(&g, reduce_cell(cell), edge, op))
      fail_msg("pruned net keeps %s", t[i].name);
    seen[cell][edge][op_index(op)] = true;
  }
  assert_int_equal(fixed_after, fixed_before);
  /* Every kept op that owns tensors still has them. */
  for (uint32_t c = 0; c < CELLS; c++)
    for (uint32_t e = 0; e < EDGES; e++)
      for (int32_t o = 0; o < NONE_OP; o++) {
        bool owns = o != 0 || (reduce_cell(c) && from_of(e) < 2);
        if (owns && genotype_has(&g, reduce_cell(c), e, op_names[o]) &&
            !seen[c][e][o])
          fail_msg("pruned net lost cell %u edge %u %s", c, e, op_names[o]);
      }
  uint64_t left = trained_numel(t, n);
  assert_true(left < full);
  if (fabs(params * 1e6 - (double)left) > 0.5 ||
      fabs(dam_supernet_params_of(&g, net) * 1e6 - (double)left) > 0.5)
    fail_msg("params_of %g M (before pruning), %g M (after); %llu trained "
             "elements left",
             params, dam_supernet_params_of(&g, net), (unsigned long long)left);

  term_set s;
  genotype_term_set(net, &g, &s);
  dam_supernet_pass train = {.training = true};
  assert_logits_shape(forward(h, net, x, &s, train, false, NULL, NULL));
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  float *pruned_logits = eval_logits(h, net, x, &s);

  /* A dropped op can no longer be evaluated. */
  term_set bad = s;
  bad.t[0][1].op = 1; /* max_pool_3x3 from input 1 into node 0: dropped */
  dam_supernet_pass eval = {.training = false};
  assert_null(forward(h, net, x, &bad, eval, false, NULL, NULL));
  assert_non_null(strstr(dam_last_error(), "dropped"));
  assert_int_equal(dam_exec_end_step(h->ex), 0);

  /* The net built for the genotype names the same tensors (model files
   * are loaded by name); loaded with the pruned net's tensors it computes
   * the same logits. */
  dam_supernet *fixed = net_new(h, false, &g);
  uint32_t nf;
  dam_net_tensor *tf = dam_supernet_tensors(fixed, &nf);
  assert_int_equal(nf, n);
  for (uint32_t i = 0; i < nf; i++) {
    int32_t j = find(t, n, tf[i].name);
    if (j < 0)
      fail_msg("fixed net's %s is not in the pruned net", tf[i].name);
    assert_true(dam_shape_equal(&tf[i].t->shape, &t[j].t->shape));
    assert_true(tf[i].t->requires_grad == t[j].t->requires_grad);
    assert_true((tf[i].buf != NULL) == (t[j].buf != NULL));
    assert_true((tf[i].op < 0) == (t[j].op < 0));
    assert_int_equal(dam_k_copy(h->ex, t[j].t, tf[i].t), 0);
  }
  assert_true(fabs(dam_supernet_params_of(&g, fixed) * 1e6 - (double)left) <
              0.5);
  term_set sf;
  genotype_term_set(fixed, &g, &sf);
  float *fixed_logits = eval_logits(h, fixed, x, &sf);
  double d = max_abs_diff(fixed_logits, pruned_logits, IMAGES * CLASSES);
  if (d > 1e-6)
    fail_msg("fixed net differs from the pruned one by %g", d);
  free(fixed_logits);
  free(pruned_logits);
  dam_supernet_free(fixed);
  dam_supernet_free(net);
  free(x);
}

/* Logits of a fresh net seeded with `seed`: evaluation mode into ev,
 * training with drop-path into tr. */
static void seeded_logits(harness *h, uint64_t seed, const float *x,
                          const term_set *s, float **ev, float **tr) {
  dam_exec_seed(h->ex, seed);
  dam_supernet *net = net_new(h, false, NULL);
  *ev = eval_logits(h, net, x, s);
  uint64_t rng = 5;
  dam_supernet_pass drop = {.training = true, .drop_path = 0.5f, .rng = &rng};
  dam_tensor *y = forward(h, net, x, s, drop, false, NULL, NULL);
  assert_logits_shape(y);
  *tr = harness_read(h, y);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  dam_supernet_free(net);
}

static void same_seed_same_logits(void **state) {
  harness *h = *state;
  float *x = harness_random(h, IMAGES * SIDE * SIDE, -1, 1);
  term_set s;
  all_terms(h, &s);
  float *e1, *t1, *e2, *t2, *e3, *t3;
  seeded_logits(h, 42, x, &s, &e1, &t1);
  seeded_logits(h, 42, x, &s, &e2, &t2);
  seeded_logits(h, 43, x, &s, &e3, &t3);
  assert_memory_equal(e1, e2, IMAGES * CLASSES * sizeof *e1);
  assert_memory_equal(t1, t2, IMAGES * CLASSES * sizeof *t1);
  assert_true(max_abs_diff(e1, e3, IMAGES * CLASSES) > 1e-6);
  free(e1);
  free(t1);
  free(e2);
  free(t2);
  free(e3);
  free(t3);
  free(x);
}

static void bad_desc_refused(void **state) {
  harness *h = *state;
  dam_supernet_desc d = net_desc(false);
  dam_supernet *net = (dam_supernet *)1;
  d.nodes = 0;
  assert_int_equal(dam_supernet_create(h->ex, &d, NULL, &net), DAM_EINVAL);
  assert_null(net);
  d = net_desc(false);
  d.nodes = DAM_GENOTYPE_MAX_NODES + 1;
  assert_int_equal(dam_supernet_create(h->ex, &d, NULL, &net), DAM_EINVAL);
  /* A genotype naming an op that is not a candidate. */
  dam_genotype g;
  make_genotype(&g);
  snprintf(g.cell[1].in[1][0].op, sizeof g.cell[1].in[1][0].op, "avg_pool_3x3");
  d = net_desc(false);
  assert_int_equal(dam_supernet_create(h->ex, &d, &g, &net), DAM_ENOTFOUND);
  assert_null(net);
  assert_non_null(strstr(dam_last_error(), "avg_pool_3x3"));
  assert_int_equal(dam_exec_end_step(h->ex), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(tensor_table, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(forward_shapes, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(only_given_terms, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(prune_to_genotype, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(same_seed_same_logits, harness_setup,
                                      harness_teardown),
      cmocka_unit_test_setup_teardown(bad_desc_refused, harness_setup,
                                      harness_teardown),
  };
  int failed = load_ops() ? 1 : cmocka_run_group_tests(tests, NULL, NULL);
  /* After every device and op instance is gone. */
  free_ops();
  return failed;
}
