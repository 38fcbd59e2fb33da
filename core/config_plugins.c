/*
 * The config against the loaded plugins: every plugin name it uses must be
 * loaded (of the right kind, from a module plugins.load allows), and every
 * op_params / da.op_params / hpo.params value must be a declared parameter
 * within its declared range (dam_params_set); hpo modules must own
 * distinct hyper-parameters and start from their parameters.  Messages
 * name the config's FILE:LINE and offer a did-you-mean among the loaded
 * names.  Also fills a plugin's params block from the config for the
 * engine.
 */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* " (did you mean 'x'?)", or the loaded names of that kind, into buf. */
static void dam__name_hint(const dam_registry *reg, uint32_t kind,
                           const char *name, char *buf, size_t n) {
  dam__suggest sg;
  size_t len = 0;
  dam__suggest_init(&sg, name);
  for (uint32_t i = 0; i < reg->n_plugins; i++) {
    const dam_module *m = reg->plugins[i].module;
    if (kind == DAM__NAMES_MODULE) {
      dam__suggest_add(&sg, m->name);
      continue;
    }
    for (const dam_desc_header *const *d = m->descs; *d; d++)
      if ((*d)->kind == kind)
        dam__suggest_add(&sg, (*d)->name);
  }
  if (dam__suggest_best(&sg)) {
    snprintf(buf, n, " (did you mean '%s'?)", dam__suggest_best(&sg));
    return;
  }
  buf[0] = '\0';
  for (uint32_t i = 0; i < reg->n_plugins && len < n; i++) {
    const dam_module *m = reg->plugins[i].module;
    if (kind == DAM__NAMES_MODULE)
      len += snprintf(buf + len, n - len, "%s%s",
                      len ? ", " : " (found: ", m->name);
    for (const dam_desc_header *const *d = m->descs;
         kind != DAM__NAMES_MODULE && *d && len < n; d++)
      if ((*d)->kind == kind)
        len += snprintf(buf + len, n - len, "%s%s",
                        len ? ", " : " (loaded: ", (*d)->name);
  }
  if (len && len < n)
    snprintf(buf + len, n - len, ")");
  else if (!len)
    snprintf(buf, n, " (none is loaded)");
}

static bool dam__listed(const dam_strlist *l, const char *name) {
  for (uint32_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], name) == 0)
      return true;
  return false;
}

/* The descriptor `name` of `kind`, or DAM_ECONFIG at loc. */
static int dam__find(const dam_config *cfg, const dam_registry *reg,
                     uint32_t kind, const char *name, dam_config_loc loc,
                     const char *key, const dam_desc_header **out) {
  const dam_plugin *owner = NULL;
  char hint[256];
  *out = dam_registry_find(reg, kind, name, &owner);
  if (!*out) {
    dam__name_hint(reg, kind, name, hint, sizeof hint);
    return dam__cfg_fail(cfg, loc, "%s: no %s plugin named '%s'%s", key,
                         dam_kind_name(kind), name, hint);
  }
  if (cfg->plugins.load.n &&
      !dam__listed(&cfg->plugins.load, owner->module->name))
    return dam__cfg_fail(cfg, loc,
                         "%s: %s '%s' comes from plugin '%s' (%s), which "
                         "plugins.load does not list",
                         key, dam_kind_name(kind), name, owner->module->name,
                         owner->path);
  return 0;
}

static dam_config_loc dam__key_loc(const dam_config *cfg, const char *key) {
  size_t i = 0;
  dam__config_key(key, &i);
  return cfg->origin->locs[i];
}

static int dam__check_list(const dam_config *cfg, const dam_registry *reg,
                           uint32_t kind, const dam_strlist *l,
                           const char *key) {
  const dam_desc_header *d;
  for (uint32_t i = 0; i < l->n; i++) {
    int rc =
        dam__find(cfg, reg, kind, l->v[i], dam__key_loc(cfg, key), key, &d);
    if (rc)
      return rc;
  }
  return 0;
}

static const dam_param_desc *dam__declared(const dam_desc_header *d,
                                           const char *name) {
  for (uint32_t i = 0; i < d->n_params; i++)
    if (strcmp(d->params[i].name, name) == 0)
      return &d->params[i];
  return NULL;
}

