/*
 * Plugin loader and registry: dlopen()s plugin files, checks what their
 * entry returns against the ABI of sdk/diffautoml/plugin.h, and keeps the
 * accepted modules loaded until the registry is freed.  Every refusal is
 * one line recorded with its file; a bad file never stops the others.
 * Also the params-block helpers over the descriptors' parameter tables.
 */
#include "plugin.h"

#include "error.h"
#include "host_api.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef DAM_PLUGIN_DIR
#define DAM_PLUGIN_DIR "/usr/local/lib/diffautoml/plugins"
#endif

/* Bytes of a struct up to its last ABI 1.0 member: the least any 1.x
 * plugin hands over. */
#define DAM__SIZE_TO(type, member) \
  (offsetof(type, member) + sizeof(((type *)0)->member))

enum { DAM__WHY_MAX = 512, DAM__PROBE_MAX = 15, DAM__MAX_DESCS = 4096 };

static const struct dam__kind_info {
  uint32_t kind;
  const char *name;
  size_t size; /* what this host knows */
  size_t min;  /* what ABI 1.0 defines */
} dam__kinds[] = {
    {DAM_KIND_OP, "op", sizeof(dam_op_desc),
     DAM__SIZE_TO(dam_op_desc, backward)},
    {DAM_KIND_AUGMENT, "augment", sizeof(dam_augment_desc),
     DAM__SIZE_TO(dam_augment_desc, backward)},
    {DAM_KIND_HPO, "hpo", sizeof(dam_hpo_desc),
     DAM__SIZE_TO(dam_hpo_desc, update)},
};

static const struct dam__kind_info *dam__kind(uint32_t kind) {
  for (size_t i = 0; i < sizeof dam__kinds / sizeof dam__kinds[0]; i++)
    if (dam__kinds[i].kind == kind) return &dam__kinds[i];
  return NULL;
}

int dam_plugin_fail(const dam_desc_header *desc, const char *what, int err) {
  return dam_fail(err < 0 ? err : DAM_EPLUGIN, "%s %s: %s failed (%d)%s%s",
                  dam_kind_name(desc->kind), desc->name, what, err,
                  dam_last_error()[0] ? ": " : "", dam_last_error());
}

const char *dam_kind_name(uint32_t kind) {
  const struct dam__kind_info *k = dam__kind(kind);
  return k ? k->name : "?";
}

/* Write a refusal reason into why (DAM__WHY_MAX bytes); returns -1. */
__attribute__((format(printf, 2, 3)))
static int dam__why(char *why, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, DAM__WHY_MAX, fmt, ap);
  va_end(ap);
  return -1;
}

dam_registry *dam_registry_new(void) {
  return calloc(1, sizeof(dam_registry));
}

void dam_registry_free(dam_registry *reg) {
  if (!reg) return;
  for (uint32_t i = reg->n_plugins; i-- > 0;) {
    dlclose(reg->plugins[i].handle);
    free(reg->plugins[i].path);
  }
  for (uint32_t i = 0; i < reg->n_refused; i++) {
    free(reg->refused[i].path);
    free(reg->refused[i].reason);
  }
  free(reg->plugins);
  free(reg->refused);
  free(reg);
}

