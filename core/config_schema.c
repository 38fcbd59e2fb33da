/*
 * The config schema: one table of every key (path, type, default, range or
 * allowed values, help) from which validation, defaults, the resolved
 * writer and docs/CONFIG.md (`diffautoml config-keys`) all come.  Also the
 * key lookups and the edit-distance did-you-mean used for keys and plugin
 * names.  Keys of a section are contiguous; the writer relies on it.
 */
#include "config_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define O(field) offsetof(dam_config, field)
#define KEY(path, type, field, def, lo, hi, help)                              \
  { path, type, DAM__NAMES_NONE, O(field), def, lo, hi, NULL, help }
#define ENUM(path, field, def, choices, help)                                  \
  { path, DAM__CFG_ENUM, DAM__NAMES_NONE, O(field), def, 0, 0, choices, help }
#define NAMES(path, type, names, field, def, help)                             \
  { path, type, names, O(field), def, 0, 0, NULL, help }

static const char *const datasets[] = {"fashion_mnist", "cifar10", "cifar100",
                                       NULL};
static const char *const normalizations[] = {"dataset", "none", "fixed", NULL};
static const char *const partial_batches[] = {"drop", "pad", NULL};
static const char *const nas_methods[] = {"ista", "darts", NULL};
static const char *const trials[] = {"auto", "always", "never", NULL};