/* Set every configured parameter of one plugin group into block. */
static int dam__set_params(const dam_config *cfg, const char *key,
                           const dam_config_plugin_params *pp,
                           const dam_desc_header *d, void *block) {
  for (uint32_t j = 0; j < pp->n; j++) {
    const dam_config_param *p = &pp->params[j];
    if (!dam__declared(d, p->name)) {
      char hint[256] = "";
      size_t len = 0;
      dam__suggest sg;
      dam__suggest_init(&sg, p->name);
      for (uint32_t i = 0; i < d->n_params; i++)
        dam__suggest_add(&sg, d->params[i].name);
      if (dam__suggest_best(&sg))
        snprintf(hint, sizeof hint, " (did you mean '%s'?)",
                 dam__suggest_best(&sg));
      else
        for (uint32_t i = 0; i < d->n_params && len < sizeof hint; i++)
          len += snprintf(hint + len, sizeof hint - len, "%s%s%s",
                          i ? ", " : " (it has: ", d->params[i].name,
                          i + 1 == d->n_params ? ")" : "");
      return dam__cfg_fail(cfg, p->loc,
                           "%s.%s.%s: %s '%s' has no parameter "
                           "'%s'%s",
                           key, pp->plugin, p->name, dam_kind_name(d->kind),
                           d->name, p->name,
                           d->n_params ? hint : " (it has none)");
    }
    if (dam_params_set(d, block, p->name, p->value) != 0)
      return dam__cfg_fail(cfg, p->loc, "%s.%s.%s: %s", key, pp->plugin,
                           p->name, dam_last_error());
  }
  return 0;
}

static dam_config_plugin_params *dam__group(dam_config_params *ps,
                                            const char *plugin) {
  for (uint32_t i = 0; i < ps->n; i++)
    if (strcmp(ps->v[i].plugin, plugin) == 0)
      return &ps->v[i];
  return NULL;
}

/* Rewrite the group of d (adding it when absent) to list every declared
 * parameter in declaration order, with the declared type. */
static int dam__complete(dam_config_params *ps, const dam_desc_header *d) {
  dam_config_plugin_params *pp = dam__group(ps, d->name);
  if (!pp) {
    dam_config_plugin_params *grown =
        realloc(ps->v, (ps->n + 1) * sizeof *grown);
    if (!grown)
      return dam_fail(DAM_ENOMEM, "out of memory");
    ps->v = grown;
    pp = memset(&ps->v[ps->n++], 0, sizeof *pp);
    if (!(pp->plugin = strdup(d->name)))
      return dam_fail(DAM_ENOMEM, "out of memory");
  }
  dam_config_param *all = calloc(d->n_params ? d->n_params : 1, sizeof *all);
  if (!all)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < d->n_params; i++) {
    const dam_param_desc *decl = &d->params[i];
    dam_config_param *given = NULL;
    for (uint32_t j = 0; j < pp->n && !given; j++)
      if (pp->params[j].name && strcmp(pp->params[j].name, decl->name) == 0)
        given = &pp->params[j];
    if (given) {
      all[i] = *given;
      given->name = NULL; /* moved */
    } else {
      all[i].value = decl->def;
      all[i].name = strdup(decl->name);
    }
    all[i].type = decl->type;
  }
  for (uint32_t j = 0; j < pp->n; j++)
    free(pp->params[j].name);
  free(pp->params);
  pp->params = all;
  pp->n = d->n_params;
  for (uint32_t i = 0; i < d->n_params; i++)
    if (!all[i].name)
      return dam_fail(DAM_ENOMEM, "out of memory");
  return 0;
}

/* Check one params section (op_params or da.op_params) and complete the
 * groups of the plugins `used` lists. */