/* Record (path, why) and set the last error; DAM_EPLUGIN or DAM_ENOMEM. */
static int dam__refuse(dam_registry *reg, const char *path, char *why) {
  for (char *c = why; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  dam_refusal *grown =
      realloc(reg->refused, (reg->n_refused + 1) * sizeof *reg->refused);
  if (!grown) goto oom;
  reg->refused = grown;
  dam_refusal *r = &reg->refused[reg->n_refused];
  r->path = strdup(path);
  r->reason = strdup(why);
  if (!r->path || !r->reason) goto free_strings;
  reg->n_refused++;
  return dam_fail(DAM_EPLUGIN, "%s: %s", path, why);
free_strings:
  free(r->path);
  free(r->reason);
oom:
  return dam_fail(DAM_ENOMEM, "%s: out of memory recording a refusal", path);
}

static void *dam__open(const char *path, char *why) {
  char local[4096];
  const char *p = path;
  struct stat st;
  if (stat(path, &st) != 0) {
    dam__why(why, "cannot open: %s", strerror(errno));
    return NULL;
  }
  if (!strchr(path, '/')) { /* keep dlopen from searching library paths */
    snprintf(local, sizeof local, "./%s", path);
    p = local;
  }
  void *handle = dlopen(p, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *err = dlerror();
    size_t n = strlen(p);
    err = err ? err : "dlopen failed";
    if (strncmp(err, p, n) == 0 && strncmp(err + n, ": ", 2) == 0)
      err += n + 2; /* dlerror repeats the path */
    dam__why(why, "not a loadable shared object (%s)", err);
  }
  return handle;
}

static int dam__call_entry(void *handle, const dam_module **out, char *why) {
  dam_plugin_entry_fn entry;
  void *sym = dlsym(handle, DAM_PLUGIN_ENTRY_NAME);
  if (!sym) {
    for (unsigned v = 0; v <= DAM__PROBE_MAX; v++) {
      char name[32];
      snprintf(name, sizeof name, "dam_plugin_entry_v%u", v);
      if (v != DAM_ABI_MAJOR && dlsym(handle, name))
        return dam__why(why,
                        "exports %s: built for plugin ABI %u, this host "
                        "speaks ABI %d",
                        name, v, DAM_ABI_MAJOR);
    }
    return dam__why(why, "no entry symbol %s (not built with DAM_PLUGIN_DEFINE?)",
                    DAM_PLUGIN_ENTRY_NAME);
  }
  memcpy(&entry, &sym, sizeof entry);
  *out = entry(dam_host_api_get(), DAM_ABI_MINOR);
  if (!*out) return dam__why(why, "%s returned NULL", DAM_PLUGIN_ENTRY_NAME);
  return 0;
}

/* A struct_size against [min, size]; `what` names the struct in messages. */
static int dam__check_size(const dam_module *m, uint32_t got, size_t size,
                           size_t min, const char *what, char *why) {
  if (got > size)
    return dam__why(why,
                    "built against a newer SDK (ABI %u.%u, host %d.%d): %s "
                    "is %u bytes, host knows %zu",
                    m->abi_major, m->abi_minor, DAM_ABI_MAJOR, DAM_ABI_MINOR,
                    what, got, size);
  if (got < min)
    return dam__why(why, "%s is %u bytes, less than the %zu of ABI %d.0", what,
                    got, min, DAM_ABI_MAJOR);
  return 0;
}

/* Names appear in configs: non-empty [A-Za-z0-9_]+. */
static int dam__check_name(const char *name, const char *what, char *why) {
  if (!name || !*name) return dam__why(why, "%s has no name", what);
  for (const char *c = name; *c; c++)
    if (!(*c == '_' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
          (*c >= 'A' && *c <= 'Z')))
      return dam__why(why, "%s is named '%s': not [A-Za-z0-9_]+", what, name);
  return 0;
}

static int dam__check_param(const dam_module *m, const dam_desc_header *h,
                            uint32_t i, char *why) {
  const dam_param_desc *p = &h->params[i];
  const char *kind = dam_kind_name(h->kind);
  char what[160];
  snprintf(what, sizeof what, "parameter #%u of %s '%s'", i, kind, h->name);
  if (dam__check_size(m, p->struct_size, sizeof *p,
                      DAM__SIZE_TO(dam_param_desc, reserved), what, why) < 0)
    return -1;
  if (dam__check_name(p->name, what, why) < 0) return -1;
  snprintf(what, sizeof what, "parameter '%s' of %s '%s'", p->name, kind,
           h->name);
  uint32_t bytes = p->type == DAM_PARAM_FLOAT ? sizeof(double)
                   : p->type == DAM_PARAM_INT || p->type == DAM_PARAM_BOOL
                       ? sizeof(int32_t)
                       : 0;
  if (!bytes) return dam__why(why, "%s has unknown type %u", what, p->type);
  if ((uint64_t)p->offset + bytes > h->params_size)
    return dam__why(why, "%s lies at bytes [%u, %u), past the %u-byte params "
                    "block", what, p->offset, p->offset + bytes,
                    h->params_size);
  if (!(p->min <= p->max))
    return dam__why(why, "%s has an empty range [%g, %g]", what, p->min,
                    p->max);
  if (p->type != DAM_PARAM_FLOAT &&
      (p->min < (p->type == DAM_PARAM_BOOL ? 0 : INT32_MIN) ||
       p->max > (p->type == DAM_PARAM_BOOL ? 1 : INT32_MAX)))
    return dam__why(why, "%s has range [%g, %g], outside what its type holds",
                    what, p->min, p->max);
  if (!(p->def >= p->min && p->def <= p->max))
    return dam__why(why, "%s: default %g is outside its range [%g, %g]", what,
                    p->def, p->min, p->max);
  if (p->type != DAM_PARAM_FLOAT && (double)(int64_t)p->def != p->def)
    return dam__why(why, "%s: default %g is not an integer", what, p->def);
  for (uint32_t j = 0; j < i; j++)
    if (strcmp(h->params[j].name, p->name) == 0)
      return dam__why(why, "%s is declared twice", what);
  return 0;
}

/* The first required callback a descriptor lacks, or NULL. */
static const char *dam__missing_callback(const dam_desc_header *h) {
  if (h->kind == DAM_KIND_OP) {
    const dam_op_desc *op = (const dam_op_desc *)h;
    return !op->infer_shape ? "infer_shape" : !op->forward ? "forward" : NULL;
  }
  if (h->kind == DAM_KIND_AUGMENT) {
    const dam_augment_desc *a = (const dam_augment_desc *)h;
    if (a->input_grad > DAM_AUG_GRAD_STRAIGHT_THROUGH)
      return "valid input_grad (EXACT or STRAIGHT_THROUGH)";
    if (a->magnitude_grad > DAM_AUG_GRAD_NONE) return "valid magnitude_grad";
    return !a->forward ? "forward" : !a->backward ? "backward" : NULL;
  }
  const dam_hpo_desc *p = (const dam_hpo_desc *)h;
  if (p->target < DAM_HYPER_LEARNING_RATE || p->target > DAM_HYPER_MOMENTUM)
    return "valid target (enum dam_hyper)";
  if (p->n_dots > DAM_HPO_MAX_DOTS) return "n_dots <= DAM_HPO_MAX_DOTS";
  return !p->init ? "init" : !p->record ? "record" : !p->update ? "update" : NULL;
}

static int dam__check_desc(const dam_module *m, const dam_desc_header *h,
                           uint32_t i, char *why) {
  const struct dam__kind_info *k = dam__kind(h->kind);
  char what[160];
  if (!k)
    return dam__why(why, "descriptor #%u ('%s') has unknown kind %u", i,
                    h->name ? h->name : "?", h->kind);
  snprintf(what, sizeof what, "%s descriptor #%u", k->name, i);
  if (dam__check_name(h->name, what, why) < 0) return -1;
  snprintf(what, sizeof what, "%s descriptor '%s'", k->name, h->name);
  if (dam__check_size(m, h->struct_size, k->size, k->min, what, why) < 0)
    return -1;
  if (h->n_params && !h->params)
    return dam__why(why, "%s declares %u parameters but no table", what,
                    h->n_params);
  for (uint32_t p = 0; p < h->n_params; p++)
    if (dam__check_param(m, h, p, why) < 0) return -1;
  const char *missing = dam__missing_callback(h);
  if (missing)
    return dam__why(why, "%s '%s' has no %s", k->name, h->name, missing);
  return 0;
}

static int dam__check_module(const dam_module *m, char *why) {
  if (m->abi_major != DAM_ABI_MAJOR)
    return dam__why(why, "module says plugin ABI %u, this host speaks ABI %d",
                    m->abi_major, DAM_ABI_MAJOR);
  if (dam__check_size(m, m->struct_size, sizeof *m,
                      DAM__SIZE_TO(dam_module, descs), "dam_module", why) < 0)
    return -1;
  if (m->abi_minor > DAM_ABI_MINOR)
    return dam__why(why, "built against plugin SDK %u.%u, this host speaks "
                    "%d.%d (it may call what the host lacks): update "
                    "diffautoml", m->abi_major, m->abi_minor, DAM_ABI_MAJOR,
                    DAM_ABI_MINOR);
  if (!m->name || !*m->name) return dam__why(why, "module has no name");
  if (!m->descs) return dam__why(why, "module '%s' has no descriptor list",
                                 m->name);
  for (uint32_t i = 0; m->descs[i]; i++) {
    const dam_desc_header *h = m->descs[i];
    if (i == DAM__MAX_DESCS)
      return dam__why(why, "module '%s' lists over %d descriptors (no NULL "
                      "terminator?)", m->name, DAM__MAX_DESCS);
    if (dam__check_desc(m, h, i, why) < 0) return -1;
    for (uint32_t j = 0; j < i; j++)
      if (m->descs[j]->kind == h->kind && !strcmp(m->descs[j]->name, h->name))
        return dam__why(why, "%s '%s' is listed twice", dam_kind_name(h->kind),
                        h->name);
  }
  return 0;
}

/* Refuse a module that clashes with one already loaded, naming both files. */
static int dam__check_unique(const dam_registry *reg, const dam_module *m,
                             char *why) {
  const dam_plugin *owner;
  for (uint32_t i = 0; i < reg->n_plugins; i++)
    if (!strcmp(reg->plugins[i].module->name, m->name))
      return dam__why(why, "module '%s' is already loaded from %s", m->name,
                      reg->plugins[i].path);
  for (uint32_t i = 0; m->descs[i]; i++) {
    const dam_desc_header *h = m->descs[i];
    if (dam_registry_find(reg, h->kind, h->name, &owner))
      return dam__why(why, "%s '%s' is already provided by %s (module '%s')",
                      dam_kind_name(h->kind), h->name, owner->path,
                      owner->module->name);
  }
  return 0;
}

static int dam__add(dam_registry *reg, const char *path, void *handle,
                    const dam_module *m) {
  dam_plugin *grown =
      realloc(reg->plugins, (reg->n_plugins + 1) * sizeof *reg->plugins);
  if (!grown) return dam_fail(DAM_ENOMEM, "%s: out of memory", path);
  reg->plugins = grown;
  char *copy = strdup(path);
  if (!copy) return dam_fail(DAM_ENOMEM, "%s: out of memory", path);
  reg->plugins[reg->n_plugins++] = (dam_plugin){copy, handle, m};
  return 0;
}

int dam_registry_load_file(dam_registry *reg, const char *path) {
  char why[DAM__WHY_MAX] = "refused";
  const dam_module *m = NULL;
  int rc;
  void *handle = dam__open(path, why);
  if (!handle) goto refuse;
  if (dam__call_entry(handle, &m, why) < 0 || dam__check_module(m, why) < 0 ||
      dam__check_unique(reg, m, why) < 0)
    goto close_handle;
  rc = dam__add(reg, path, handle, m);
  if (rc < 0) dlclose(handle);
  return rc;
close_handle:
  dlclose(handle);
refuse:
  return dam__refuse(reg, path, why);
}

static int dam__is_so(const struct dirent *e) {
  size_t len = strlen(e->d_name);
  return len > 3 && strcmp(e->d_name + len - 3, ".so") == 0;
}

static int dam__by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name); /* not locale-dependent */
}

