/*
 * Loading a config: expand @include, parse with libconfig, check the tree
 * against the schema, apply -s overrides, then fill the typed dam_config
 * from the tree and the schema defaults, checking ranges, enum values and
 * the rules between keys.  Every message starts with the real FILE:LINE.
 */
#include "config_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define FIELD(base, key, type) ((type *)((char *)(base) + (key)->offset))

dam_config_loc dam__cfg_loc(const dam__cfg_ctx *ctx,
                            const config_setting_t *s) {
  dam_config_loc loc = {dam__override_file, 0};
  if (ctx->overriding || s->line == 0 || ctx->text.n_lines == 0)
    return loc;
  uint32_t i =
      s->line - 1 < ctx->text.n_lines ? s->line - 1 : ctx->text.n_lines - 1;
  loc.file = ctx->cfg->origin->files[ctx->text.file_of[i]];
  loc.line = ctx->text.line_of[i];
  return loc;
}

static void dam__loc_format(const dam_config *cfg, dam_config_loc loc,
                            char *buf, size_t n) {
  if (loc.file && loc.line)
    snprintf(buf, n, "%s:%u", loc.file, loc.line);
  else if (loc.file)
    snprintf(buf, n, "%s", loc.file);
  else
    snprintf(buf, n, "%s", cfg->source ? cfg->source : "defaults");
}

int dam__cfg_fail(const dam_config *cfg, dam_config_loc loc, const char *fmt,
                  ...) {
  char where[256], msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dam__loc_format(cfg, loc, where, sizeof where);
  return dam_fail(DAM_ECONFIG, "%s: %s", where, msg);
}

/* ---- filling the typed config ----------------------------------------- */

static double dam__number(const config_setting_t *s) {
  return s->type == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                      : (double)config_setting_get_int64(s);
}

static int dam__strlist(const dam_config *cfg, const dam__cfg_key *k,
                        const config_setting_t *s, dam_config_loc loc,
                        dam_strlist *out) {
  uint32_t n = (uint32_t)config_setting_length(s);
  if (n && !(out->v = calloc(n, sizeof *out->v)))
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    const char *v = config_setting_get_string_elem(s, (int)i);
    if (!(out->v[out->n++] = strdup(v)))
      return dam_fail(DAM_ENOMEM, "out of memory");
    if (k->names && !*v)
      return dam__cfg_fail(cfg, loc, "%s[%u]: empty name", k->path, i);
    for (uint32_t j = 0; k->names && j < i; j++)
      if (strcmp(out->v[j], v) == 0)
        return dam__cfg_fail(cfg, loc, "%s: '%s' is listed twice", k->path, v);
  }
  return 0;
}

static int dam__floatlist(const dam_config *cfg, const dam__cfg_key *k,
                          const config_setting_t *s, dam_config_loc loc,
                          dam_floatlist *out) {
  uint32_t n = (uint32_t)config_setting_length(s);
  if (n && !(out->v = calloc(n, sizeof *out->v)))
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (out->n = 0; out->n < n; out->n++) {
    out->v[out->n] = dam__number(config_setting_get_elem(s, out->n));
    if (!isfinite(out->v[out->n]))
      return dam__cfg_fail(cfg, loc, "%s[%u] is not a finite number", k->path,
                           out->n);
  }
  return 0;
}

static int dam__params(dam__cfg_ctx *ctx, const config_setting_t *s,
                       dam_config_params *out) {
  uint32_t n = (uint32_t)config_setting_length(s);
  if (n && !(out->v = calloc(n, sizeof *out->v)))
    return dam_fail(DAM_ENOMEM, "out of memory");
  while (out->n < n) {
    const config_setting_t *g = config_setting_get_elem(s, out->n);
    dam_config_plugin_params *pp = &out->v[out->n++];
    uint32_t np = (uint32_t)config_setting_length(g);
    pp->loc = dam__cfg_loc(ctx, g);
    if (!(pp->plugin = strdup(g->name)) ||
        (np && !(pp->params = calloc(np, sizeof *pp->params))))
      return dam_fail(DAM_ENOMEM, "out of memory");
    while (pp->n < np) {
      const config_setting_t *p = config_setting_get_elem(g, pp->n);
      dam_config_param *param = &pp->params[pp->n++];
      param->loc = dam__cfg_loc(ctx, p);
      param->type = p->type == CONFIG_TYPE_BOOL    ? DAM_PARAM_BOOL
                    : p->type == CONFIG_TYPE_FLOAT ? DAM_PARAM_FLOAT
                                                   : DAM_PARAM_INT;
      param->value = p->type == CONFIG_TYPE_BOOL ? config_setting_get_bool(p)
                                                 : dam__number(p);
      if (!(param->name = strdup(p->name)))
        return dam_fail(DAM_ENOMEM, "out of memory");
    }
  }
  return 0;
}