static int dam__check_section(dam_config *cfg, const dam_registry *reg,
                              uint32_t kind, dam_config_params *ps,
                              const dam_strlist *used, const char *key) {
  const dam_desc_header *d;
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < ps->n; i++) {
    const dam_config_plugin_params *pp = &ps->v[i];
    rc = dam__find(cfg, reg, kind, pp->plugin, pp->loc, key, &d);
    void *block = rc ? NULL : calloc(1, d->params_size ? d->params_size : 1);
    if (rc == 0 && !block)
      rc = dam_fail(DAM_ENOMEM, "out of memory");
    if (rc == 0)
      rc = dam__set_params(cfg, key, pp, d, block);
    free(block);
  }
  for (uint32_t i = 0; rc == 0 && i < ps->n; i++)
    if ((d = dam_registry_find(reg, kind, ps->v[i].plugin, NULL)))
      rc = dam__complete(ps, d);
  for (uint32_t i = 0; rc == 0 && i < used->n; i++)
    if ((d = dam_registry_find(reg, kind, used->v[i], NULL)) && d->n_params)
      rc = dam__complete(ps, d);
  return rc;
}

/* A float (or bool) parameter `name` of a completed group, if declared
 * with that type: its value into *v; *loc becomes where it was given, if
 * it was. */
static bool dam__hpo_param(const dam_config_plugin_params *pp,
                           const dam_desc_header *d, const char *name,
                           uint32_t type, double *v, dam_config_loc *loc) {
  const dam_param_desc *decl = dam__declared(d, name);
  if (!pp || !decl || decl->type != type)
    return false;
  for (uint32_t i = 0; i < pp->n; i++)
    if (strcmp(pp->params[i].name, name) == 0) {
      *v = pp->params[i].value;
      if (pp->params[i].loc.file)
        *loc = pp->params[i].loc;
      return true;
    }
  return false;
}

/* hpo.modules[i]: a hyper-parameter no earlier module owns, and a params
 * block its init takes (min < max, init -1 or inside, min > 0 in log space
 * checked here first, with FILE:LINE, for modules declaring those). */
static int dam__check_hpo(dam_config *cfg, const dam_registry *reg,
                          uint32_t i) {
  static const char *const owned[] = {"?", "the learning rate (eta)",
                                      "the weight decay (lambda)",
                                      "the momentum (mu)"};
  const dam_strlist *l = &cfg->hpo.modules;
  const char *name = l->v[i];
  dam_config_loc at = dam__key_loc(cfg, "hpo.modules");
  const dam_hpo_desc *d =
      (const dam_hpo_desc *)dam_registry_find(reg, DAM_KIND_HPO, name, NULL);
  for (uint32_t j = 0; j < i; j++) {
    const dam_hpo_desc *e = (const dam_hpo_desc *)dam_registry_find(
        reg, DAM_KIND_HPO, l->v[j], NULL);
    if (e->target == d->target)
      return dam__cfg_fail(
          cfg, at, "hpo.modules: '%s' and '%s' both tune %s", l->v[j], name,
          d->target <= DAM_HYPER_MOMENTUM ? owned[d->target] : owned[0]);
  }
  const dam_config_plugin_params *pp = dam__group(&cfg->hpo.params, name);
  if (pp && pp->loc.file)
    at = pp->loc;
  dam_config_loc range_at = at, init_at, log_at;
  double init = -1, lo = 0, hi = 0, log_space = 0;
  bool ranged =
      dam__hpo_param(pp, &d->hdr, "max", DAM_PARAM_FLOAT, &hi, &range_at) &&
      dam__hpo_param(pp, &d->hdr, "min", DAM_PARAM_FLOAT, &lo, &range_at);
  init_at = log_at = range_at;
  bool has_init =
      dam__hpo_param(pp, &d->hdr, "init", DAM_PARAM_FLOAT, &init, &init_at);
  dam__hpo_param(pp, &d->hdr, "log_space", DAM_PARAM_BOOL, &log_space, &log_at);
  if (ranged && !(lo < hi))
    return dam__cfg_fail(cfg, range_at,
                         "hpo.params.%s: min = %g must be below max = %g", name,
                         lo, hi);
  if (ranged && log_space != 0 && !(lo > 0))
    return dam__cfg_fail(cfg, log_at,
                         "hpo.params.%s: log_space needs min > 0, got min = %g",
                         name, lo);
  if (ranged && has_init && init != -1 && !(init >= lo && init <= hi))
    return dam__cfg_fail(cfg, init_at,
                         "hpo.params.%s: init = %g is outside [min, max] = "
                         "[%g, %g] (-1 starts in the middle)",
                         name, init, lo, hi);
  void *block = calloc(1, d->hdr.params_size ? d->hdr.params_size : 1);
  dam_hpo_state st;
  if (!block)
    return dam_fail(DAM_ENOMEM, "out of memory");
  int rc = dam_config_fill_params(cfg, &d->hdr, block);
  if (rc == 0 && d->init(block, &st) != 0)
    rc = dam__cfg_fail(cfg, at,
                       "hpo.params.%s: hpo '%s' refuses these parameters (its "
                       "init failed; its log line says why)",
                       name, name);
  free(block);
  return rc;
}

