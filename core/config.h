/*
 * Experiment configs: a libconfig file (with @include resolved relative to
 * the including file) plus `-s key.path=value` overrides, checked against
 * one schema (core/config_schema.c) and resolved into a typed dam_config
 * with every default filled.  Every error is DAM_ECONFIG with a one-line
 * message that starts with the real FILE:LINE (or "-s" for an override).
 * The schema's keys are documented in docs/CONFIG.md.
 */
#ifndef DAM_CONFIG_H
#define DAM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "plugin.h"

/* Where a value came from: file and line, or file "-s" and line 0 for a
 * command-line override, or file NULL and line 0 for a schema default. */
typedef struct dam_config_loc {
  const char *file; /* owned by the dam_config */
  uint32_t line;
} dam_config_loc;

typedef struct dam_strlist {
  char **v;
  uint32_t n;
} dam_strlist;

typedef struct dam_floatlist {
  double *v;
  uint32_t n;
} dam_floatlist;

/* One plugin parameter as the config gives it.  `type` is the
 * DAM_PARAM_INT/FLOAT/BOOL it was written as (the declared type once
 * dam_config_check_plugins has run). */
typedef struct dam_config_param {
  char *name;
  double value;
  uint32_t type;
  dam_config_loc loc;
} dam_config_param;

/* The parameters given for one plugin descriptor, e.g.
 * search_space.op_params.sep_conv_3x3. */
typedef struct dam_config_plugin_params {
  char *plugin;
  dam_config_loc loc;
  dam_config_param *params;
  uint32_t n;
} dam_config_plugin_params;

typedef struct dam_config_params {
  dam_config_plugin_params *v;
  uint32_t n;
} dam_config_params;

/* Enum keys, in the order of their allowed strings in the schema. */
enum dam_config_dataset {
  DAM_CONFIG_FASHION_MNIST,
  DAM_CONFIG_CIFAR10,
  DAM_CONFIG_CIFAR100
};
enum dam_config_normalize {
  DAM_CONFIG_NORM_DATASET,
  DAM_CONFIG_NORM_NONE,
  DAM_CONFIG_NORM_FIXED
};
enum dam_config_partial { DAM_CONFIG_PARTIAL_DROP, DAM_CONFIG_PARTIAL_PAD };
enum dam_config_trial {
  DAM_CONFIG_TRIAL_AUTO,
  DAM_CONFIG_TRIAL_ALWAYS,
  DAM_CONFIG_TRIAL_NEVER
};
enum dam_config_nas { DAM_CONFIG_NAS_ISTA, DAM_CONFIG_NAS_DARTS };

/* The resolved config.  Ints are int64_t, enums int (the enums above),
 * strings never NULL.  Read it; change it only through the functions
 * below. */
typedef struct dam_config {
  int64_t seed;
  char *device;     /* "" = automatic */
  int64_t cpu_threads; /* -1 = automatic (cpu_threads.h) */
  int cpu_threads_trial; /* enum dam_config_trial (threads_trial.h) */
  char *output_dir; /* never "": defaults to runs/<config file stem> */
  struct {
    char *path; /* colon-separated dirs searched first */
    dam_strlist load;
  } plugins;
  struct {
    int dataset; /* enum dam_config_dataset */
    char *path;  /* "" = the default dir of the dataset */
    double val_ratio;
    int64_t train_limit, test_limit; /* 0 = all */
    int normalize;                   /* enum dam_config_normalize */
    dam_floatlist mean, std;
    int partial_batch; /* enum dam_config_partial */
    bool shuffle;
  } data;
  struct {
    int64_t cells, channels, nodes, stem_multiplier, stem_stride;
    dam_strlist ops;
    bool auxiliary;
    double auxiliary_weight;
    dam_config_params op_params;
  } search_space;
  struct {
    int method; /* enum dam_config_nas */
    double arch_lr, arch_beta1, arch_beta2, arch_wd;
    struct {
      int64_t proj_dims, sparseness;
      double dist_limit, lasso_lambda, param_budget_mb, code_std;
    } ista;
    struct {
      int64_t order;
      bool include_none;
    } darts;
  } nas;
  struct {
    bool enabled;
    dam_strlist ops;
    dam_config_params op_params;
    double temperature, lr, momentum, magnitude_search, magnitude_final;
    double fill;
    bool learn_magnitude;
    double magnitude_lr;
  } da;
  struct {
    bool enabled;
    dam_strlist modules;      /* hpo plugins, one per hyper-parameter */
    dam_config_params params; /* their parameters */
  } hpo;
  struct {
    int64_t batch_size, search_epochs, final_epochs;
    double weight_lr, weight_decay, momentum, grad_clip, drop_path;
    int64_t eval_batch_size, val_batch_size, log_every;
  } train;

  char *source;                      /* the file given to dam_config_load */
  struct dam__config_origin *origin; /* files, locations, overrides */
} dam_config;

