/*
 * `diffautoml eval RUN_DIR [--data DIR]`: rebuilds the network a search
 * run produced from RUN_DIR/model.safetensors (genotype and tensors) and
 * RUN_DIR/config.resolved.cfg (search space, op parameters, dataset),
 * through the same op plugins, and reports its test accuracy.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "device.h"
#include "error.h"
#include "search.h"

static void dam__eval_usage(FILE *out) {
  fprintf(out, "usage: diffautoml eval RUN_DIR [--data DIR]\n"
               "  --data DIR   read the test set from DIR instead of the "
               "run's data.path\n");
}

int dam_cmd_eval(const dam_cli_opts *opts, int argc, char **argv) {
  static const struct option options[] = {
      {"data", required_argument, NULL, 'D'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *data_dir = NULL;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    if (c == 'D')
      data_dir = optarg;
    else {
      dam__eval_usage(c == 'h' ? stdout : stderr);
      return c == 'h' ? DAM_EXIT_OK : DAM_EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
    dam__eval_usage(stderr);
    return DAM_EXIT_USAGE;
  }
  const char *dir = argv[optind];
  char cfg_path[1100], model[1100], *sets[2] = {NULL, NULL};
  snprintf(cfg_path, sizeof cfg_path, "%s/config.resolved.cfg", dir);
  snprintf(model, sizeof model, "%s/model.safetensors", dir);
  uint32_t n_sets = 0;
  if (data_dir && asprintf(&sets[n_sets++], "data.path=%s", data_dir) < 0)
    return DAM_EXIT_RUNTIME;
  dam_config cfg;
  dam_registry *reg = NULL;
  dam_dataset test = {0};
  double acc = 0, loss = 0;
  int rc = dam_config_load(cfg_path, (const char *const *)sets, n_sets, &cfg);
  free(sets[0]);
  if (rc)
    return dam_cli_fail(rc);
  char *path = NULL;
  reg = dam_registry_new();
  if (!reg || asprintf(&path, "%s:%s", opts->plugin_path ? opts->plugin_path
                                                         : "",
                       cfg.plugins.path) < 0)
    rc = dam_fail(DAM_ENOMEM, "out of memory");
  if (!rc && dam_registry_discover(reg, path) < 0)
    rc = DAM_ENOMEM;
  free(path);
  if (!rc)
    rc = dam_cli_load_dataset(&cfg, 1, &test);
  if (!rc && cfg.data.test_limit && cfg.data.test_limit < test.n)
    test.n = (uint32_t)cfg.data.test_limit;
  if (!rc)
    rc = dam_search_eval(&cfg, reg, &test, model,
                         dam_device_spec(opts->device, cfg.device), &acc,
                         &loss);
  int exit_code = DAM_EXIT_OK;
  if (rc) {
    exit_code = dam_cli_fail(rc);
  } else {
    printf("test_accuracy %.6f\ntest_loss %.6f\ntest_images %u\n", acc, loss,
           test.n);
  }
  dam_dataset_free(&test);
  dam_config_free(&cfg);
  dam_registry_free(reg);
  return exit_code;
}
