/* The `diffautoml` command: global options and subcommand dispatch. */
#include "cli.h"
#include "error.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: diffautoml [OPTIONS] COMMAND\n"
          "\n"
          "Differentiable end-to-end AutoML (DHA) on Vulkan.\n"
          "\n"
          "commands:\n"
          "  devices              list Vulkan devices; * marks the selected one\n"
          "  plugins              list loaded plugins and refused files\n"
          "  search CONFIG        run the joint search into the config's\n"
          "                       output_dir; --dry-run, --resume DIR,\n"
          "                       -s KEY=VALUE (search --help)\n"
          "  eval RUN_DIR         test accuracy of a run's model.safetensors\n"
          "                       (--data DIR for another copy of the data)\n"
          "  gradcheck [NAME...]  finite-difference check of op and augment\n"
          "                       plugins\n"
          "  augment --preview    PNG grid of the augment plugins on real\n"
          "                       images (augment --help)\n"
          "  bench kernels        time the core kernels (--help for options)\n"
          "  bench step           time the search steps on a config\n"
          "                       (bench step --help)\n"
          "\n"
          "options:\n"
          "  -d, --device SPEC    device index or name substring\n"
          "                       (else $DIFFAUTOML_DEVICE, else discrete >\n"
          "                       integrated > CPU)\n"
          "  -p, --plugin-path P  colon-separated plugin dirs searched first\n"
          "                       (then $DIFFAUTOML_PLUGIN_PATH, then %s)\n"
          "  -h, --help           this help\n"
          "  -V, --version        print the version\n"
          "\n"
          "environment: DIFFAUTOML_VALIDATION=1 enables the Khronos validation\n"
          "layer; DIFFAUTOML_PROFILE=1 records per-dispatch GPU timestamps;\n"
          "DIFFAUTOML_CACHE_DIR overrides the pipeline cache dir.\n"
          "\n"
          "exit codes: 0 ok, 1 runtime failure, 2 usage or input error\n",
          DAM_PLUGIN_DIR);
}

static const struct {
  const char *name;
  dam_cmd_fn fn;
} commands[] = {
    {"devices", dam_cmd_devices},
    {"plugins", dam_cmd_plugins},
    {"search", dam_cmd_search},
    {"eval", dam_cmd_eval},
    {"config-keys", dam_cmd_config_keys}, /* hidden: docs/CONFIG.md table */
    {"gradcheck", dam_cmd_gradcheck},
    {"augment", dam_cmd_augment},
    {"bench", dam_cmd_bench},
};

int main(int argc, char **argv) {
  static const struct option options[] = {
      {"device", required_argument, NULL, 'd'},
      {"plugin-path", required_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  dam_cli_opts opts = {0};
  int c;
  while ((c = getopt_long(argc, argv, "+d:p:hV", options, NULL)) != -1) {
    switch (c) {
    case 'd': opts.device = optarg; break;
    case 'p': opts.plugin_path = optarg; break;
    case 'h': usage(stdout); return DAM_EXIT_OK;
    case 'V': printf("diffautoml %s\n", DAM_VERSION); return DAM_EXIT_OK;
    default: usage(stderr); return DAM_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return DAM_EXIT_USAGE;
  }
  const char *cmd = argv[optind];
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (strcmp(cmd, commands[i].name) == 0)
      return commands[i].fn(&opts, argc - optind, argv + optind);
  fprintf(stderr, "diffautoml: unknown command '%s' (try --help)\n", cmd);
  return DAM_EXIT_USAGE;
}

int dam_cli_fail(int rc) {
  fprintf(stderr, "diffautoml: %s\n", dam_last_error());
  return rc == DAM_ENOMEM || rc == DAM_EVULKAN ? DAM_EXIT_RUNTIME
                                               : DAM_EXIT_USAGE;
}

int dam_cli_no_args(int argc, char **argv) {
  if (argc <= 1)
    return 0;
  fprintf(stderr, "diffautoml: %s: unexpected argument '%s'\n", argv[0],
          argv[1]);
  return DAM_EXIT_USAGE;
}
