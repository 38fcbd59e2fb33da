/*
 * Plugin loader and registry: finds plugin shared objects, checks them
 * against the ABI (sdk/diffautoml/plugin.h) and keeps what they provide.
 * A refused file is recorded with its reason and never stops the others.
 * Loaded plugins stay loaded until the registry is destroyed.
 */
#ifndef DAM_PLUGIN_H
#define DAM_PLUGIN_H

#include <diffautoml/plugin.h>
#include <stdint.h>

typedef struct dam_plugin {
  char *path;               /* file it was loaded from */
  void *handle;             /* dlopen handle */
  const dam_module *module; /* what its entry returned */
} dam_plugin;

typedef struct dam_refusal {
  char *path;
  char *reason; /* one line, without the path */
} dam_refusal;

typedef struct dam_registry {
  dam_plugin *plugins;
  uint32_t n_plugins;
  dam_refusal *refused;
  uint32_t n_refused;
} dam_registry;

/* An empty registry.  Returns NULL when out of memory. */
dam_registry *dam_registry_new(void);

/* Unload every plugin and free the registry.  Call it only after every
 * op instance, recorder and device that used its plugins is gone. */
void dam_registry_free(dam_registry *reg);

/* Load one file.  On refusal, records (path, reason) in reg->refused,
 * sets dam_last_error() to "PATH: REASON" and returns DAM_EPLUGIN. */
int dam_registry_load_file(dam_registry *reg, const char *path);

/* Load every "*.so" file of a directory, sorted by name.  A missing
 * directory is not an error; an unreadable one counts as one refusal.
 * Returns the number of refusals (>= 0), or DAM_ENOMEM. */
int dam_registry_load_dir(dam_registry *reg, const char *dir);

/* Discovery in order: config_path (colon-separated, may be NULL), then
 * $DIFFAUTOML_PLUGIN_PATH (colon-separated), then the installed plugin
 * dir; each directory once.  Returns the number of refusals, or
 * DAM_ENOMEM. */
int dam_registry_discover(dam_registry *reg, const char *config_path);

/* The descriptor of `kind` called `name`, or NULL.  *owner, if non-NULL,
 * receives the plugin that provides it. */
const dam_desc_header *dam_registry_find(const dam_registry *reg,
                                         uint32_t kind, const char *name,
                                         const dam_plugin **owner);

/* Fail with a plugin callback's error: "KIND NAME: WHAT failed (ERR)"
 * followed by the message the callback left, if any.  Returns err when it
 * is negative, else DAM_EPLUGIN. */
int dam_plugin_fail(const dam_desc_header *desc, const char *what, int err);

/* Name of a kind: "op", "augment", "hpo", or "?". */
const char *dam_kind_name(uint32_t kind);

/* Fill a zeroed params block of desc->params_size bytes with defaults. */
void dam_params_defaults(const dam_desc_header *desc, void *block);

/* Set parameter `name` in a params block; DAM_ENOTFOUND for an unknown
 * name, DAM_ERANGE (message names the range and default) outside
 * [min, max] or a non-integer value for an int/bool parameter. */
int dam_params_set(const dam_desc_header *desc, void *block,
                   const char *name, double value);

#endif