const dam__cfg_key dam__config_keys[] = {
    KEY("seed", DAM__CFG_INT, seed, "0", 0, 2147483647,
        "seed of the train/validation split, initialization and sampling"),
    KEY("device", DAM__CFG_STRING, device, "", 0, 0,
        "Vulkan device index or name substring; \"\" = automatic "
        "(--device and $DIFFAUTOML_DEVICE win over it)"),
    KEY("cpu_threads", DAM__CFG_INT, cpu_threads, "-1", -1, 32,
        "worker threads lavapipe splits each dispatch over on a CPU device; "
        "0 = none (dispatches run on its queue thread); -1 = automatic: 0 "
        "on a host of at most 2 CPUs when a first-stage cell's activation "
        "is under 2^14 floats, else one per CPU, then perhaps timed "
        "(cpu_threads_trial) ($LP_NUM_THREADS wins over it)"),
    ENUM("cpu_threads_trial", cpu_threads_trial, "auto", trials,
         "with cpu_threads = -1 on a CPU device of several CPUs, time a "
         "few steps of each phase with the other choice too (0 or one per "
         "CPU) and keep the faster: auto = when a 10 % gain over the rest "
         "of the phase would repay the device reopens it costs (always in "
         "`bench step`), always, or never"),
    KEY("output_dir", DAM__CFG_STRING, output_dir, "", 0, 0,
        "directory of the run's outputs; \"\" = runs/<config file name "
        "without .cfg>"),

    KEY("plugins.path", DAM__CFG_STRING, plugins.path, "", 0, 0,
        "colon-separated plugin dirs, searched after --plugin-path and "
        "before $DIFFAUTOML_PLUGIN_PATH and the installed dir"),
    NAMES("plugins.load", DAM__CFG_STRLIST, DAM__NAMES_MODULE, plugins.load,
          "[]",
          "plugin modules that must be found, and the only ones the "
          "names below may come from; [] = any discovered plugin"),

    ENUM("data.dataset", data.dataset, "fashion_mnist", datasets,
         "the data set"),
    KEY("data.path", DAM__CFG_STRING, data.path, "", 0, 0,
        "directory of its files; \"\" = /usr/share/datasets/fashion-mnist "
        "for fashion_mnist (CIFAR needs a path)"),
    KEY("data.val_ratio", DAM__CFG_FLOAT, data.val_ratio, "0.5", 0, 0.9,
        "share of the training images held out for validation (HPO and "
        "DARTS steps), disjoint from the training split"),
    KEY("data.train_limit", DAM__CFG_INT, data.train_limit, "0", 0, 1e9,
        "use only the first N training images (before the split); 0 = all"),
    KEY("data.test_limit", DAM__CFG_INT, data.test_limit, "0", 0, 1e9,
        "use only the first N test images; 0 = all"),
    ENUM("data.normalize", data.normalize, "dataset", normalizations,
         "per-channel normalization: mean/std of the training split, none, "
         "or fixed data.mean/data.std"),
    KEY("data.mean", DAM__CFG_FLOATLIST, data.mean, "[]", 0, 0,
        "per-channel means on the 0..1 scale (normalize = \"fixed\")"),
    KEY("data.std", DAM__CFG_FLOATLIST, data.std, "[]", 0, 0,
        "per-channel standard deviations, > 0 (normalize = \"fixed\")"),
    ENUM("data.partial_batch", data.partial_batch, "drop", partial_batches,
         "last incomplete training batch of an epoch: drop it, or pad it "
         "with images from the start of the epoch"),
    KEY("data.shuffle", DAM__CFG_BOOL, data.shuffle, "true", 0, 0,
        "reshuffle the training split every epoch"),

    KEY("search_space.cells", DAM__CFG_INT, search_space.cells, "8", 3, 64,
        "cells of the supernet; reduction cells at 1/3 and 2/3 depth"),
    KEY("search_space.channels", DAM__CFG_INT, search_space.channels, "16", 1,
        1024, "channels of the first cell (doubled at each reduction)"),
    KEY("search_space.nodes", DAM__CFG_INT, search_space.nodes, "4", 1, 8,
        "intermediate nodes per cell"),
    KEY("search_space.stem_multiplier", DAM__CFG_INT,
        search_space.stem_multiplier, "3", 1, 8,
        "the 3x3 stem conv has stem_multiplier x channels outputs"),
    KEY("search_space.stem_stride", DAM__CFG_INT, search_space.stem_stride,
        "1", 1, 2, "stride of the stem conv (2 halves every cell's size)"),
    NAMES("search_space.ops", DAM__CFG_STRLIST, DAM_KIND_OP, search_space.ops,
          "[\"max_pool_3x3\", \"avg_pool_3x3\", \"skip_connect\", "
          "\"sep_conv_3x3\", \"sep_conv_5x5\", \"dil_conv_3x3\", "
          "\"dil_conv_5x5\"]",
          "candidate ops on every edge: names of loaded op plugins"),
    KEY("search_space.auxiliary", DAM__CFG_BOOL, search_space.auxiliary,
        "false", 0, 0, "add the auxiliary classifier head at 2/3 depth"),
    KEY("search_space.auxiliary_weight", DAM__CFG_FLOAT,
        search_space.auxiliary_weight, "0.4", 0, 10,
        "weight of the auxiliary head's loss"),
    NAMES("search_space.op_params", DAM__CFG_PARAMS, DAM_KIND_OP,
          search_space.op_params, "{}",
          "parameters of op plugins: { OP = { PARAM = VALUE; }; }, checked "
          "against each plugin's declared table (diffautoml plugins)"),

    ENUM("nas.method", nas.method, "ista", nas_methods,
         "architecture relaxation: ISTA single-stage sparse coding, or "
         "DARTS softmax"),
    KEY("nas.arch_lr", DAM__CFG_FLOAT, nas.arch_lr, "3e-4", 0, 1,
        "Adam learning rate of the architecture parameters"),
    KEY("nas.arch_beta1", DAM__CFG_FLOAT, nas.arch_beta1, "0.5", 0, 0.9999,
        "Adam beta1 of the architecture parameters"),
    KEY("nas.arch_beta2", DAM__CFG_FLOAT, nas.arch_beta2, "0.999", 0, 0.9999,
        "Adam beta2 of the architecture parameters"),
    KEY("nas.arch_wd", DAM__CFG_FLOAT, nas.arch_wd, "1e-3", 0, 1,
        "weight decay of the architecture parameters"),
    KEY("nas.ista.proj_dims", DAM__CFG_INT, nas.ista.proj_dims, "8", 1, 64,
        "rows of each node's random dictionary A_i (length of the code b_i)"),
    KEY("nas.ista.code_std", DAM__CFG_FLOAT, nas.ista.code_std, "1.0", 0, 100,
        "std of the initial codes b_i (the reference: 1e-3; docs/NAS.md)"),
    KEY("nas.ista.sparseness", DAM__CFG_INT, nas.ista.sparseness, "2", 1, 2,
        "input edges kept per node"),
    KEY("nas.ista.dist_limit", DAM__CFG_FLOAT, nas.ista.dist_limit, "1e-3", 0,
        10,
        "a node freezes once its sparse code moves less than this (L2) "
        "in an epoch"),
    KEY("nas.ista.lasso_lambda", DAM__CFG_FLOAT, nas.ista.lasso_lambda, "1e-5",
        0, 10, "L1 weight of the LASSO that recovers z_i from b_i"),
    KEY("nas.ista.param_budget_mb", DAM__CFG_FLOAT, nas.ista.param_budget_mb,
        "0", 0, 1e4,
        "reject a code whose derived network has more parameters (MB); "
        "0 = no budget"),
    KEY("nas.darts.order", DAM__CFG_INT, nas.darts.order, "1", 1, 2,
        "1: first-order DARTS; 2: with the finite-difference Hessian term"),
    KEY("nas.darts.include_none", DAM__CFG_BOOL, nas.darts.include_none, "true",
        0, 0, "add the `none` (zero) op to every edge"),

    KEY("da.enabled", DAM__CFG_BOOL, da.enabled, "false", 0, 0,
        "search the augmentation policy (needs da.ops)"),
    NAMES("da.ops", DAM__CFG_STRLIST, DAM_KIND_AUGMENT, da.ops, "[]",
          "augment plugins; sub-policies are ordered pairs of them"),
    NAMES("da.op_params", DAM__CFG_PARAMS, DAM_KIND_AUGMENT, da.op_params, "{}",
          "parameters of augment plugins, as search_space.op_params"),
    KEY("da.temperature", DAM__CFG_FLOAT, da.temperature, "2.0", 0.01, 100,
        "Gumbel-softmax temperature T of sub-policy sampling"),
    KEY("da.lr", DAM__CFG_FLOAT, da.lr, "0.05", 0, 10,
        "learning rate of the policy logits (SGD, Nesterov)"),
    KEY("da.momentum", DAM__CFG_FLOAT, da.momentum, "0.9", 0, 0.999,
        "Nesterov momentum of the policy logits"),
    KEY("da.magnitude_search", DAM__CFG_FLOAT, da.magnitude_search, "2.0", 0, 8,
        "largest magnitude level M (levels 0..8) while searching: each "
        "image's level is drawn from U(0, M)"),
    KEY("da.magnitude_final", DAM__CFG_FLOAT, da.magnitude_final, "4.0", 0, 8,
        "largest magnitude level M in the final phase"),
    KEY("da.fill", DAM__CFG_FLOAT, da.fill, "0.0", 0, 1,
        "intensity that geometric transforms bring in from outside"),
    KEY("da.learn_magnitude", DAM__CFG_BOOL, da.learn_magnitude, "false", 0, 0,
        "also learn each transform's top level from its magnitude "
        "gradient (ascent on the training loss, clamped to [0, 8])"),
    KEY("da.magnitude_lr", DAM__CFG_FLOAT, da.magnitude_lr, "0.5", 0, 100,
        "step size of the learned levels"),

    KEY("hpo.enabled", DAM__CFG_BOOL, hpo.enabled, "false", 0, 0,
        "tune hyper-parameters by hypergradient (needs hpo.modules)"),
    NAMES("hpo.modules", DAM__CFG_STRLIST, DAM_KIND_HPO, hpo.modules, "[]",
          "hpo plugins, each owning one of the weight step's eta, lambda, "
          "mu and starting from its own init; the others keep "
          "train.weight_lr, train.weight_decay, train.momentum"),
    NAMES("hpo.params", DAM__CFG_PARAMS, DAM_KIND_HPO, hpo.params, "{}",
          "parameters of hpo plugins (range, init, log_space, the "
          "hyper-optimizer), as search_space.op_params"),

    KEY("train.batch_size", DAM__CFG_INT, train.batch_size, "64", 1, 4096,
        "training and validation batch size"),
    KEY("train.search_epochs", DAM__CFG_INT, train.search_epochs, "50", 1,
        10000,
        "most epochs of the search phase (ISTA ends it earlier when "
        "every node froze)"),
    KEY("train.final_epochs", DAM__CFG_INT, train.final_epochs, "550", 0, 10000,
        "epochs of the final phase: the same network, ops fixed"),
    KEY("train.weight_lr", DAM__CFG_FLOAT, train.weight_lr, "0.025", 0, 10,
        "initial learning rate of the weights (eta)"),
    KEY("train.weight_decay", DAM__CFG_FLOAT, train.weight_decay, "3e-4", 0, 1,
        "initial weight decay (lambda)"),
    KEY("train.momentum", DAM__CFG_FLOAT, train.momentum, "0.9", 0, 0.999,
        "momentum of the weights (mu)"),
    KEY("train.grad_clip", DAM__CFG_FLOAT, train.grad_clip, "5.0", 0, 1000,
        "clip the weight gradient's L2 norm to this; 0 = no clipping"),
    KEY("train.drop_path", DAM__CFG_FLOAT, train.drop_path, "0.2", 0, 0.9,
        "drop-path probability reached at the end of the final phase"),
    KEY("train.eval_batch_size", DAM__CFG_INT, train.eval_batch_size, "256", 1,
        65536, "batch size of evaluation on the test set"),
    KEY("train.val_batch_size", DAM__CFG_INT, train.val_batch_size, "0", 0,
        65536, "batch size of the validation lookahead (0: train.batch_size)"),
    KEY("train.log_every", DAM__CFG_INT, train.log_every, "50", 1, 1000000,
        "steps between progress lines when the output is not a terminal"),
};
const size_t dam__config_n_keys =
    sizeof dam__config_keys / sizeof *dam__config_keys;

