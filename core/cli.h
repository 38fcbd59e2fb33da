/*
 * Subcommands of the `diffautoml` command.  Each returns the process exit
 * code: 0 ok, 1 runtime failure, 2 usage or input error.
 */
#ifndef DAM_CLI_H
#define DAM_CLI_H

#include <stdio.h>

typedef struct dam_cli_opts {
  const char *device;      /* --device, or NULL */
  const char *plugin_path; /* --plugin-path, or NULL */
} dam_cli_opts;

enum { DAM_EXIT_OK = 0, DAM_EXIT_RUNTIME = 1, DAM_EXIT_USAGE = 2 };

/* A subcommand: argv[0] is its name, argv[1..argc) its own arguments. */
typedef int (*dam_cmd_fn)(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml devices`: one line per Vulkan device, the selected marked. */
int dam_cmd_devices(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml plugins`: every loaded plugin with its descriptors and
 * parameters, then every refused file with its reason. */
int dam_cmd_plugins(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml bench kernels [--batch N] [--variant V] [FILTER]`: time
 * each core kernel on DARTS-sized shapes and print a table. */
int dam_cmd_bench(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml bench step --config CONFIG [--steps N] [--warmup N]
 * [--kind K,...] [--json] [--profile] [-s KEY=VALUE]...`: time the search
 * engine's weight, architecture and full DHA steps on the config (argv[0]
 * is "step"). */
int dam_cmd_bench_step(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml gradcheck [NAME...]`: finite-difference checks of every
 * loaded op and augment plugin, or the named ones; 1 when any fails. */
int dam_cmd_gradcheck(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml augment --preview [-o FILE] [NAME...]`: a PNG grid of
 * every loaded augment plugin (rows) at magnitudes 0..8 (columns) on
 * Fashion-MNIST training images. */
int dam_cmd_augment(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml search CONFIG [--dry-run] [-s KEY=VALUE]...`: check the
 * config, plugins and data and print the plan (2 on any input error). */
int dam_cmd_search(const dam_cli_opts *opts, int argc, char **argv);

/* `diffautoml config-keys` (hidden): the config schema as Markdown. */
/* `diffautoml eval RUN_DIR [--data DIR]`: the test accuracy of a run's
 * model. */
int dam_cmd_eval(const dam_cli_opts *opts, int argc, char **argv);

/* The training (test_set 0) or test set of the config's dataset from
 * data.path (the package's dir for an empty Fashion-MNIST path). */
struct dam_config;
struct dam_dataset;
int dam_cli_load_dataset(const struct dam_config *cfg, int test_set,
                         struct dam_dataset *out);

int dam_cmd_config_keys(const dam_cli_opts *opts, int argc, char **argv);

/* Print dam_last_error() as one "diffautoml: ..." line and return the
 * exit code of error rc: 1 for out of memory and Vulkan failures (the
 * run's fault), 2 for everything else (the input's). */
int dam_cli_fail(int rc);

/* 2 with a message on stderr when a command that takes no arguments got
 * some, else 0. */
int dam_cli_no_args(int argc, char **argv);

#endif
