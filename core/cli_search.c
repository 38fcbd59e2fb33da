/*
 * `diffautoml search CONFIG [--dry-run] [-s key=value]...` and
 * `diffautoml search --resume RUN_DIR`: loads and checks the experiment
 * config, discovers plugins and checks the names it uses, loads and splits
 * the data set, prints what the run will do, writes
 * OUTPUT_DIR/config.resolved.cfg and runs the search (search.h); --dry-run
 * stops after the supernet's size and memory estimate.  Ctrl-C saves a
 * checkpoint.  Also the hidden `config-keys` command, which prints the
 * schema as docs/CONFIG.md's key table.
 */
#include "cli_experiment.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cpu_threads.h"
#include "dataset.h"
#include "device.h"
#include "error.h"
#include "plugin.h"
#include "search.h"

#include <signal.h>

static const char *const dataset_names[] = {"fashion_mnist", "cifar10",
                                            "cifar100"};


static void dam__search_usage(FILE *out) {
  fprintf(out, "usage: diffautoml search CONFIG [--dry-run] [-s KEY=VALUE]...\n"
               "       diffautoml search --resume RUN_DIR\n"
               "  --dry-run          check the config, plugins and data, build "
               "the supernet,\n"
               "                     print its size and memory estimate, write "
               "nothing\n"
               "  --resume RUN_DIR   continue an interrupted run from its "
               "checkpoint\n"
               "  --overwrite        start over in an output_dir that holds "
               "a run\n"
               "  -s, --set KEY=VAL  override a config key (repeatable), e.g.\n"
               "                     -s train.batch_size=32 -s "
               "search_space.ops=[skip_connect]\n"
               "keys: docs/CONFIG.md\n");
}

/* --plugin-path first, then plugins.path (both colon-separated). */
static int dam__discover(const dam_cli_opts *opts, const dam_config *cfg,
                         dam_registry **out) {
  char *path = NULL;
  const char *flag = opts->plugin_path ? opts->plugin_path : "";
  *out = NULL;
  if (asprintf(&path, "%s:%s", flag, cfg->plugins.path) < 0)
    return dam_fail(DAM_ENOMEM, "out of memory");
  dam_registry *reg = dam_registry_new();
  int rc = reg ? dam_registry_discover(reg, path)
               : dam_fail(DAM_ENOMEM, "out of memory");
  free(path);
  if (rc < 0) {
    dam_registry_free(reg);
    return rc;
  }
  *out = reg;
  return 0;
}

int dam_cli_load_dataset(const dam_config *cfg, int test_set,
                         dam_dataset *out) {
  const char *path = cfg->data.path;
  if (cfg->data.dataset == DAM_CONFIG_FASHION_MNIST)
    return dam_fashion_mnist_load(*path ? path : NULL, test_set, out);
  bool c100 = cfg->data.dataset == DAM_CONFIG_CIFAR100;
  char names[5][600];
  const char *files[5];
  uint32_t n = test_set ? 1 : c100 ? 1 : 5;
  for (uint32_t i = 0; i < n; i++) {
    if (test_set)
      snprintf(names[i], sizeof names[i], "%s/%s", path,
               c100 ? "test.bin" : "test_batch.bin");
    else if (c100)
      snprintf(names[i], sizeof names[i], "%s/train.bin", path);
    else
      snprintf(names[i], sizeof names[i], "%s/data_batch_%u.bin", path, i + 1);
    files[i] = names[i];
  }
  return dam_cifar_load(files, n, c100, out);
}

static int dam__load_data(const dam_config *cfg, dam_cli_experiment *d) {
  const char *path = cfg->data.path;
  snprintf(d->dir, sizeof d->dir, "%s", *path ? path : dam_fashion_mnist_dir());
  int rc = dam_cli_load_dataset(cfg, 0, &d->train);
  if (rc == 0)
    rc = dam_cli_load_dataset(cfg, 1, &d->test);
  if (rc)
    return rc;
  d->n_file_train = d->train.n;
  d->n_file_test = d->test.n;
  if (cfg->data.train_limit && cfg->data.train_limit < d->train.n)
    d->train.n = (uint32_t)cfg->data.train_limit;
  if (cfg->data.test_limit && cfg->data.test_limit < d->test.n)
    d->test.n = (uint32_t)cfg->data.test_limit;
  return dam_dataset_split(d->train.n, cfg->data.val_ratio, (uint64_t)cfg->seed,
                           &d->train_idx, &d->n_train, &d->val_idx, &d->n_val);
}

