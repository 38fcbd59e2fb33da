/*
 * `diffautoml gradcheck [NAME...]`: finite-difference checks of every
 * loaded op and augment plugin (or the named ones) on the selected device,
 * one row each; exit 1 when any fails.  What a researcher runs on a new
 * plugin.
 */
#include "cli.h"

#include "device.h"
#include "error.h"
#include "gradcheck.h"
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

static bool wanted(const char *name, int argc, char **argv) {
  if (argc <= 1)
    return true;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], name))
      return true;
  return false;
}

/* 0 when every name on the command line is a loaded op or augment, else
 * 2 with a message. */
static int check_names(const dam_registry *reg, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!dam_registry_find(reg, DAM_KIND_OP, argv[i], NULL) &&
        !dam_registry_find(reg, DAM_KIND_AUGMENT, argv[i], NULL)) {
      fprintf(stderr, "diffautoml: gradcheck: no op or augment named '%s' "
              "(see `diffautoml plugins`)\n", argv[i]);
      return DAM_EXIT_USAGE;
    }
  return 0;
}

/* A seed from the op's name, so its shapes do not depend on what else is
 * loaded (FNV-1a). */
static uint64_t name_seed(const char *name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *c = name; *c; c++)
    h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
  return h;
}

/* Check one descriptor of a checked kind. */
static int check_one(dam_exec *ex, const dam_desc_header *d,
                     dam_gradcheck_result *r) {
  uint64_t seed = name_seed(d->name);
  return d->kind == DAM_KIND_OP
             ? dam_gradcheck_op(ex, (const dam_op_desc *)d, seed, r)
             : dam_gradcheck_augment(ex, (const dam_augment_desc *)d, seed, r);
}

static int run_all(dam_exec *ex, const dam_registry *reg, int argc,
                   char **argv) {
  int failed = 0;
  printf("%-8s %-16s %-34s %8s %10s %9s  %s\n", "kind", "name", "shapes",
         "fwd err", "grad err", "checked", "result");
  for (uint32_t i = 0; i < reg->n_plugins; i++)
    for (const dam_desc_header *const *d = reg->plugins[i].module->descs; *d;
         d++) {
      if (((*d)->kind != DAM_KIND_OP && (*d)->kind != DAM_KIND_AUGMENT) ||
          !wanted((*d)->name, argc, argv))
        continue;
      dam_gradcheck_result r;
      if (check_one(ex, *d, &r)) {
        fprintf(stderr, "diffautoml: %s\n", dam_last_error());
        return DAM_EXIT_RUNTIME;
      }
      char checked[32];
      snprintf(checked, sizeof checked, "%u/%u", r.checked,
               r.checked + r.skipped);
      printf("%-8s %-16s %-34s %8s %10.2e %9s  %s%s\n",
             dam_kind_name((*d)->kind), (*d)->name,
             r.n_shapes ? r.shapes : "(no placement accepted)", "-",
             r.max_err, checked, r.pass ? "PASS" : "FAIL",
             r.deterministic ? "" : " (outputs differ between runs)");
      failed += !r.pass;
      fflush(stdout);
    }
  return failed ? DAM_EXIT_RUNTIME : DAM_EXIT_OK;
}

int dam_cmd_gradcheck(const dam_cli_opts *opts, int argc, char **argv) {
  dam_registry *reg = dam_registry_new();
  if (!reg || dam_registry_discover(reg, opts->plugin_path) < 0) {
    fprintf(stderr, "diffautoml: %s\n", dam_last_error());
    dam_registry_free(reg);
    return DAM_EXIT_RUNTIME;
  }
  for (uint32_t i = 0; i < reg->n_refused; i++)
    fprintf(stderr, "diffautoml: refused %s: %s\n", reg->refused[i].path,
            reg->refused[i].reason);
  int rc = check_names(reg, argc, argv);
  dam_device *dev = NULL;
  dam_exec *ex = NULL;
  if (!rc && (dam_device_open(dam_device_spec(opts->device, NULL), &dev) ||
              dam_exec_create(dev, &ex))) {
    fprintf(stderr, "diffautoml: %s\n", dam_last_error());
    rc = DAM_EXIT_RUNTIME;
  }
  if (!rc)
    rc = run_all(ex, reg, argc, argv);
  dam_exec_destroy(ex);
  dam_device_close(dev);
  dam_registry_free(reg);
  return rc;
}