int dam_registry_load_dir(dam_registry *reg, const char *dir) {
  struct dirent **names;
  char why[DAM__WHY_MAX];
  int refusals = 0, rc = 0, n = scandir(dir, &names, dam__is_so, dam__by_name);
  if (n < 0) {
    if (errno == ENOENT) return 0;
    if (errno == ENOMEM) return dam_fail(DAM_ENOMEM, "%s: out of memory", dir);
    dam__why(why, "cannot read plugin directory: %s", strerror(errno));
    rc = dam__refuse(reg, dir, why);
    return rc == DAM_EPLUGIN ? 1 : rc;
  }
  for (int i = 0; i < n && rc >= 0; i++) {
    struct stat st;
    size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
    char *path = malloc(len);
    if (!path) {
      rc = dam_fail(DAM_ENOMEM, "%s: out of memory", dir);
      break;
    }
    snprintf(path, len, "%s/%s", dir, names[i]->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rc = dam_registry_load_file(reg, path);
      if (rc == DAM_EPLUGIN) refusals++, rc = 0;
    }
    free(path);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc < 0 ? rc : refusals;
}

int dam_registry_discover(dam_registry *reg, const char *config_path) {
  const char *env = getenv("DIFFAUTOML_PLUGIN_PATH");
  char *list, *rest, *dir, **seen = NULL;
  size_t n_seen = 0;
  int refusals = 0, rc = 0;
  if (asprintf(&list, "%s:%s:%s", config_path ? config_path : "",
               env ? env : "", DAM_PLUGIN_DIR) < 0)
    return dam_fail(DAM_ENOMEM, "out of memory");
  for (rest = list; rc >= 0 && (dir = strsep(&rest, ":"));) {
    char *real = *dir ? realpath(dir, NULL) : NULL, **grown = seen;
    bool skip = !*dir;
    for (size_t i = 0; real && i < n_seen && !skip; i++)
      skip = !strcmp(seen[i], real); /* already scanned */
    if (!skip && real &&
        !(grown = realloc(seen, (n_seen + 1) * sizeof *seen)))
      rc = dam_fail(DAM_ENOMEM, "out of memory");
    if (skip || rc < 0) {
      free(real);
      continue;
    }
    if (real) (seen = grown)[n_seen++] = real;
    rc = dam_registry_load_dir(reg, dir); /* a missing dir is skipped */
    if (rc > 0) refusals += rc;
  }
  for (size_t i = 0; i < n_seen; i++) free(seen[i]);
  free(seen);
  free(list);
  return rc < 0 ? rc : refusals;
}

const dam_desc_header *dam_registry_find(const dam_registry *reg,
                                         uint32_t kind, const char *name,
                                         const dam_plugin **owner) {
  for (uint32_t i = 0; i < reg->n_plugins; i++) {
    const dam_desc_header *const *d = reg->plugins[i].module->descs;
    for (; *d; d++) {
      if ((*d)->kind != kind || strcmp((*d)->name, name) != 0) continue;
      if (owner) *owner = &reg->plugins[i];
      return *d;
    }
  }
  return NULL;
}

static void dam__param_write(const dam_param_desc *p, void *block, double v) {
  char *at = (char *)block + p->offset;
  if (p->type == DAM_PARAM_FLOAT) {
    memcpy(at, &v, sizeof v);
  } else {
    int32_t i = (int32_t)v;
    memcpy(at, &i, sizeof i);
  }
}

void dam_params_defaults(const dam_desc_header *desc, void *block) {
  for (uint32_t i = 0; i < desc->n_params; i++)
    dam__param_write(&desc->params[i], block, desc->params[i].def);
}

int dam_params_set(const dam_desc_header *desc, void *block,
                   const char *name, double value) {
  const char *kind = dam_kind_name(desc->kind);
  char known[256] = "";
  size_t len = 0;
  for (uint32_t i = 0; i < desc->n_params; i++) {
    const dam_param_desc *p = &desc->params[i];
    if (strcmp(p->name, name) != 0) {
      if (len < sizeof known)
        len += snprintf(known + len, sizeof known - len, "%s%s",
                        len ? ", " : "", p->name);
      continue;
    }
    bool integral = p->type != DAM_PARAM_FLOAT;
    if (!(value >= p->min && value <= p->max) ||
        (integral && (double)(int64_t)value != value))
      return dam_fail(DAM_ERANGE,
                      "%s '%s': parameter '%s' must be %s in [%g, %g] "
                      "(default %g), got %g",
                      kind, desc->name, name,
                      integral ? "an integer" : "a number", p->min, p->max,
                      p->def, value);
    dam__param_write(p, block, value);
    return 0;
  }
  return dam_fail(DAM_ENOTFOUND, "%s '%s' has no parameter '%s' (it has: %s)",
                  kind, desc->name, name, len ? known : "none");
}