/* Where key was set, or the config file for a default. */
static const char *dam__where(const dam_config *cfg, const char *key, char *buf,
                              size_t n) {
  dam_config_where(cfg, key, buf, n);
  return strcmp(buf, "default") == 0 ? cfg->source : buf;
}

/* The split must leave what the run needs. */
static int dam__check_split(const dam_config *cfg, const dam_cli_experiment *d) {
  char where[256];
  if (d->n_train == 0)
    return dam_fail(DAM_ECONFIG,
                    "%s: no training images left after the "
                    "split (%u images, data.val_ratio = %g)",
                    dam__where(cfg, "data.val_ratio", where, sizeof where),
                    d->train.n, cfg->data.val_ratio);
  if (cfg->data.partial_batch == DAM_CONFIG_PARTIAL_DROP &&
      (uint64_t)cfg->train.batch_size > d->n_train)
    return dam_fail(DAM_ECONFIG,
                    "%s: train.batch_size = %lld exceeds the %u "
                    "training images, and data.partial_batch = \"drop\" "
                    "leaves no batch",
                    dam__where(cfg, "train.batch_size", where, sizeof where),
                    (long long)cfg->train.batch_size, d->n_train);
  if (d->n_val == 0 &&
      (cfg->hpo.enabled || cfg->nas.method == DAM_CONFIG_NAS_DARTS))
    return dam_fail(DAM_ECONFIG,
                    "%s: the split leaves no validation images "
                    "(%u images, data.val_ratio = %g)",
                    dam__where(cfg, "data.val_ratio", where, sizeof where),
                    d->train.n, cfg->data.val_ratio);
  return 0;
}

/* The normalization the config asks for, on [0,1] pixels. */
static void dam__normalization(const dam_config *cfg, dam_cli_experiment *d,
                               dam_search_data *sd) {
  for (uint32_t c = 0; c < d->train.channels && c < 4; c++) {
    bool fixed = cfg->data.normalize == DAM_CONFIG_NORM_FIXED;
    bool none = cfg->data.normalize == DAM_CONFIG_NORM_NONE;
    sd->mean[c] = none ? 0.0f : fixed ? (float)cfg->data.mean.v[c] : d->mean[c];
    sd->std[c] = none ? 1.0f : fixed ? (float)cfg->data.std.v[c] : d->std[c];
  }
}

int dam_cli_experiment_prepare(const dam_cli_opts *opts,
                               dam_cli_experiment *e) {
  int rc = dam__discover(opts, &e->cfg, &e->reg);
  if (!rc)
    rc = dam_config_check_plugins(&e->cfg, e->reg);
  if (!rc)
    rc = dam__load_data(&e->cfg, e);
  if (!rc)
    rc = dam__check_split(&e->cfg, e);
  if (rc)
    return rc;
  dam_dataset_channel_stats(&e->train, e->train_idx, e->n_train, e->mean,
                            e->std);
  e->sd = (dam_search_data){&e->train,    &e->test,   e->train_idx,
                            e->val_idx,   e->n_train, e->n_val,
                            {0},          {0}};
  dam__normalization(&e->cfg, e, &e->sd);
  return 0;
}

void dam_cli_experiment_free(dam_cli_experiment *e) {
  free(e->train_idx);
  free(e->val_idx);
  dam_dataset_free(&e->train);
  dam_dataset_free(&e->test);
  dam_config_free(&e->cfg);
  dam_registry_free(e->reg);
}

static void dam__print_list(FILE *out, const dam_strlist *l) {
  for (uint32_t i = 0; i < l->n; i++)
    fprintf(out, "%s%s", i ? ", " : "", l->v[i]);
  if (!l->n)
    fputs("(none)", out);
}

