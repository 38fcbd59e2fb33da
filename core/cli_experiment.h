/*
 * What `diffautoml search` and `diffautoml bench step` prepare before
 * they open a device: the config, its plugins, the data split and the
 * input normalization.
 */
#ifndef DAM_CLI_EXPERIMENT_H
#define DAM_CLI_EXPERIMENT_H

#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "plugin.h"
#include "search.h"

typedef struct dam_cli_experiment {
  dam_config cfg;
  dam_registry *reg;
  dam_dataset train, test;
  uint32_t n_file_train, n_file_test; /* before the limits */
  uint32_t *train_idx, *val_idx, n_train, n_val;
  float mean[4], std[4]; /* of the training split */
  char dir[512];         /* where the data came from */
  dam_search_data sd;    /* the above, as the engine takes it */
} dam_cli_experiment;

/* With e->cfg loaded (the rest zeroed): discover plugins (--plugin-path
 * first, then plugins.path), check the names the config uses, load and
 * split the data and set the normalization.  An error code with the error
 * set; free e with dam_cli_experiment_free either way. */
int dam_cli_experiment_prepare(const dam_cli_opts *opts, dam_cli_experiment *e);

/* Free what prepare made and the config. */
void dam_cli_experiment_free(dam_cli_experiment *e);

#endif
