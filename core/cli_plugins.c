/*
 * `diffautoml plugins`: discovers plugins as a run would and prints, for
 * researchers, where it looked, every loaded module with its descriptors and
 * their parameters (type, default, range, help), then every refused file
 * with its one-line reason.  Refusals are reported, not fatal.
 */
#include "cli.h"

#include "error.h"
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#ifndef DAM_PLUGIN_DIR
#define DAM_PLUGIN_DIR "/usr/local/lib/diffautoml/plugins"
#endif

static const char *dam__param_type(uint32_t type) {
  switch (type) {
  case DAM_PARAM_INT:
    return "int";
  case DAM_PARAM_FLOAT:
    return "float";
  case DAM_PARAM_BOOL:
    return "bool";
  }
  return "?";
}

static void dam__format_value(char *buf, size_t n, uint32_t type, double v) {
  if (type == DAM_PARAM_BOOL)
    snprintf(buf, n, "%s", v != 0 ? "true" : "false");
  else if (type == DAM_PARAM_INT)
    snprintf(buf, n, "%.0f", v);
  else
    snprintf(buf, n, "%g", v);
}

/* "[min, max]", or "" for a bool (its range says nothing). */
static void dam__format_range(char *buf, size_t n, const dam_param_desc *p) {
  char lo[32], hi[32];
  if (p->type == DAM_PARAM_BOOL) {
    buf[0] = '\0';
    return;
  }
  dam__format_value(lo, sizeof lo, p->type, p->min);
  dam__format_value(hi, sizeof hi, p->type, p->max);
  snprintf(buf, n, "[%s, %s]", lo, hi);
}

static int dam__max_int(int a, int b) { return a > b ? a : b; }

static void dam__print_params(const dam_desc_header *d, FILE *out) {
  char def[32], range[80];
  int w_name = 0, w_def = 0, w_range = 0;
  for (uint32_t i = 0; i < d->n_params; i++) {
    const dam_param_desc *p = &d->params[i];
    dam__format_value(def, sizeof def, p->type, p->def);
    dam__format_range(range, sizeof range, p);
    w_name = dam__max_int(w_name, (int)strlen(p->name));
    w_def = dam__max_int(w_def, (int)strlen(def));
    w_range = dam__max_int(w_range, (int)strlen(range));
  }
  for (uint32_t i = 0; i < d->n_params; i++) {
    const dam_param_desc *p = &d->params[i];
    dam__format_value(def, sizeof def, p->type, p->def);
    dam__format_range(range, sizeof range, p);
    fprintf(out, "      %-*s  %-5s  default %-*s  %-*s  %s\n", w_name,
            p->name, dam__param_type(p->type), w_def, def, w_range, range,
            p->help ? p->help : "");
  }
}

static void dam__print_plugin(const dam_plugin *pl, FILE *out) {
  const dam_module *m = pl->module;
  int w_kind = 0, w_name = 0;
  fprintf(out, "%s %s (%s)  %s\n", m->name, m->version ? m->version : "?",
          m->license ? m->license : "no license given", pl->path);
  for (const dam_desc_header *const *d = m->descs; *d; d++) {
    w_kind = dam__max_int(w_kind, (int)strlen(dam_kind_name((*d)->kind)));
    w_name = dam__max_int(w_name, (int)strlen((*d)->name));
  }
  for (const dam_desc_header *const *d = m->descs; *d; d++) {
    fprintf(out, "  %-*s  %-*s  %s\n", w_kind, dam_kind_name((*d)->kind),
            w_name, (*d)->name, (*d)->summary ? (*d)->summary : "");
    dam__print_params(*d, out);
  }
}

static void dam__print_search_path(const dam_cli_opts *opts, FILE *out) {
  const char *env = getenv("DIFFAUTOML_PLUGIN_PATH");
  fprintf(out, "search path, in order:\n");
  if (opts->plugin_path && *opts->plugin_path)
    fprintf(out, "  --plugin-path           %s\n", opts->plugin_path);
  if (env && *env) fprintf(out, "  DIFFAUTOML_PLUGIN_PATH  %s\n", env);
  fprintf(out, "  installed               %s\n\n", DAM_PLUGIN_DIR);
}

int dam_cmd_plugins(const dam_cli_opts *opts, int argc, char **argv) {
  FILE *out = stdout;
  if (dam_cli_no_args(argc, argv))
    return DAM_EXIT_USAGE;
  dam_registry *reg = dam_registry_new();
  if (!reg) {
    fprintf(stderr, "diffautoml plugins: out of memory\n");
    return DAM_EXIT_RUNTIME;
  }
  int rc = dam_registry_discover(reg, opts->plugin_path);
  if (rc < 0) {
    fprintf(stderr, "diffautoml plugins: %s (%s)\n", dam_last_error(),
            dam_strerror(rc));
    dam_registry_free(reg);
    return DAM_EXIT_RUNTIME;
  }
  dam__print_search_path(opts, out);
  fprintf(out, "%u plugin file%s loaded, %u refused\n\n", reg->n_plugins,
          reg->n_plugins == 1 ? "" : "s", reg->n_refused);
  for (uint32_t i = 0; i < reg->n_plugins; i++) {
    dam__print_plugin(&reg->plugins[i], out);
    fputc('\n', out);
  }
  fprintf(out, "refused:%s\n", reg->n_refused ? "" : " none");
  for (uint32_t i = 0; i < reg->n_refused; i++)
    fprintf(out, "  %s: %s\n", reg->refused[i].path, reg->refused[i].reason);
  dam_registry_free(reg);
  return DAM_EXIT_OK;
}