static void dam__print_params(FILE *out, const char *label,
                              const dam_config_params *ps) {
  for (uint32_t i = 0; i < ps->n; i++) {
    fprintf(out, "%-13s %s:", i ? "" : label, ps->v[i].plugin);
    for (uint32_t j = 0; j < ps->v[i].n; j++) {
      const dam_config_param *p = &ps->v[i].params[j];
      if (p->type == DAM_PARAM_BOOL)
        fprintf(out, " %s=%s", p->name, p->value != 0 ? "true" : "false");
      else
        fprintf(out, " %s=%g", p->name, p->value);
    }
    fputc('\n', out);
  }
}

/* ", N worker threads (why)" into line: lavapipe's threads for the run
 * (cpu_threads.h). */
static void dam__threads_note(const dam_config *cfg, const dam_dataset *t,
                              char *line, size_t n) {
  int user = dam_cpu_threads_user();
  int64_t batch = cfg->train.batch_size;
  uint64_t floats = dam_cpu_cell_floats(cfg, t->height, t->width, batch);
  int threads = dam_cpu_threads_for(cfg, t->height, t->width, batch);
  bool by_user = user != DAM_CPU_THREADS_UNSET;
  char what[32];
  dam_cpu_threads_describe(by_user ? user : threads, what, sizeof what);
  if (by_user || cfg->cpu_threads >= 0)
    snprintf(line, n, ", %s (%s)", what,
             by_user ? "$LP_NUM_THREADS" : "cpu_threads");
  else
    snprintf(line, n, ", %s (cpu_threads automatic: %llu floats a "
             "first-stage activation, %ld CPUs%s)", what,
             (unsigned long long)floats, sysconf(_SC_NPROCESSORS_ONLN),
             cfg->cpu_threads_trial == DAM_CONFIG_TRIAL_NEVER ? ""
             : cfg->cpu_threads_trial == DAM_CONFIG_TRIAL_ALWAYS
                 ? "; then timed against the other choice"
                 : "; then timed against the other choice if that pays");
}

/* "SPEC -> INDEX: NAME (TYPE)" into line, with lavapipe's threads for a
 * CPU device; DAM_ENOTFOUND when SPEC matches no device.  No Vulkan device
 * at all is reported, not an error: a dry run checks the config and
 * data. */
static int dam__device_line(const char *spec, const dam_config *cfg,
                            const dam_dataset *train, char *line, size_t n) {
  dam_device_info *infos = NULL;
  uint32_t count = 0, sel = 0;
  int rc = 0, len = snprintf(line, n, "%s", spec && *spec ? spec : "automatic");
  if (dam_device_list(&infos, &count) != 0)
    snprintf(line + len, n - (size_t)len, " (no Vulkan device now: %s)",
             dam_last_error());
  else if ((rc = dam_device_pick(infos, count, spec, &sel)) == 0) {
    len += snprintf(line + len, n - (size_t)len, " -> %u: %.200s (%s)", sel,
                    infos[sel].name, dam_device_type_name(infos[sel].type));
    if (infos[sel].type == VK_PHYSICAL_DEVICE_TYPE_CPU)
      dam__threads_note(cfg, train, line + len, n - (size_t)len);
  }
  free(infos);
  return rc;
}