const dam__cfg_key *dam__config_key(const char *path, size_t *index) {
  for (size_t i = 0; i < dam__config_n_keys; i++)
    if (strcmp(dam__config_keys[i].path, path) == 0) {
      if (index)
        *index = i;
      return &dam__config_keys[i];
    }
  return NULL;
}

bool dam__config_is_section(const char *path) {
  size_t n = strlen(path);
  for (size_t i = 0; i < dam__config_n_keys; i++)
    if (strncmp(dam__config_keys[i].path, path, n) == 0 &&
        dam__config_keys[i].path[n] == '.')
      return true;
  return false;
}

const char *dam__cfg_type_name(dam__cfg_type type) {
  switch (type) {
  case DAM__CFG_BOOL:
    return "a bool";
  case DAM__CFG_INT:
    return "an integer";
  case DAM__CFG_FLOAT:
    return "a float";
  case DAM__CFG_STRING:
    return "a string";
  case DAM__CFG_ENUM:
    return "a string";
  case DAM__CFG_STRLIST:
    return "a list of strings";
  case DAM__CFG_FLOATLIST:
    return "a list of floats";
  case DAM__CFG_PARAMS:
    return "a group of plugin groups";
  }
  return "?";
}

const char *dam__lc_type_name(int lc_type) {
  switch (lc_type) {
  case CONFIG_TYPE_GROUP:
    return "a group";
  case CONFIG_TYPE_INT:
  case CONFIG_TYPE_INT64:
    return "an integer";
  case CONFIG_TYPE_FLOAT:
    return "a float";
  case CONFIG_TYPE_STRING:
    return "a string";
  case CONFIG_TYPE_BOOL:
    return "a bool";
  case CONFIG_TYPE_ARRAY:
    return "an array";
  case CONFIG_TYPE_LIST:
    return "a list";
  }
  return "nothing";
}

