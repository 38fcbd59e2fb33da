/*
 * `-s key.path=value` overrides, and the reading of values written the
 * same way (the schema's defaults use this syntax too).  The value is
 * typed by the schema: strings and enum values need no quotes, string
 * lists are [a, b] (items quoted or not), everything else is libconfig
 * syntax.  An override replaces the setting in the parsed tree before
 * ranges are checked; its location in messages is "-s".
 */
#include "config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

const char dam__override_file[] = "-s";

static char *dam__trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

static int dam__unreadable(const dam_config *cfg, dam_config_loc loc,
                           const char *path, const char *text,
                           const char *expected) {
  return dam__cfg_fail(cfg, loc, "%s: cannot read '%s' as %s", path, text,
                       expected);
}

/* "[a, "b c", d]" into a string array setting. */
static int dam__string_list(const dam_config *cfg, dam_config_loc loc,
                            const char *path, const char *text,
                            config_setting_t *arr) {
  size_t n = strlen(text);
  const char *expected = "a list of strings [a, b, ...]";
  if (n < 2 || !((text[0] == '[' && text[n - 1] == ']') ||
                 (text[0] == '(' && text[n - 1] == ')')))
    return dam__unreadable(cfg, loc, path, text, expected);
  char *item = malloc(n);
  if (!item)
    return dam_fail(DAM_ENOMEM, "out of memory");
  const char *p = text + 1, *end = text + n - 1;
  int rc = 0;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  while (rc == 0 && p < end) {
    size_t len = 0;
    if (*p == '"') {
      for (p++; p < end && *p != '"'; p++)
        item[len++] = *p == '\\' && p + 1 < end ? *++p : *p;
      if (p++ == end)
        rc = dam__unreadable(cfg, loc, path, text, expected);
    } else {
      while (p < end && *p != ',')
        item[len++] = *p++;
      while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
        len--;
    }
    item[len] = '\0';
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    if (rc == 0 && (len == 0 || (p < end && *p != ',')))
      rc = dam__unreadable(cfg, loc, path, text, expected);
    if (rc == 0 && !config_setting_set_string_elem(arr, -1, item))
      rc = dam_fail(DAM_ENOMEM, "out of memory");
    if (p < end)
      p++; /* the comma */
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
  }
  free(item);
  return rc;
}

/* A decimal or 0x integer as INT (or INT64 past 32 bits): libconfig 1.5
 * silently wraps integers that need 64 bits but lack the L suffix.
 * Returns false when text is not a plain integer. */
static bool dam__plain_int(const char *text, config_setting_t *root,
                           config_setting_t **out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 0);
  if (end == text || *end != '\0' || errno)
    return false;
  bool wide = v < INT32_MIN || v > INT32_MAX;
  *out =
      config_setting_add(root, "v", wide ? CONFIG_TYPE_INT64 : CONFIG_TYPE_INT);
  if (*out)
    config_setting_set_int64(*out, v);
  return *out != NULL;
}

int dam__config_value(const dam_config *cfg, dam_config_loc loc,
                      const dam__cfg_key *key, const char *path,
                      const char *text, config_t *tmp, config_setting_t **out) {
  config_setting_t *root = config_root_setting(tmp);
  dam__cfg_type type = key ? key->type : DAM__CFG_PARAMS;
  const char *expected = key ? dam__cfg_type_name(type) : "a number or bool";
  *out = NULL;
  if (strchr(text, '\n'))
    return dam__unreadable(cfg, loc, path, text, expected);
  if (key && (type == DAM__CFG_STRING || type == DAM__CFG_ENUM) &&
      text[0] != '"') {
    *out = config_setting_add(root, "v", CONFIG_TYPE_STRING);
    if (!*out || !config_setting_set_string(*out, text))
      return dam_fail(DAM_ENOMEM, "out of memory");
    return 0;
  }
  if (key && type == DAM__CFG_STRLIST) {
    *out = config_setting_add(root, "v", CONFIG_TYPE_ARRAY);
    if (!*out)
      return dam_fail(DAM_ENOMEM, "out of memory");
    return dam__string_list(cfg, loc, path, text, *out);
  }
  if (key && type == DAM__CFG_INT && dam__plain_int(text, root, out))
    return 0;

  size_t n = strlen(text);
  char *src = malloc(n + 8);
  if (!src)
    return dam_fail(DAM_ENOMEM, "out of memory");
  snprintf(src, n + 8, "v = %s;", text);
  /* [0.5, 1] mixes floats and ints: read it as a list, which may. */
  if (type == DAM__CFG_FLOATLIST && n >= 2 && text[0] == '[' &&
      text[n - 1] == ']') {
    src[4] = '(';
    src[4 + n - 1] = ')';
  }
  int ok = config_read_string(tmp, src);
  free(src);
  if (ok)
    *out = config_lookup(tmp, "v");
  if (!*out)
    return dam__unreadable(cfg, loc, path, text, expected);
  return 0;
}