static void dam__summary(FILE *out, const dam_config *cfg,
                         const dam_registry *reg, const dam_cli_experiment *d,
                         const char *device) {
  uint32_t n_files;
  const char *const *files = dam_config_files(cfg, &n_files);
  fprintf(out, "%-13s %s", "config", cfg->source);
  for (uint32_t i = 1; i < n_files; i++)
    fprintf(out, "%s%s", i == 1 ? " (@include: " : ", ", files[i]);
  fputs(n_files > 1 ? ")\n" : "\n", out);
  fprintf(out, "%-13s %s\n", "device", device);
  fprintf(out, "%-13s %u file%s loaded, %u refused (see diffautoml plugins)\n",
          "plugins", reg->n_plugins, reg->n_plugins == 1 ? "" : "s",
          reg->n_refused);

  const dam_dataset *t = &d->train;
  fprintf(out, "%-13s %s from %s\n", "dataset",
          dataset_names[cfg->data.dataset], d->dir);
  fprintf(out, "%-13s %ux%ux%u, %u classes\n", "images", t->channels, t->height,
          t->width, t->classes);
  fprintf(out,
          "%-13s %u of %u training images: %u train, %u validation "
          "(val_ratio %g, seed %lld); %u of %u test images\n",
          "split", t->n, d->n_file_train, d->n_train, d->n_val,
          cfg->data.val_ratio, (long long)cfg->seed, d->test.n, d->n_file_test);
  uint64_t b = (uint64_t)cfg->train.batch_size;
  bool drop = cfg->data.partial_batch == DAM_CONFIG_PARTIAL_DROP;
  fprintf(
      out,
      "%-13s %llu per batch, %s: %llu training batches per epoch%s; "
      "evaluation batch %lld\n",
      "batches", (unsigned long long)b,
      drop ? "partial batch dropped" : "partial batch padded",
      (unsigned long long)(drop ? d->n_train / b : (d->n_train + b - 1) / b),
      cfg->data.shuffle ? ", reshuffled" : "",
      (long long)cfg->train.eval_batch_size);
  fprintf(out, "%-13s ", "normalize");
  if (cfg->data.normalize == DAM_CONFIG_NORM_NONE)
    fputs("none (pixels on the 0..1 scale)\n", out);
  for (uint32_t c = 0;
       cfg->data.normalize != DAM_CONFIG_NORM_NONE && c < t->channels && c < 3;
       c++) {
    bool fixed = cfg->data.normalize == DAM_CONFIG_NORM_FIXED;
    fprintf(out, "%smean %.4f std %.4f%s", c ? "; " : "",
            fixed ? cfg->data.mean.v[c] : d->mean[c],
            fixed ? cfg->data.std.v[c] : d->std[c],
            c + 1 < t->channels ? ""
            : fixed             ? " (fixed)\n"
                                : " (of the training split)\n");
  }

  int64_t cells = cfg->search_space.cells;
  fprintf(out,
          "%-13s %lld cells (reduction at %lld and %lld), %lld channels "
          "(stem %lld, stride %lld), %lld nodes%s\n",
          "search space", (long long)cells, (long long)(cells / 3),
          (long long)(2 * cells / 3), (long long)cfg->search_space.channels,
          (long long)(cfg->search_space.channels *
                      cfg->search_space.stem_multiplier),
          (long long)cfg->search_space.stem_stride,
          (long long)cfg->search_space.nodes,
          cfg->search_space.auxiliary ? ", auxiliary head" : "");
  fprintf(out, "%-13s ", "ops");
  dam__print_list(out, &cfg->search_space.ops);
  fputc('\n', out);
  dam__print_params(out, "op params", &cfg->search_space.op_params);
  if (cfg->nas.method == DAM_CONFIG_NAS_ISTA) {
    fprintf(out,
            "%-13s ista: proj_dims %lld, sparseness %lld, dist_limit %g, "
            "lasso_lambda %g, ",
            "nas", (long long)cfg->nas.ista.proj_dims,
            (long long)cfg->nas.ista.sparseness, cfg->nas.ista.dist_limit,
            cfg->nas.ista.lasso_lambda);
    if (cfg->nas.ista.param_budget_mb > 0)
      fprintf(out, "budget %g MB", cfg->nas.ista.param_budget_mb);
    else
      fputs("no parameter budget", out);
  } else {
    fprintf(out, "%-13s darts: order %lld, %s", "nas",
            (long long)cfg->nas.darts.order,
            cfg->nas.darts.include_none ? "with none" : "without none");
  }
  fprintf(out, "; Adam lr %g, betas (%g, %g), wd %g\n", cfg->nas.arch_lr,
          cfg->nas.arch_beta1, cfg->nas.arch_beta2, cfg->nas.arch_wd);
  fprintf(out, "%-13s ", "da");
  if (!cfg->da.enabled)
    fputs("off\n", out);
  else {
    dam__print_list(out, &cfg->da.ops);
    fprintf(out,
            " (%u sub-policies); T %g, lr %g, momentum %g, level "
            "U(0, %g) searching, U(0, %g) final%s\n",
            cfg->da.ops.n * cfg->da.ops.n, cfg->da.temperature, cfg->da.lr,
            cfg->da.momentum, cfg->da.magnitude_search,
            cfg->da.magnitude_final,
            cfg->da.learn_magnitude ? ", levels learned" : "");
    dam__print_params(out, "da params", &cfg->da.op_params);
  }
  fprintf(out, "%-13s ", "hpo");
  if (!cfg->hpo.enabled)
    fputs("off\n", out);
  else {
    dam__print_list(out, &cfg->hpo.modules);
    fputc('\n', out);
    dam__print_params(out, "hpo params", &cfg->hpo.params);
  }
  fprintf(out,
          "%-13s search <= %lld epochs, then %lld final; validation batch "
          "%lld; lr %g, weight decay %g, momentum %g, grad clip %g, drop "
          "path %g\n",
          "train", (long long)cfg->train.search_epochs,
          (long long)cfg->train.final_epochs,
          (long long)(cfg->train.val_batch_size ? cfg->train.val_batch_size
                                                : cfg->train.batch_size),
          cfg->train.weight_lr,
          cfg->train.weight_decay, cfg->train.momentum, cfg->train.grad_clip,
          cfg->train.drop_path);
}