/* The setting of a key absent from the tree: its default, read into tmp. */
static int dam__default(dam__cfg_ctx *ctx, const dam__cfg_key *k, config_t *tmp,
                        config_setting_t **out) {
  const dam_config_loc none = {NULL, 0};
  return dam__config_value(ctx->cfg, none, k, k->path, k->def, tmp, out);
}

static int dam__range(const dam__cfg_ctx *ctx, const dam__cfg_key *k,
                      const char *path, dam_config_loc loc, double v) {
  if (isfinite(v) && v >= k->min && v <= k->max)
    return 0;
  const char *fmt = k->type == DAM__CFG_INT ? "%.0f" : "%g";
  char value[40], lo[40], hi[40];
  snprintf(value, sizeof value, fmt, v);
  snprintf(lo, sizeof lo, fmt, k->min);
  snprintf(hi, sizeof hi, fmt, k->max);
  if (!isfinite(k->min))
    return dam__cfg_fail(ctx->cfg, loc, "%s = %s is not a finite number", path,
                         value);
  return dam__cfg_fail(ctx->cfg, loc,
                       "%s = %s is out of range [%s, %s] (default %s)", path,
                       value, lo, hi, k->def);
}

static int dam__enum(const dam__cfg_ctx *ctx, const dam__cfg_key *k,
                     const char *path, dam_config_loc loc, const char *v,
                     int *out) {
  if ((*out = dam__choice_index(k->choices, v)) >= 0)
    return 0;
  char allowed[256], hint[96] = "";
  size_t len = 0;
  dam__suggest sg;
  dam__suggest_init(&sg, v);
  for (int i = 0; k->choices[i] && len < sizeof allowed; i++) {
    len += snprintf(allowed + len, sizeof allowed - len, "%s\"%s\"",
                    i ? ", " : "", k->choices[i]);
    dam__suggest_add(&sg, k->choices[i]);
  }
  if (dam__suggest_best(&sg))
    snprintf(hint, sizeof hint, " (did you mean \"%s\"?)",
             dam__suggest_best(&sg));
  return dam__cfg_fail(ctx->cfg, loc, "%s = \"%s\" is not one of %s%s", path, v,
                       allowed, hint);
}

static int dam__fill_key(dam__cfg_ctx *ctx, const dam__cfg_key *k,
                         const char *path, const config_setting_t *s,
                         dam_config_loc loc, void *base) {
  const dam_config *cfg = ctx->cfg;
  int rc = 0;
  switch (k->type) {
  case DAM__CFG_BOOL:
    *FIELD(base, k, bool) = config_setting_get_bool(s);
    break;
  case DAM__CFG_INT:
    *FIELD(base, k, int64_t) = config_setting_get_int64(s);
    rc = dam__range(ctx, k, path, loc, (double)config_setting_get_int64(s));
    break;
  case DAM__CFG_FLOAT:
    *FIELD(base, k, double) = dam__number(s);
    rc = dam__range(ctx, k, path, loc, dam__number(s));
    break;
  case DAM__CFG_STRING:
    if (!(*FIELD(base, k, char *) = strdup(config_setting_get_string(s))))
      rc = dam_fail(DAM_ENOMEM, "out of memory");
    break;
  case DAM__CFG_ENUM:
    rc = dam__enum(ctx, k, path, loc, config_setting_get_string(s),
                   FIELD(base, k, int));
    break;
  case DAM__CFG_STRLIST:
    rc = dam__strlist(cfg, k, s, loc, FIELD(base, k, dam_strlist));
    break;
  case DAM__CFG_FLOATLIST:
    rc = dam__floatlist(cfg, k, s, loc, FIELD(base, k, dam_floatlist));
    break;
  case DAM__CFG_PARAMS:
    rc = dam__params(ctx, s, FIELD(base, k, dam_config_params));
    break;
  }
  return rc;
}

