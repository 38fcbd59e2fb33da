/*
 * The resolved config: every schema key with its final value (defaults
 * filled, overrides applied, includes expanded), in libconfig syntax and
 * schema order, under a header comment naming the version, the date and
 * the source.  Reading it back gives the same config, and writing that
 * gives the same text.  Written atomically: a temporary file in the same
 * directory, renamed over the target.
 */
#include "config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

#ifndef DAM_VERSION
#define DAM_VERSION "unknown"
#endif

#define FIELD(base, key, type)                                                 \
  ((const type *)((const char *)(base) + (key)->offset))

void dam__format_float(double v, char *buf, size_t n) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (!strpbrk(buf, ".eEn") && strlen(buf) + 3 <= n)
    strcat(buf, ".0");
}

static void dam__put_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", out);
    else if (c == '\t')
      fputs("\\t", out);
    else if (c < 0x20)
      fprintf(out, "\\x%02x", c);
    else
      fputc(c, out);
  }
  fputc('"', out);
}

static void dam__put_float(FILE *out, double v) {
  char buf[40];
  dam__format_float(v, buf, sizeof buf);
  fputs(buf, out);
}

static void dam__put_strlist(FILE *out, const dam_strlist *l, int indent) {
  size_t width = 0;
  for (uint32_t i = 0; i < l->n; i++)
    width += strlen(l->v[i]) + 4;
  bool multiline = width > 60;
  fputc('[', out);
  for (uint32_t i = 0; i < l->n; i++) {
    if (multiline)
      fprintf(out, "%s\n%*s", i ? "," : "", indent + 2, "");
    else if (i)
      fputs(", ", out);
    dam__put_string(out, l->v[i]);
  }
  if (multiline)
    fprintf(out, "\n%*s", indent, "");
  fputc(']', out);
}

static void dam__put_param(FILE *out, const dam_config_param *p) {
  fprintf(out, "%s = ", p->name);
  if (p->type == DAM_PARAM_BOOL)
    fputs(p->value != 0 ? "true" : "false", out);
  else if (p->type == DAM_PARAM_INT)
    fprintf(out, "%.0f", p->value);
  else
    dam__put_float(out, p->value);
  fputs("; ", out);
}

static void dam__put_params(FILE *out, const dam_config_params *p, int indent) {
  fputc('{', out);
  for (uint32_t i = 0; i < p->n; i++) {
    fprintf(out, "\n%*s%s = { ", indent + 2, "", p->v[i].plugin);
    for (uint32_t j = 0; j < p->v[i].n; j++)
      dam__put_param(out, &p->v[i].params[j]);
    fputs("};", out);
  }
  if (p->n)
    fprintf(out, "\n%*s", indent, "");
  fputc('}', out);
}

static void dam__put_value(FILE *out, const dam_config *cfg,
                           const dam__cfg_key *k, int indent) {
  switch (k->type) {
  case DAM__CFG_BOOL:
    fputs(*FIELD(cfg, k, bool) ? "true" : "false", out);
    break;
  case DAM__CFG_INT:
    fprintf(out, "%" PRId64, *FIELD(cfg, k, int64_t));
    break;
  case DAM__CFG_FLOAT:
    dam__put_float(out, *FIELD(cfg, k, double));
    break;
  case DAM__CFG_STRING:
    dam__put_string(out, *FIELD(cfg, k, char *));
    break;
  case DAM__CFG_ENUM:
    dam__put_string(out, k->choices[*FIELD(cfg, k, int)]);
    break;
  case DAM__CFG_STRLIST:
    dam__put_strlist(out, FIELD(cfg, k, dam_strlist), indent);
    break;
  case DAM__CFG_FLOATLIST: {
    const dam_floatlist *l = FIELD(cfg, k, dam_floatlist);
    fputc('[', out);
    for (uint32_t i = 0; i < l->n; i++) {
      if (i)
        fputs(", ", out);
      dam__put_float(out, l->v[i]);
    }
    fputc(']', out);
    break;
  }
  case DAM__CFG_PARAMS:
    dam__put_params(out, FIELD(cfg, k, dam_config_params), indent);
    break;
  }
}

static void dam__put_header(FILE *out, const dam_config *cfg) {
  const char *epoch = getenv("SOURCE_DATE_EPOCH");
  time_t now = epoch && *epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
  struct tm tm;
  char date[32];
  uint32_t n_files;
  const char *const *files = dam_config_files(cfg, &n_files);
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(out, "# diffautoml %s resolved config, written %s\n", DAM_VERSION,
          date);
  fprintf(out, "# source: %s", cfg->source);
  for (uint32_t i = 1; i < n_files; i++)
    fprintf(out, "%s%s", i == 1 ? " (@include: " : ", ", files[i]);
  fputs(n_files > 1 ? ")\n" : "\n", out);
  if (cfg->origin && cfg->origin->n_overrides) {
    fputs("# overrides:", out);
    for (uint32_t i = 0; i < cfg->origin->n_overrides; i++)
      fprintf(out, " -s %s", cfg->origin->overrides[i]);
    fputc('\n', out);
  }
  fputs("# Every key with its final value; see docs/CONFIG.md.\n\n", out);
}

int dam_config_print(const dam_config *cfg, FILE *out, bool header) {
  char open[4][64]; /* the sections now open, outermost first */
  int depth = 0;
  if (header)
    dam__put_header(out, cfg);
  for (size_t i = 0; i < dam__config_n_keys; i++) {
    const dam__cfg_key *k = &dam__config_keys[i];
    char parts[4][64];
    int n = 0;
    for (const char *p = k->path; n < 4;) {
      size_t len = strcspn(p, ".");
      snprintf(parts[n++], sizeof parts[0], "%.*s", (int)len, p);
      if (!p[len])
        break;
      p += len + 1;
    }
    int common = 0;
    while (common < depth && common < n - 1 &&
           strcmp(open[common], parts[common]) == 0)
      common++;
    while (depth > common)
      fprintf(out, "%*s};\n", 2 * --depth, "");
    for (; depth < n - 1; depth++) {
      if (depth == 0)
        fputc('\n', out);
      fprintf(out, "%*s%s = {\n", 2 * depth, "", parts[depth]);
      memcpy(open[depth], parts[depth], sizeof open[0]);
    }
    fprintf(out, "%*s%s = ", 2 * depth, "", parts[n - 1]);
    dam__put_value(out, cfg, k, 2 * depth);
    fputs(";\n", out);
  }
  while (depth > 0)
    fprintf(out, "%*s};\n", 2 * --depth, "");
  return ferror(out) ? DAM_EIO : 0;
}

int dam_config_write(const dam_config *cfg, const char *path) {
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
    return dam_fail(DAM_ENOMEM, "out of memory");
  int fd = mkstemp(tmp), rc = 0;
  if (fd < 0) {
    rc = dam_fail(DAM_EIO, "%s: cannot write: %s", path, strerror(errno));
    free(tmp);
    return rc;
  }
  mode_t mask = umask(0); /* mkstemp's 0600 -> what a plain create gives */
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  FILE *out = fdopen(fd, "w");
  if (!out) {
    close(fd);
    rc = DAM_EIO;
  } else {
    rc = dam_config_print(cfg, out, true);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0)
      rc = DAM_EIO;
    if (fclose(out) != 0)
      rc = DAM_EIO;
  }
  if (rc == 0 && rename(tmp, path) != 0)
    rc = DAM_EIO;
  if (rc) {
    int err = errno;
    unlink(tmp);
    rc = dam_fail(DAM_EIO, "%s: cannot write: %s", path, strerror(err));
  }
  free(tmp);
  return rc;
}