/* mkdir -p */
static int dam__make_dirs(const char *dir) {
  char path[1024];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
    return dam_fail(DAM_EIO, "%s: path too long", dir);
  for (char *p = path + 1;; p++) {
    bool end = *p == '\0';
    if (*p != '/' && !end)
      continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      return dam_fail(DAM_EIO, "%s: cannot create: %s", path, strerror(errno));
    if (end)
      return 0;
    *p = '/';
  }
}

static int dam__write_resolved(const dam_config *cfg, FILE *out) {
  char *path = NULL;
  int rc = dam__make_dirs(cfg->output_dir);
  if (rc)
    return rc;
  if (asprintf(&path, "%s/config.resolved.cfg", cfg->output_dir) < 0)
    return dam_fail(DAM_ENOMEM, "out of memory");
  rc = dam_config_write(cfg, path);
  if (rc == 0)
    fprintf(out, "%-13s wrote %s\n", "output", path);
  free(path);
  return rc;
}

/* A new run must not write over another run's files. */
static int dam__check_fresh(const dam_config *cfg) {
  static const char *const files[] = {"checkpoint.safetensors",
                                      "metrics.jsonl", "model.safetensors"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[1100];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", cfg->output_dir, files[i]);
    if (stat(path, &sb) == 0)
      return dam_fail(DAM_ECONFIG,
                      "%s holds a run already (%s): continue it with "
                      "--resume %s, or choose another output_dir "
                      "(-s output_dir=DIR), or pass --overwrite",
                      cfg->output_dir, files[i], cfg->output_dir);
  }
  return 0;
}

typedef struct dam__start {
  const dam_config *cfg;
  bool resume, started;
} dam__start;

/* The run is set up and fits.  A new run drops an earlier run's results
 * (--overwrite) and writes its resolved config. */
static int dam__on_ready(void *ctx) {
  static const char *const stale[] = {"checkpoint.safetensors",
                                      "model.safetensors", "summary.json",
                                      "genotype.json"};
  dam__start *s = ctx;
  for (size_t i = 0; !s->resume && i < sizeof stale / sizeof *stale; i++) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", s->cfg->output_dir, stale[i]);
    unlink(path);
  }
  int rc = s->resume ? 0 : dam__write_resolved(s->cfg, stdout);
  fflush(stdout);
  s->started = rc == 0;
  return rc;
}

static volatile sig_atomic_t dam__interrupt;

static void dam__on_sigint(int sig) {
  (void)sig;
  dam__interrupt = 1;
}

/* The config of `--resume DIR`: DIR/config.resolved.cfg, writing into
 * DIR wherever the command runs. */
static int dam__resume_config(const char *dir, dam_config *cfg) {
  char path[1100], *set = NULL;
  snprintf(path, sizeof path, "%s/config.resolved.cfg", dir);
  if (asprintf(&set, "output_dir=%s", dir) < 0)
    return dam_fail(DAM_ENOMEM, "out of memory");
  const char *sets[] = {set};
  int rc = dam_config_load(path, sets, 1, cfg);
  free(set);
  return rc;
}

