/* The tiny supernet of the supernet tests (supernet_fixtures.h). */
#include "supernet_fixtures.h"

#include "error.h"
#include "plugin.h"

#include <stdio.h>
#include <string.h>

const char *const op_names[N_OPS] = {"skip_connect", "max_pool_3x3",
                                     "sep_conv_3x3", "none"};
static const dam_op_desc *op_descs[N_OPS];
static const void *const op_params[N_OPS]; /* NULL: the declared defaults */
static dam_registry *registry;

int load_ops(void) {
  registry = dam_registry_new();
  if (!registry)
    return -1;
  int refused = dam_registry_load_dir(registry, OP_PLUGIN_DIR);
  if (refused != 0) {
    fprintf(stderr, "%s: %d plugin(s) refused\n", OP_PLUGIN_DIR, refused);
    return -1;
  }
  for (int o = 0; o < N_OPS; o++) {
    op_descs[o] = (const dam_op_desc *)dam_registry_find(registry, DAM_KIND_OP,
                                                         op_names[o], NULL);
    if (!op_descs[o]) {
      fprintf(stderr, "%s: no op %s\n", OP_PLUGIN_DIR, op_names[o]);
      return -1;
    }
  }
  return 0;
}

void free_ops(void) { dam_registry_free(registry); }

dam_supernet_desc net_desc(bool auxiliary) {
  return (dam_supernet_desc){.in_channels = 1,
                             .height = SIDE,
                             .width = SIDE,
                             .classes = CLASSES,
                             .cells = CELLS,
                             .channels = 2,
                             .nodes = NODES,
                             .stem_multiplier = 3,
                             .auxiliary = auxiliary,
                             .n_ops = N_OPS,
                             .ops = op_descs,
                             .op_params = op_params};
}

dam_supernet *net_new(harness *h, bool auxiliary, const dam_genotype *fixed) {
  dam_supernet_desc d = net_desc(auxiliary);
  dam_supernet *net;
  int err = dam_supernet_create(h->ex, &d, fixed, &net);
  if (err)
    fail_msg("dam_supernet_create: %d %s", err, dam_last_error());
  return net;
}

bool reduce_cell(uint32_t cell) { return cell == 1 || cell == 2; }

uint32_t edge_of(uint32_t node, uint32_t from) {
  return node * (node + 3) / 2 + from;
}

uint32_t from_of(uint32_t edge) {
  for (uint32_t i = 0; i < NODES; i++)
    for (uint32_t j = 0; j < i + 2; j++)
      if (edge_of(i, j) == edge)
        return j;
  fail_msg("no edge %u", edge);
  return 0;
}

void add_term(term_set *s, int kind, uint32_t node, uint32_t from, uint32_t op,
              float w) {
  assert_true(s->n[kind] < MAX_TERMS);
  s->t[kind][s->n[kind]] = (dam_arch_term){node, from, op};
  s->w[kind][s->n[kind]++] = w;
}

void all_terms(harness *h, term_set *s) {
  memset(s, 0, sizeof *s);
  for (int kind = 0; kind < 2; kind++)
    for (uint32_t i = 0; i < NODES; i++)
      for (uint32_t j = 0; j < i + 2; j++)
        for (uint32_t o = 0; o < N_OPS; o++)
          if (o != NONE_OP)
            add_term(s, kind, i, j, o, harness_uniform(h, 0.2f, 0.6f));
}

void some_terms(term_set *s) {
  memset(s, 0, sizeof *s);
  add_term(s, 0, 0, 0, 0, 0.7f);
  add_term(s, 0, 0, 1, 2, 0.4f);
  add_term(s, 0, 1, 2, 1, 0.5f);
  add_term(s, 0, 1, 0, 2, 0.3f);
  add_term(s, 1, 0, 1, 1, 0.6f);
  add_term(s, 1, 0, 0, 0, 0.5f);
  add_term(s, 1, 1, 2, 2, 0.8f);
  add_term(s, 1, 1, 1, 0, 0.2f);
  add_term(s, 1, 1, 1, 1, 0.25f);
}

dam_tensor *forward(harness *h, dam_supernet *net, const float *x,
                    const term_set *s, dam_supernet_pass p, bool grad,
                    dam_tensor *wt[2][MAX_TERMS], dam_tensor **aux) {
  dam_tensor *local[2][MAX_TERMS];
  dam_tensor *(*w)[MAX_TERMS] = wt ? wt : local;
  dam_shape one = dam_shape4(1, 0, 0, 0);
  for (int kind = 0; kind < 2; kind++) {
    for (uint32_t k = 0; k < s->n[kind]; k++) {
      w[kind][k] = harness_tensor(h, one, &s->w[kind][k]);
      w[kind][k]->requires_grad = grad;
    }
    p.terms[kind] = s->t[kind];
    p.weights[kind] = w[kind];
    p.n_terms[kind] = s->n[kind];
  }
  dam_tensor *tx = harness_tensor(h, dam_shape4(IMAGES, 1, SIDE, SIDE), x);
  return dam_supernet_forward(h->ex, net, tx, &p, aux);
}

float *logits_of(harness *h, dam_supernet *net, const float *x,
                 const term_set *s, bool training) {
  dam_supernet_pass p = {.training = training};
  dam_tensor *y = forward(h, net, x, s, p, false, NULL, NULL);
  if (!y)
    fail_msg("forward: %s", dam_last_error());
  float *v = harness_read(h, y);
  assert_int_equal(dam_exec_end_step(h->ex), 0);
  return v;
}

void assert_logits_shape(const dam_tensor *y) {
  assert_non_null(y);
  assert_int_equal(y->shape.ndim, 2);
  assert_int_equal(y->shape.dim[0], IMAGES);
  assert_int_equal(y->shape.dim[1], CLASSES);
}
