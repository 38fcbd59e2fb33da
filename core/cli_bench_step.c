/*
 * `diffautoml bench step --config CONFIG`: images per second, peak device
 * memory and device work per step (dispatches, barriers, submits, waits)
 * of the engine's weight step, DARTS architecture step and full DHA step
 * on the config, after a warm-up.  --json prints one JSON line per kind
 * (bench/compare.py reads them); --profile adds each kind's per-kernel
 * time from GPU timestamps.
 */
#include "cli_experiment.h"

#include "device.h"
#include "error.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"weight", "arch", "full"};

typedef struct bench_args {
  const char *config, *resolved;
  const char **sets;
  uint32_t n_sets, steps, warmup;
  bool kinds[3], json, profile;
} bench_args;

static void usage(FILE *out) {
  fprintf(out,
          "usage: diffautoml [-d DEVICE] bench step --config CONFIG "
          "[OPTIONS]\n"
          "  time the search engine's steps on the config's data:\n"
          "    weight  forward, backward, clip and SGD update of a training "
          "batch\n"
          "    arch    a DARTS architecture step on a validation batch "
          "(first order)\n"
          "    full    the whole DHA step, as `diffautoml search` runs it\n"
          "  --steps N          timed steps per kind (default 20)\n"
          "  --warmup N         untimed steps first (default 3)\n"
          "  --kind K[,K...]    weight, arch, full (default all three)\n"
          "  -s, --set KEY=VAL  override a config key (repeatable)\n"
          "  --json             one JSON line per kind\n"
          "  --profile          also the per-kernel time of one step (GPU "
          "timestamps)\n"
          "  --resolved FILE    only write the resolved config to FILE (what "
          "the\n"
          "                     PyTorch side, bench/torch_step.py, reads)\n");
}

static int parse_count(const char *flag, const char *v, uint32_t *out) {
  char *end;
  unsigned long n = strtoul(v, &end, 10);
  if (*end || end == v || n > 100000) {
    fprintf(stderr, "diffautoml bench step: %s takes 0..100000, got '%s'\n",
            flag, v);
    return DAM_EXIT_USAGE;
  }
  *out = (uint32_t)n;
  return 0;
}

static int parse_kinds(const char *v, bool *kinds) {
  char *copy = strdup(v), *save = NULL;
  int rc = copy ? 0 : DAM_EXIT_RUNTIME;
  memset(kinds, 0, 3 * sizeof *kinds);
  for (char *k = copy ? strtok_r(copy, ",", &save) : NULL; k && !rc;
       k = strtok_r(NULL, ",", &save)) {
    int i = 0;
    while (i < 3 && strcmp(k, kind_names[i]) != 0)
      i++;
    if (i == 3) {
      fprintf(stderr, "diffautoml bench step: --kind takes weight, arch or "
              "full, got '%s'\n", k);
      rc = DAM_EXIT_USAGE;
    } else {
      kinds[i] = true;
    }
  }
  free(copy);
  return rc;
}