int dam_cmd_search(const dam_cli_opts *opts, int argc, char **argv) {
  static const struct option options[] = {
      {"dry-run", no_argument, NULL, 'n'},
      {"resume", required_argument, NULL, 'r'},
      {"overwrite", no_argument, NULL, 'o'},
      {"set", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char **sets = calloc((size_t)argc, sizeof *sets);
  const char *resume = NULL;
  uint32_t n_sets = 0;
  bool dry_run = false, overwrite = false;
  int c, exit_code = DAM_EXIT_USAGE;
  if (!sets)
    return DAM_EXIT_RUNTIME;
  optind = 0; /* GNU getopt: start over on the subcommand's argv */
  while ((c = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
    if (c == 'n')
      dry_run = true;
    else if (c == 'r')
      resume = optarg;
    else if (c == 'o')
      overwrite = true;
    else if (c == 's')
      sets[n_sets++] = optarg;
    else {
      dam__search_usage(c == 'h' ? stdout : stderr);
      free(sets);
      return c == 'h' ? DAM_EXIT_OK : DAM_EXIT_USAGE;
    }
  }
  int want = resume ? 0 : 1;
  if (argc - optind != want || (resume && (n_sets || dry_run))) {
    fprintf(stderr, "diffautoml search: %s\n",
            resume ? "--resume DIR takes no config, -s or --dry-run"
            : optind < argc ? "one config file, please"
                            : "no config file given");
    dam__search_usage(stderr);
    free(sets);
    return DAM_EXIT_USAGE;
  }

  dam_cli_experiment e = {0};
  dam_config *cfg = &e.cfg;
  int rc = resume ? dam__resume_config(resume, cfg)
                  : dam_config_load(argv[optind], sets, n_sets, cfg);
  free(sets);
  if (rc)
    return dam_cli_fail(rc);
  if ((rc = dam_cli_experiment_prepare(opts, &e))) {
    exit_code = dam_cli_fail(rc);
    goto out;
  }
  char device[512];
  const char *spec = dam_device_spec(opts->device, cfg->device);
  if ((rc = dam__device_line(spec, cfg, &e.train, device, sizeof device))) {
    exit_code = dam_cli_fail(rc);
    goto out;
  }
  dam__summary(stdout, cfg, e.reg, &e, device);
  dam_search_opts so = {.device = spec, .resume = resume != NULL,
                        .dry_run = dry_run, .interrupt = &dam__interrupt,
                        .out = stdout};
  if (dry_run) {
    dam_device_info *infos = NULL;
    uint32_t n_dev = 0;
    bool have = dam_device_list(&infos, &n_dev) == 0 && n_dev > 0;
    free(infos);
    if (have && (rc = dam_search_run(cfg, e.reg, &e.sd, &so))) {
      exit_code = dam_cli_fail(rc);
      goto out;
    }
    printf("%-13s %s (dry run: nothing written)\n", "output", cfg->output_dir);
    exit_code = DAM_EXIT_OK;
    goto out;
  }
  if (!resume && !overwrite && (rc = dam__check_fresh(cfg))) {
    exit_code = dam_cli_fail(rc);
    goto out;
  }
  dam__start start = {cfg, resume != NULL, false};
  so.on_ready = dam__on_ready;
  so.ctx = &start;
  struct sigaction sa = {.sa_handler = dam__on_sigint};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  rc = dam_search_run(cfg, e.reg, &e.sd, &so);
  signal(SIGINT, SIG_DFL);
  if (rc < 0) {
    char where[1100];
    snprintf(where, sizeof where, "%s/checkpoint.safetensors", cfg->output_dir);
    struct stat sb;
    bool kept = start.started && stat(where, &sb) == 0;
    fprintf(stderr, "diffautoml: %s%s%s\n", dam_last_error(),
            kept ? "; the last good checkpoint is kept: " : "",
            kept ? where : "");
    exit_code = rc == DAM_ECONFIG ? DAM_EXIT_USAGE : DAM_EXIT_RUNTIME;
  } else {
    exit_code = rc == 0 ? DAM_EXIT_OK : DAM_EXIT_RUNTIME;
    if (rc == 0)
      printf("%-13s %s: genotype.json, model.safetensors, summary.json\n",
             "done", cfg->output_dir);
  }
out:
  dam_cli_experiment_free(&e);
  return exit_code;
}

int dam_cmd_config_keys(const dam_cli_opts *opts, int argc, char **argv) {
  (void)opts;
  if (dam_cli_no_args(argc, argv))
    return DAM_EXIT_USAGE;
  dam_config_print_keys(stdout);
  return DAM_EXIT_OK;
}