int dam__choice_index(const char *const *choices, const char *s) {
  for (int i = 0; choices[i]; i++)
    if (strcmp(choices[i], s) == 0)
      return i;
  return -1;
}

/* ---- did-you-mean ---------------------------------------------------- */

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of neighbours cost 1. */
static size_t dam__edit_distance(const char *a, const char *b) {
  enum { MAXLEN = 64 };
  size_t la = strlen(a), lb = strlen(b);
  if (la >= MAXLEN || lb >= MAXLEN)
    return la > lb ? la : lb;
  size_t d[MAXLEN + 1][MAXLEN + 1];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      size_t best = d[i - 1][j - 1] + cost;
      if (d[i - 1][j] + 1 < best)
        best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

void dam__suggest_init(dam__suggest *s, const char *word) {
  s->word = word;
  s->best = NULL;
  s->dist = (size_t)-1;
}

void dam__suggest_add(dam__suggest *s, const char *candidate) {
  size_t d = dam__edit_distance(s->word, candidate);
  if (d < s->dist) {
    s->dist = d;
    s->best = candidate;
  }
}

const char *dam__suggest_best(const dam__suggest *s) {
  size_t len = strlen(s->word);
  size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
  return s->best && s->dist > 0 && s->dist <= limit ? s->best : NULL;
}

/* The component of `key` right after `group` + "." (or the first one for
 * the root group ""), copied into buf; false when key is not inside. */
static bool dam__child_name(const char *key, const char *group, char *buf,
                            size_t n) {
  size_t g = strlen(group);
  if (g) {
    if (strncmp(key, group, g) != 0 || key[g] != '.')
      return false;
    key += g + 1;
  }
  size_t len = strcspn(key, ".");
  if (len >= n)
    return false;
  memcpy(buf, key, len);
  buf[len] = '\0';
  return true;
}

void dam__config_suggest_key(const char *path, char *buf, size_t n) {
  char group[128], names[64][64];
  const char *dot = strrchr(path, '.'), *name = dot ? dot + 1 : path;
  size_t glen = dot ? (size_t)(dot - path) : 0, n_names = 0;
  buf[0] = '\0';
  if (glen >= sizeof group)
    return;
  memcpy(group, path, glen);
  group[glen] = '\0';

  /* Same group: its keys and subsections. */
  dam__suggest s;
  dam__suggest_init(&s, name);
  for (size_t i = 0; i < dam__config_n_keys && n_names < 64; i++)
    if (dam__child_name(dam__config_keys[i].path, group, names[n_names],
                        sizeof names[0]))
      dam__suggest_add(&s, names[n_names++]);
  const char *best = dam__suggest_best(&s);
  if (best) {
    snprintf(buf, n, " (did you mean '%s%s%s'?)", group, glen ? "." : "", best);
    return;
  }
  /* Anywhere: the same name in another section, or a typo in the path. */
  const char *found = NULL;
  for (size_t i = 0; i < dam__config_n_keys && !found; i++) {
    const char *k = dam__config_keys[i].path, *last = strrchr(k, '.');
    if (strcmp(last ? last + 1 : k, name) == 0)
      found = k;
  }
  if (!found) {
    dam__suggest_init(&s, path);
    for (size_t i = 0; i < dam__config_n_keys; i++)
      dam__suggest_add(&s, dam__config_keys[i].path);
    found = dam__suggest_best(&s);
  }
  if (found)
    snprintf(buf, n, " (did you mean '%s'?)", found);
}

/* ---- docs ------------------------------------------------------------ */

static const char *dam__doc_type(const dam__cfg_key *k) {
  switch (k->type) {
  case DAM__CFG_BOOL:
    return "bool";
  case DAM__CFG_INT:
    return "int";
  case DAM__CFG_FLOAT:
    return "float";
  case DAM__CFG_STRING:
    return "string";
  case DAM__CFG_ENUM:
    return "enum";
  case DAM__CFG_STRLIST:
    return "list of strings";
  case DAM__CFG_FLOATLIST:
    return "list of floats";
  case DAM__CFG_PARAMS:
    return "group of groups";
  }
  return "?";
}

static void dam__doc_row(FILE *out, const char *path, const dam__cfg_key *k) {
  char range[160] = "";
  size_t len = 0;
  if (k->type == DAM__CFG_INT)
    snprintf(range, sizeof range, "[%.0f, %.0f]", k->min, k->max);
  else if (k->type == DAM__CFG_FLOAT && isfinite(k->min))
    snprintf(range, sizeof range, "[%g, %g]", k->min, k->max);
  else if (k->type == DAM__CFG_ENUM)
    for (int i = 0; k->choices[i] && len < sizeof range; i++)
      len += snprintf(range + len, sizeof range - len, "%s`\"%s\"`",
                      i ? ", " : "", k->choices[i]);
  else if (k->type == DAM__CFG_PARAMS)
    snprintf(range, sizeof range, "each plugin's own");
  fprintf(out, "| `%s` | %s | ", path, dam__doc_type(k));
  if (!k->def)
    fprintf(out, "required");
  else if (k->type == DAM__CFG_STRING || k->type == DAM__CFG_ENUM)
    fprintf(out, "`\"%s\"`", k->def);
  else
    fprintf(out, "`%s`", k->def);
  fprintf(out, " | %s | ", range);
  for (const char *c = k->help; *c; c++)
    fputs(*c == '|' ? "\\|" : (char[2]){*c, 0}, out);
  fputs(" |\n", out);
}

void dam_config_print_keys(FILE *out) {
  fprintf(out, "| key | type | default | range | meaning |\n"
               "| --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i < dam__config_n_keys; i++)
    dam__doc_row(out, dam__config_keys[i].path, &dam__config_keys[i]);
}