/* Deep copy of src as a new member `name` of parent (NULL in a list). */
static int dam__copy(config_setting_t *parent, const char *name,
                     const config_setting_t *src) {
  config_setting_t *dst = config_setting_add(parent, name, src->type);
  int ok = dst != NULL;
  switch (ok ? src->type : CONFIG_TYPE_NONE) {
  case CONFIG_TYPE_INT:
  case CONFIG_TYPE_INT64:
    ok = config_setting_set_int64(dst, config_setting_get_int64(src));
    break;
  case CONFIG_TYPE_FLOAT:
    ok = config_setting_set_float(dst, config_setting_get_float(src));
    break;
  case CONFIG_TYPE_BOOL:
    ok = config_setting_set_bool(dst, config_setting_get_bool(src));
    break;
  case CONFIG_TYPE_STRING:
    ok = config_setting_set_string(dst, config_setting_get_string(src));
    break;
  case CONFIG_TYPE_GROUP:
  case CONFIG_TYPE_LIST:
  case CONFIG_TYPE_ARRAY:
    for (int i = 0; ok && i < config_setting_length(src); i++) {
      const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
      ok = dam__copy(dst, e->name, e) == 0;
    }
    break;
  }
  return ok ? 0 : dam_fail(DAM_ENOMEM, "out of memory");
}

/* Put a copy of v at `path` in the tree, creating groups on the way and
 * replacing what was there. */
static int dam__graft(config_t *lc, const char *path,
                      const config_setting_t *v) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  config_setting_t *group = config_root_setting(lc);
  char *name = buf, *dot;
  while ((dot = strchr(name, '.'))) {
    *dot = '\0';
    config_setting_t *next = config_setting_get_member(group, name);
    if (!next)
      next = config_setting_add(group, name, CONFIG_TYPE_GROUP);
    if (!next || next->type != CONFIG_TYPE_GROUP)
      return dam_fail(DAM_ENOMEM, "out of memory");
    group = next;
    name = dot + 1;
  }
  if (config_setting_get_member(group, name))
    config_setting_remove(group, name);
  return dam__copy(group, name, v);
}

/* The op_params-like key that `path` reaches into as KEY.PLUGIN[.PARAM],
 * and how many components follow it; NULL if none. */
static const dam__cfg_key *dam__params_key(const char *path, int *depth) {
  for (size_t i = 0; i < dam__config_n_keys; i++) {
    const dam__cfg_key *k = &dam__config_keys[i];
    size_t n = strlen(k->path);
    if (k->type != DAM__CFG_PARAMS || strncmp(path, k->path, n) != 0 ||
        path[n] != '.' || !path[n + 1])
      continue;
    const char *rest = path + n + 1, *dot = strchr(rest, '.');
    *depth = dot ? 2 : 1;
    if (dot && (dot == rest || !dot[1] || strchr(dot + 1, '.')))
      return NULL;
    return k;
  }
  return NULL;
}

int dam__config_override(dam__cfg_ctx *ctx, const char *arg) {
  const dam_config_loc loc = {dam__override_file, 0};
  const char *eq = strchr(arg, '=');
  if (!eq)
    return dam__cfg_fail(ctx->cfg, loc, "expected key.path=value, got '%s'",
                         arg);
  char *copy = strdup(arg);
  if (!copy)
    return dam_fail(DAM_ENOMEM, "out of memory");
  copy[eq - arg] = '\0';
  char *path = dam__trim(copy), *text = dam__trim(copy + (eq - arg) + 1);
  const dam__cfg_key *key = dam__config_key(path, NULL), *params = NULL;
  int depth = 0, rc = 0;
  if (!key)
    params = dam__params_key(path, &depth);
  if (!key && !params) {
    char hint[160] = "";
    if (dam__config_is_section(path))
      snprintf(hint, sizeof hint, " ('%s' is a section: set its keys)", path);
    else
      dam__config_suggest_key(path, hint, sizeof hint);
    rc = dam__cfg_fail(ctx->cfg, loc, "unknown key '%s'%s", path, hint);
    free(copy);
    return rc;
  }

  config_t tmp;
  config_setting_t *v;
  config_init(&tmp);
  ctx->overriding = true;
  rc = dam__config_value(ctx->cfg, loc, params && depth == 2 ? NULL : key, path,
                         text, &tmp, &v);
  if (rc == 0 && key)
    rc = dam__config_check_setting(ctx, key, v, path);
  else if (rc == 0 && depth == 1) {
    /* a whole plugin group: check it as one member of the params key */
    config_setting_t *wrap =
        config_setting_add(config_root_setting(&tmp), "w", CONFIG_TYPE_GROUP);
    const char *plugin = path + strlen(params->path) + 1;
    rc = !wrap ? dam_fail(DAM_ENOMEM, "out of memory")
               : dam__copy(wrap, plugin, v);
    if (rc == 0)
      rc = dam__config_check_setting(ctx, params, wrap, params->path);
  } else if (rc == 0 && v->type != CONFIG_TYPE_BOOL &&
             v->type != CONFIG_TYPE_INT && v->type != CONFIG_TYPE_INT64 &&
             v->type != CONFIG_TYPE_FLOAT)
    rc = dam__cfg_fail(ctx->cfg, loc, "%s: expected a number or a bool, got %s",
                       path, dam__lc_type_name(v->type));
  ctx->overriding = false;
  if (rc == 0)
    rc = dam__graft(&ctx->lc, path, v);
  config_destroy(&tmp);
  free(copy);
  return rc;
}