int dam_config_check_plugins(dam_config *cfg, const dam_registry *reg) {
  const dam_desc_header *d;
  int rc = 0;
  for (uint32_t i = 0; i < cfg->plugins.load.n && rc == 0; i++) {
    bool found = false;
    for (uint32_t j = 0; j < reg->n_plugins && !found; j++)
      found = strcmp(reg->plugins[j].module->name, cfg->plugins.load.v[i]) == 0;
    char hint[256];
    dam__name_hint(reg, DAM__NAMES_MODULE, cfg->plugins.load.v[i], hint,
                   sizeof hint);
    if (!found)
      rc = dam__cfg_fail(cfg, dam__key_loc(cfg, "plugins.load"),
                         "plugins.load: no plugin module named '%s' was "
                         "found%s",
                         cfg->plugins.load.v[i], hint);
  }
  if (rc == 0)
    rc = dam__check_list(cfg, reg, DAM_KIND_OP, &cfg->search_space.ops,
                         "search_space.ops");
  if (rc == 0)
    rc = dam__check_list(cfg, reg, DAM_KIND_AUGMENT, &cfg->da.ops, "da.ops");
  if (rc == 0)
    rc = dam__check_list(cfg, reg, DAM_KIND_HPO, &cfg->hpo.modules,
                         "hpo.modules");
  if (rc == 0 && cfg->nas.method == DAM_CONFIG_NAS_DARTS &&
      cfg->nas.darts.include_none)
    rc = dam__find(cfg, reg, DAM_KIND_OP, "none",
                   dam__key_loc(cfg, "nas.darts.include_none"),
                   "nas.darts.include_none", &d);
  if (rc == 0)
    rc = dam__check_section(cfg, reg, DAM_KIND_OP, &cfg->search_space.op_params,
                            &cfg->search_space.ops, "search_space.op_params");
  if (rc == 0)
    rc = dam__check_section(cfg, reg, DAM_KIND_AUGMENT, &cfg->da.op_params,
                            &cfg->da.ops, "da.op_params");
  if (rc == 0)
    rc = dam__check_section(cfg, reg, DAM_KIND_HPO, &cfg->hpo.params,
                            &cfg->hpo.modules, "hpo.params");
  for (uint32_t i = 0; rc == 0 && i < cfg->hpo.modules.n; i++)
    rc = dam__check_hpo(cfg, reg, i);
  return rc;
}

int dam_config_fill_params(const dam_config *cfg, const dam_desc_header *desc,
                           void *block) {
  const dam_config_params *ps =
      desc->kind == DAM_KIND_OP        ? &cfg->search_space.op_params
      : desc->kind == DAM_KIND_AUGMENT ? &cfg->da.op_params
      : desc->kind == DAM_KIND_HPO     ? &cfg->hpo.params
                                       : NULL;
  const char *key = desc->kind == DAM_KIND_OP        ? "search_space.op_params"
                    : desc->kind == DAM_KIND_AUGMENT ? "da.op_params"
                                                     : "hpo.params";
  dam_params_defaults(desc, block);
  for (uint32_t i = 0; ps && i < ps->n; i++)
    if (strcmp(ps->v[i].plugin, desc->name) == 0)
      return dam__set_params(cfg, key, &ps->v[i], desc, block);
  return 0;
}