static int dam__fill(dam__cfg_ctx *ctx) {
  for (size_t i = 0; i < dam__config_n_keys; i++) {
    const dam__cfg_key *k = &dam__config_keys[i];
    const config_setting_t *s = config_lookup(&ctx->lc, k->path);
    config_t tmp;
    config_setting_t *def = NULL;
    config_init(&tmp);
    int rc = s ? 0 : dam__default(ctx, k, &tmp, &def);
    dam_config_loc loc = {NULL, 0};
    if (s)
      loc = dam__cfg_loc(ctx, s);
    ctx->cfg->origin->locs[i] = loc;
    if (rc == 0)
      rc = dam__fill_key(ctx, k, k->path, s ? s : def, loc, ctx->cfg);
    config_destroy(&tmp);
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- rules between keys ----------------------------------------------- */

static dam_config_loc dam__where(const dam_config *cfg, const char *key) {
  size_t i = 0;
  dam__config_key(key, &i);
  return cfg->origin->locs[i];
}

static int dam__check_rules(dam_config *cfg) {
  static const char *const cifar_files[] = {
      NULL, "data_batch_1.bin ... data_batch_5.bin and test_batch.bin",
      "train.bin and test.bin"};
  const char *dataset = cfg->data.dataset == DAM_CONFIG_FASHION_MNIST
                            ? "fashion_mnist"
                        : cfg->data.dataset == DAM_CONFIG_CIFAR10 ? "cifar10"
                                                                  : "cifar100";
  uint32_t channels = cfg->data.dataset == DAM_CONFIG_FASHION_MNIST ? 1 : 3;
  if (cfg->data.dataset != DAM_CONFIG_FASHION_MNIST && !*cfg->data.path)
    return dam__cfg_fail(cfg, dam__where(cfg, "data.dataset"),
                         "data.path must name the directory holding %s for "
                         "data.dataset = \"%s\"",
                         cifar_files[cfg->data.dataset], dataset);
  if (cfg->data.normalize == DAM_CONFIG_NORM_FIXED) {
    const dam_floatlist *l[2] = {&cfg->data.mean, &cfg->data.std};
    const char *names[2] = {"data.mean", "data.std"};
    for (int i = 0; i < 2; i++) {
      if (l[i]->n != channels)
        return dam__cfg_fail(cfg, dam__where(cfg, names[i]),
                             "%s has %u value%s; data.normalize = \"fixed\" "
                             "needs one per channel (%u for %s)",
                             names[i], l[i]->n, l[i]->n == 1 ? "" : "s",
                             channels, dataset);
      for (uint32_t c = 0; i == 1 && c < channels; c++)
        if (!(l[i]->v[c] > 0))
          return dam__cfg_fail(cfg, dam__where(cfg, names[i]),
                               "data.std[%u] = %g must be > 0", c, l[i]->v[c]);
    }
  }
  if (cfg->search_space.ops.n == 0)
    return dam__cfg_fail(cfg, dam__where(cfg, "search_space.ops"),
                         "search_space.ops: no candidate ops");
  if (cfg->da.enabled && cfg->da.ops.n == 0)
    return dam__cfg_fail(cfg, dam__where(cfg, "da.enabled"),
                         "da.enabled = true needs at least one op in da.ops");
  if (cfg->hpo.enabled && cfg->hpo.modules.n == 0)
    return dam__cfg_fail(cfg, dam__where(cfg, "hpo.enabled"),
                         "hpo.enabled = true needs at least one module in "
                         "hpo.modules");
  const char *needs_val = cfg->hpo.enabled ? "hpo.enabled = true"
                          : cfg->nas.method == DAM_CONFIG_NAS_DARTS
                              ? "nas.method = \"darts\""
                              : NULL;
  if (needs_val && cfg->data.val_ratio == 0)
    return dam__cfg_fail(cfg, dam__where(cfg, "data.val_ratio"),
                         "data.val_ratio = 0 leaves no validation images, "
                         "which %s needs",
                         needs_val);
  return 0;
}

/* runs/<file name without extension> for output_dir = "". */
static int dam__default_output_dir(dam_config *cfg) {
  if (*cfg->output_dir)
    return 0;
  const char *src = cfg->origin->n_files ? cfg->source : "default";
  const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
  const char *dot = strrchr(base, '.');
  int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
  char *dir = NULL;
  if (asprintf(&dir, "runs/%.*s", len, base) < 0)
    return dam_fail(DAM_ENOMEM, "out of memory");
  free(cfg->output_dir);
  cfg->output_dir = dir;
  return 0;
}

/* ---- public ------------------------------------------------------------ */

static int dam__parse(dam__cfg_ctx *ctx, const char *path) {
  dam__config_origin *origin = ctx->cfg->origin;
  int rc = dam__config_expand(path, &ctx->text);
  origin->files = ctx->text.files; /* locations point into them */
  origin->n_files = ctx->text.n_files;
  ctx->text.files = NULL;
  ctx->text.n_files = 0;
  if (rc)
    return rc;
  if (!config_read_string(&ctx->lc, ctx->text.text)) {
    config_setting_t fake = {.line = (unsigned)config_error_line(&ctx->lc)};
    const char *what = config_error_text(&ctx->lc);
    bool dup = strstr(what, "duplicate") && origin->n_files > 1;
    return dam__cfg_fail(ctx->cfg, dam__cfg_loc(ctx, &fake), "%s%s", what,
                         dup ? " (a setting may appear once across a file "
                               "and its @includes; use -s to change one)"
                             : "");
  }
  return dam__config_check_tree(ctx);
}

int dam_config_load(const char *path, const char *const *overrides,
                    uint32_t n_overrides, dam_config *cfg) {
  dam__cfg_ctx ctx = {.cfg = cfg};
  dam__config_origin *origin;
  int rc = DAM_ENOMEM;
  memset(cfg, 0, sizeof *cfg);
  config_init(&ctx.lc);
  if (!(origin = cfg->origin = calloc(1, sizeof *origin)) ||
      !(origin->locs = calloc(dam__config_n_keys, sizeof *origin->locs)) ||
      !(cfg->source = strdup(path ? path : "defaults")) ||
      (n_overrides &&
       !(origin->overrides = calloc(n_overrides, sizeof(char *)))))
    goto fail;
  for (; origin->n_overrides < n_overrides; origin->n_overrides++)
    if (!(origin->overrides[origin->n_overrides] =
              strdup(overrides[origin->n_overrides])))
      goto fail;

  if (path && (rc = dam__parse(&ctx, path)))
    goto fail;
  for (uint32_t i = 0; i < n_overrides; i++)
    if ((rc = dam__config_override(&ctx, overrides[i])))
      goto fail;
  if ((rc = dam__fill(&ctx)) || (rc = dam__check_rules(cfg)) ||
      (rc = dam__default_output_dir(cfg)))
    goto fail;
  config_destroy(&ctx.lc);
  dam__cfg_text_free(&ctx.text);
  return 0;

fail:
  if (rc == DAM_ENOMEM)
    dam_fail(DAM_ENOMEM, "out of memory");
  config_destroy(&ctx.lc);
  dam__cfg_text_free(&ctx.text);
  dam_config_free(cfg);
  return rc;
}

const char *dam_config_where(const dam_config *cfg, const char *key, char *buf,
                             size_t n) {
  size_t i;
  if (!dam__config_key(key, &i) || !cfg->origin) {
    snprintf(buf, n, "?");
    return buf;
  }
  dam_config_loc loc = cfg->origin->locs[i];
  if (!loc.file)
    snprintf(buf, n, "default");
  else
    dam__loc_format(cfg, loc, buf, n);
  return buf;
}

const char *const *dam_config_files(const dam_config *cfg, uint32_t *n) {
  *n = cfg->origin ? cfg->origin->n_files : 0;
  return cfg->origin ? (const char *const *)cfg->origin->files : NULL;
}

static void dam__free_strlist(dam_strlist *l) {
  for (uint32_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
}

static void dam__free_params(dam_config_params *p) {
  for (uint32_t i = 0; i < p->n; i++) {
    for (uint32_t j = 0; j < p->v[i].n; j++)
      free(p->v[i].params[j].name);
    free(p->v[i].params);
    free(p->v[i].plugin);
  }
  free(p->v);
}

void dam_config_free(dam_config *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < dam__config_n_keys; i++) {
    const dam__cfg_key *k = &dam__config_keys[i];
    if (k->type == DAM__CFG_STRING)
      free(*FIELD(cfg, k, char *));
    if (k->type == DAM__CFG_STRLIST)
      dam__free_strlist(FIELD(cfg, k, dam_strlist));
    if (k->type == DAM__CFG_FLOATLIST)
      free(FIELD(cfg, k, dam_floatlist)->v);
    if (k->type == DAM__CFG_PARAMS)
      dam__free_params(FIELD(cfg, k, dam_config_params));
  }
  dam__config_origin *o = cfg->origin;
  if (o) {
    for (uint32_t i = 0; i < o->n_files; i++)
      free(o->files[i]);
    for (uint32_t i = 0; i < o->n_overrides; i++)
      free(o->overrides[i]);
    free(o->files);
    free(o->overrides);
    free(o->locs);
    free(o);
  }
  free(cfg->source);
  memset(cfg, 0, sizeof *cfg);
}