/* 0, -1 after --help, or an exit code after a message. */
static int parse(int argc, char **argv, bench_args *a) {
  static const struct option options[] = {
      {"config", required_argument, NULL, 'c'},
      {"steps", required_argument, NULL, 'n'},
      {"warmup", required_argument, NULL, 'w'},
      {"kind", required_argument, NULL, 'k'},
      {"set", required_argument, NULL, 's'},
      {"json", no_argument, NULL, 'j'},
      {"profile", no_argument, NULL, 'p'},
      {"resolved", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c, rc = 0;
  optind = 0;
  while (!rc && (c = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
    switch (c) {
    case 'c': a->config = optarg; break;
    case 'n': rc = parse_count("--steps", optarg, &a->steps); break;
    case 'w': rc = parse_count("--warmup", optarg, &a->warmup); break;
    case 'k': rc = parse_kinds(optarg, a->kinds); break;
    case 's': a->sets[a->n_sets++] = optarg; break;
    case 'j': a->json = true; break;
    case 'p': a->profile = true; break;
    case 'r': a->resolved = optarg; break;
    case 'h': usage(stdout); return -1;
    default: usage(stderr); return DAM_EXIT_USAGE;
    }
  }
  if (!rc && (!a->config || optind < argc || a->steps == 0)) {
    fprintf(stderr, "diffautoml bench step: %s\n",
            !a->config    ? "--config CONFIG is required"
            : optind < argc ? "unexpected argument"
                            : "--steps must be at least 1");
    usage(stderr);
    rc = DAM_EXIT_USAGE;
  }
  return rc;
}

static const char *method_name(const dam_config *cfg, int kind) {
  return kind == DAM_BENCH_ARCH || cfg->nas.method == DAM_CONFIG_NAS_DARTS
             ? "darts"
             : "ista";
}

static void print_row(const bench_args *a, const dam_config *cfg, int kind,
                      const dam_bench_result *r) {
  if (a->json) {
    printf("{\"impl\":\"diffautoml\",\"kind\":\"%s\",\"method\":\"%s\","
           "\"batch\":%u,\"steps\":%u,\"seconds\":%.6f,"
           "\"images_per_s\":%.3f,\"peak_bytes\":%llu,\"dispatches\":%.1f,"
           "\"barriers\":%.1f,\"submits\":%.2f,\"waits\":%.2f,"
           "\"device\":\"%s\",\"threads_trial\":\"%s\"}\n",
           kind_names[kind], method_name(cfg, kind), r->batch, a->steps,
           r->seconds, r->images_per_s, (unsigned long long)r->peak_bytes,
           r->dispatches, r->barriers, r->submits, r->waits, r->device,
           r->threads_trial);
  } else {
    printf("%-7s %-6s %6u %10.1f %10.1f %11.0f %9.0f %8.2f %6.2f\n",
           kind_names[kind], method_name(cfg, kind), r->batch,
           r->images_per_s, (double)r->peak_bytes / (1024.0 * 1024.0),
           r->dispatches, r->barriers, r->submits, r->waits);
    if (r->threads_trial[0])
      printf("  threads timed: %s\n", r->threads_trial);
  }
  fflush(stdout);
}

int dam_cmd_bench_step(const dam_cli_opts *opts, int argc, char **argv) {
  bench_args a = {.steps = 20, .warmup = 3, .kinds = {true, true, true}};
  if (!(a.sets = calloc((size_t)argc + 1, sizeof *a.sets)))
    return DAM_EXIT_RUNTIME;
  int rc = parse(argc, argv, &a);
  if (rc) {
    free(a.sets);
    return rc < 0 ? DAM_EXIT_OK : rc;
  }
  dam_cli_experiment e = {0};
  rc = dam_config_load(a.config, a.sets, a.n_sets, &e.cfg);
  free(a.sets);
  if (rc)
    return dam_cli_fail(rc);
  if ((rc = dam_cli_experiment_prepare(opts, &e)) ||
      (a.resolved && (rc = dam_config_write(&e.cfg, a.resolved))) ||
      a.resolved) {
    dam_cli_experiment_free(&e);
    return rc ? dam_cli_fail(rc) : DAM_EXIT_OK;
  }
  if (a.profile)
    setenv("DIFFAUTOML_PROFILE", "1", 1); /* read when the recorder starts */
  dam_bench_opts bo = {.device = dam_device_spec(opts->device, e.cfg.device),
                       .warmup = a.warmup, .steps = a.steps,
                       .profile = a.profile, .out = stdout};
  if (!a.json)
    printf("%-7s %-6s %6s %10s %10s %11s %9s %8s %6s\n", "kind", "method",
           "batch", "images/s", "peak MiB", "dispatches", "barriers",
           "submits", "waits");
  for (int k = 0; !rc && k < 3; k++) {
    dam_bench_result r = {0};
    if (a.kinds[k] &&
        !(rc = dam_search_bench(&e.cfg, e.reg, &e.sd, (dam_bench_kind)k, &bo,
                                &r)))
      print_row(&a, &e.cfg, k, &r);
  }
  int exit_code = rc ? dam_cli_fail(rc) : DAM_EXIT_OK;
  dam_cli_experiment_free(&e);
  return exit_code;
}
