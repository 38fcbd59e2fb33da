/*
 * Internals of the config layer, shared by config*.c only: the schema
 * table and its lookups, the did-you-mean helper, the @include expansion
 * with its expanded-line -> (file, line) map, and the per-load context.
 */
#ifndef DAM_CONFIG_INTERNAL_H
#define DAM_CONFIG_INTERNAL_H

#include <libconfig.h>
#include <stddef.h>

#include "config.h"

/* ---- schema (config_schema.c) --------------------------------------- */

typedef enum dam__cfg_type {
  DAM__CFG_BOOL,      /* bool */
  DAM__CFG_INT,       /* int64_t */
  DAM__CFG_FLOAT,     /* double; ints accepted */
  DAM__CFG_STRING,    /* char * */
  DAM__CFG_ENUM,      /* int: index into choices */
  DAM__CFG_STRLIST,   /* dam_strlist */
  DAM__CFG_FLOATLIST, /* dam_floatlist */
  DAM__CFG_PARAMS     /* group of plugin groups of numbers (op_params) */
} dam__cfg_type;

/* Which registry names a key holds (checked by dam_config_check_plugins):
 * a dam_kind, or DAM__NAMES_MODULE for plugin module names. */
enum { DAM__NAMES_NONE = 0, DAM__NAMES_MODULE = 100 };

typedef struct dam__cfg_key {
  const char *path; /* "data.val_ratio" */
  dam__cfg_type type;
  uint32_t names;  /* DAM__NAMES_NONE, a dam_kind or DAM__NAMES_MODULE */
  size_t offset;   /* of the field in dam_config (or in the element) */
  const char *def; /* default in -s syntax; NULL: required member */
  double min, max; /* int and float keys */
  const char *const *choices; /* enum keys: NULL-terminated */
  const char *help;
} dam__cfg_key;

extern const dam__cfg_key dam__config_keys[];
extern const size_t dam__config_n_keys;

/* The key with this exact path (index in *index if non-NULL), or NULL. */
const dam__cfg_key *dam__config_key(const char *path, size_t *index);

/* True when path is a section: a proper prefix (ending at a dot) of some
 * key, e.g. "nas" or "nas.ista". */
bool dam__config_is_section(const char *path);

/* " (did you mean 'data.val_ratio'?)" for an unknown key path (a setting
 * in the file or an -s key), else "".  Looks among the keys and sections
 * of the same group first, then at every key. */
void dam__config_suggest_key(const char *path, char *buf, size_t n);

/* "a float", "a list of strings", ... */
const char *dam__cfg_type_name(dam__cfg_type type);

/* "an integer", "a string", "a group", ... for a libconfig setting type. */
const char *dam__lc_type_name(int lc_type);

/* Index of s in a NULL-terminated choices list, or -1. */
int dam__choice_index(const char *const *choices, const char *s);

/* ---- did-you-mean (config_schema.c) --------------------------------- */

typedef struct dam__suggest {
  const char *word;
  const char *best;
  size_t dist;
} dam__suggest;

void dam__suggest_init(dam__suggest *s, const char *word);
/* Consider one candidate. */
void dam__suggest_add(dam__suggest *s, const char *candidate);
/* The closest candidate if it is close enough to be a typo, else NULL. */
const char *dam__suggest_best(const dam__suggest *s);

/* ---- @include expansion (config_include.c) -------------------------- */

typedef struct dam__cfg_text {
  char *text; /* the expanded file, NUL-terminated */
  size_t len, cap;
  uint32_t *file_of, *line_of; /* by expanded line - 1 */
  uint32_t n_lines, lines_cap;
  char **files; /* [0] is the top file, then included ones */
  uint32_t n_files;
} dam__cfg_text;

/* Read `path` and every file it @includes (relative to the including
 * file), recursively, into one text with its line map.  DAM_ECONFIG with
 * "FILE:LINE: ..." for a missing include or a cycle, DAM_ECONFIG naming
 * the file when the top file can't be read, DAM_ENOMEM.  Free with
 * dam__cfg_text_free (also after a failure). */
int dam__config_expand(const char *path, dam__cfg_text *out);

void dam__cfg_text_free(dam__cfg_text *t);

/* ---- the load context (config.c, config_validate.c, config_override.c) */

typedef struct dam__config_origin {
  char **files; /* from the expansion; locations point into these */
  uint32_t n_files;
  dam_config_loc *locs; /* one per schema key */
  char **overrides;     /* the -s arguments, for the resolved header */
  uint32_t n_overrides;
} dam__config_origin;

typedef struct dam__cfg_ctx {
  dam_config *cfg;
  config_t lc; /* the parsed tree, overrides grafted in */
  dam__cfg_text text;
  bool overriding; /* every setting checked now comes from -s */
} dam__cfg_ctx;

/* The location string of an override. */
extern const char dam__override_file[];

/* Where a parsed setting came from (line 0: an -s override). */
dam_config_loc dam__cfg_loc(const dam__cfg_ctx *ctx, const config_setting_t *s);

/* dam_fail(DAM_ECONFIG, "LOC: fmt...") where LOC is "FILE:LINE", "-s" or,
 * for a default, the config's source file. */
int dam__cfg_fail(const dam_config *cfg, dam_config_loc loc, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

/* Check every setting of the parsed tree: unknown keys (with a
 * did-you-mean) and types.  config_validate.c. */
int dam__config_check_tree(dam__cfg_ctx *ctx);

/* Check one setting against its key: its type, and for lists and plugin
 * params the shape of what is inside.  `path` names it in messages. */
int dam__config_check_setting(dam__cfg_ctx *ctx, const dam__cfg_key *key,
                              const config_setting_t *s, const char *path);

/* Turn a value in -s syntax into a setting named "v" at the root of `tmp`
 * (an initialized config): for `key`, strings and enum values without
 * quotes, string lists as [a, b], the rest in libconfig syntax; for a
 * plugin parameter (key NULL), libconfig syntax.  *out receives it.
 * DAM_ECONFIG "LOC: PATH: ..." when it can't be read.  config_override.c. */
int dam__config_value(const dam_config *cfg, dam_config_loc loc,
                      const dam__cfg_key *key, const char *path,
                      const char *text, config_t *tmp, config_setting_t **out);

/* Apply one "key.path=value" override to the tree.  config_override.c. */
int dam__config_override(dam__cfg_ctx *ctx, const char *arg);

/* Shortest "%.*g" text that reads back as v, with a ".0" added when it
 * would read as an integer.  config_write.c. */
void dam__format_float(double v, char *buf, size_t n);

#endif