/* Load `path` (NULL: defaults only), expand its @include lines, check
 * every key against the schema (unknown keys get a did-you-mean), apply
 * the `key.path=value` overrides in order, then check ranges, enums and
 * cross-key rules, filling *cfg.  Plugin names are not checked here (see
 * dam_config_check_plugins).  Returns 0, DAM_ECONFIG (message
 * "FILE:LINE: ..." or "-s: ...") or DAM_ENOMEM; on failure *cfg is freed
 * and zeroed.  The caller frees *cfg with dam_config_free. */
int dam_config_load(const char *path, const char *const *overrides,
                    uint32_t n_overrides, dam_config *cfg);

/* Check the plugin names the config uses against a loaded registry:
 * plugins.load (module names), search_space.ops and the op_params groups
 * (op descriptors), the `none` op in DARTS mode with include_none,
 * da.ops and da.op_params (augment), hpo.modules and hpo.params (hpo); and
 * every op_params / da.op_params / hpo.params value against its plugin's
 * declared parameters.  An unknown name or parameter gets FILE:LINE and a
 * did-you-mean.  Each hpo module listed must own a hyper-parameter no
 * other listed module owns, and its parameters must start it: min < max,
 * init -1 or inside [min, max], min > 0 with log_space (for modules that
 * declare those), then the module's own init.  On success the param
 * groups of every plugin used are completed with the plugin's defaults,
 * in declaration order, so the resolved config records them.  Returns 0
 * or DAM_ECONFIG / DAM_ENOMEM. */
int dam_config_check_plugins(dam_config *cfg, const dam_registry *reg);

/* Fill desc's zeroed params block (desc->params_size bytes) with its
 * defaults, then with the values the config gives for it (the op_params
 * group for op descriptors, da.op_params for augment ones, hpo.params for
 * hpo ones).  DAM_ECONFIG naming FILE:LINE for an unknown parameter or a
 * value out of range. */
int dam_config_fill_params(const dam_config *cfg, const dam_desc_header *desc,
                           void *block);

/* Write the resolved config (every schema key with its final value, in
 * libconfig syntax, with a header comment naming the version, the date and
 * the source) to `path` atomically: a temporary file in the same directory
 * renamed over it.  Loading the file gives the same config back.  The
 * date is $SOURCE_DATE_EPOCH when set.  DAM_EIO naming the file. */
int dam_config_write(const dam_config *cfg, const char *path);

/* The same text to a stream (no header when `header` is false). */
int dam_config_print(const dam_config *cfg, FILE *out, bool header);

/* "FILE:LINE", "-s" or "default" for where `key` (a schema path such as
 * "train.batch_size") got its value, into buf.  Returns buf ("?" for an
 * unknown key). */
const char *dam_config_where(const dam_config *cfg, const char *key, char *buf,
                             size_t n);

/* The files the config was read from (the source first, then the
 * included ones in order of first inclusion); *n receives the count. */
const char *const *dam_config_files(const dam_config *cfg, uint32_t *n);

/* Print the schema as a Markdown table (key, type, default, range,
 * meaning): the key table of docs/CONFIG.md. */
void dam_config_print_keys(FILE *out);

/* Free everything *cfg owns and zero it.  NULL and a zeroed config are
 * fine. */
void dam_config_free(dam_config *cfg);

#endif
