/*
 * Structural validation of a parsed config: every setting must be a key
 * or section of the schema (else "unknown key" with a did-you-mean) and
 * have the key's type; lists and plugin parameter groups (op_params) are
 * checked inside.  Ranges, enums and rules between keys come later, after
 * the overrides (config.c).
 */
#include "config_internal.h"

#include <stdio.h>
#include <string.h>

static bool dam__is_int(const config_setting_t *s) {
  return s->type == CONFIG_TYPE_INT || s->type == CONFIG_TYPE_INT64;
}

static bool dam__is_number(const config_setting_t *s) {
  return dam__is_int(s) || s->type == CONFIG_TYPE_FLOAT;
}

/* Arrays and lists both hold sequences. */
static bool dam__is_seq(const config_setting_t *s) {
  return s->type == CONFIG_TYPE_ARRAY || s->type == CONFIG_TYPE_LIST;
}

static int dam__type_error(dam__cfg_ctx *ctx, const config_setting_t *s,
                           const char *path, const char *expected) {
  return dam__cfg_fail(ctx->cfg, dam__cfg_loc(ctx, s),
                       "%s: expected %s, got %s", path, expected,
                       dam__lc_type_name(s->type));
}

/* Each element of a sequence must pass `ok`. */
static int dam__check_elems(dam__cfg_ctx *ctx, const config_setting_t *s,
                            const char *path,
                            bool (*ok)(const config_setting_t *),
                            const char *expected) {
  for (int i = 0; i < config_setting_length(s); i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    char at[160];
    snprintf(at, sizeof at, "%s[%d]", path, i);
    if (!ok(e))
      return dam__type_error(ctx, e, at, expected);
  }
  return 0;
}

static bool dam__is_string(const config_setting_t *s) {
  return s->type == CONFIG_TYPE_STRING;
}

static bool dam__is_param_value(const config_setting_t *s) {
  return dam__is_number(s) || s->type == CONFIG_TYPE_BOOL;
}

static int dam__check_params(dam__cfg_ctx *ctx, const config_setting_t *s,
                             const char *path) {
  for (int i = 0; i < config_setting_length(s); i++) {
    const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
    char at[160];
    snprintf(at, sizeof at, "%s.%s", path, g->name);
    if (g->type != CONFIG_TYPE_GROUP)
      return dam__type_error(ctx, g, at, "a group of plugin parameters");
    for (int j = 0; j < config_setting_length(g); j++) {
      const config_setting_t *p = config_setting_get_elem(g, (unsigned)j);
      char param[224];
      snprintf(param, sizeof param, "%s.%s", at, p->name);
      if (!dam__is_param_value(p))
        return dam__type_error(ctx, p, param, "a number or a bool");
    }
  }
  return 0;
}

int dam__config_check_setting(dam__cfg_ctx *ctx, const dam__cfg_key *key,
                              const config_setting_t *s, const char *path) {
  const char *expected = dam__cfg_type_name(key->type);
  switch (key->type) {
  case DAM__CFG_BOOL:
    return s->type == CONFIG_TYPE_BOOL
               ? 0
               : dam__type_error(ctx, s, path, expected);
  case DAM__CFG_INT:
    return dam__is_int(s) ? 0 : dam__type_error(ctx, s, path, expected);
  case DAM__CFG_FLOAT:
    return dam__is_number(s) ? 0 : dam__type_error(ctx, s, path, expected);
  case DAM__CFG_STRING:
  case DAM__CFG_ENUM:
    return dam__is_string(s) ? 0 : dam__type_error(ctx, s, path, expected);
  case DAM__CFG_STRLIST:
    if (!dam__is_seq(s))
      return dam__type_error(ctx, s, path, expected);
    return dam__check_elems(ctx, s, path, dam__is_string, "a string");
  case DAM__CFG_FLOATLIST:
    if (!dam__is_seq(s))
      return dam__type_error(ctx, s, path, expected);
    return dam__check_elems(ctx, s, path, dam__is_number, "a float");
  case DAM__CFG_PARAMS:
    if (s->type != CONFIG_TYPE_GROUP)
      return dam__type_error(ctx, s, path, expected);
    return dam__check_params(ctx, s, path);
  }
  return 0;
}

static int dam__walk(dam__cfg_ctx *ctx, const config_setting_t *group,
                     const char *prefix) {
  for (int i = 0; i < config_setting_length(group); i++) {
    const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
    char path[160];
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", s->name);
    const dam__cfg_key *key = dam__config_key(path, NULL);
    int rc;
    if (key)
      rc = dam__config_check_setting(ctx, key, s, path);
    else if (dam__config_is_section(path))
      rc = s->type == CONFIG_TYPE_GROUP
               ? dam__walk(ctx, s, path)
               : dam__type_error(ctx, s, path, "a group (it is a section)");
    else {
      char hint[160];
      dam__config_suggest_key(path, hint, sizeof hint);
      rc = dam__cfg_fail(ctx->cfg, dam__cfg_loc(ctx, s), "unknown key '%s'%s",
                         path, hint);
    }
    if (rc)
      return rc;
  }
  return 0;
}

int dam__config_check_tree(dam__cfg_ctx *ctx) {
  return dam__walk(ctx, config_root_setting(&ctx->lc), "");
}
