/*
 * @include expansion.  libconfig 1.5 resolves @include against its include
 * dir or the working directory and has no include hook, so the config
 * layer expands `@include "file"` lines itself, relative to the including
 * file, before parsing, and keeps a map from each expanded line to its
 * (file, line) so every parse error and setting is reported where it was
 * written.  An @include inside a block comment is left alone, as libconfig
 * does; cycles and missing files are errors naming FILE:LINE.
 */
#include "config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

enum { DAM__INCLUDE_DEPTH = 32 };

typedef struct dam__include_frame {
  char *real;          /* realpath, for cycle detection */
  const char *display; /* as the messages name it */
} dam__include_frame;

static int dam__read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  *out = NULL;
  if (!f)
    return -errno;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      char *grown = realloc(buf, cap = 2 * cap + 4096 + 1);
      if (!grown) {
        free(buf);
        fclose(f);
        return DAM_ENOMEM;
      }
      buf = grown;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  int err = ferror(f) ? -EIO : 0;
  fclose(f);
  if (err) {
    free(buf);
    return err;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int dam__append_line(dam__cfg_text *t, const char *s, size_t len,
                            uint32_t file, uint32_t line) {
  if (t->len + len + 2 > t->cap) {
    size_t cap = 2 * t->cap + len + 4096;
    char *grown = realloc(t->text, cap);
    if (!grown)
      return dam_fail(DAM_ENOMEM, "out of memory");
    t->text = grown;
    t->cap = cap;
  }
  if (t->n_lines == t->lines_cap) {
    uint32_t cap = 2 * t->lines_cap + 64;
    uint32_t *f = realloc(t->file_of, cap * sizeof *f);
    if (f)
      t->file_of = f;
    uint32_t *l = f ? realloc(t->line_of, cap * sizeof *l) : NULL;
    if (!l)
      return dam_fail(DAM_ENOMEM, "out of memory");
    t->line_of = l;
    t->lines_cap = cap;
  }
  memcpy(t->text + t->len, s, len);
  t->len += len;
  t->text[t->len++] = '\n';
  t->text[t->len] = '\0';
  t->file_of[t->n_lines] = file;
  t->line_of[t->n_lines++] = line;
  return 0;
}

/* Index of `display` in t->files, adding it when new. */
static int dam__file_index(dam__cfg_text *t, const char *display,
                           uint32_t *index) {
  for (uint32_t i = 0; i < t->n_files; i++)
    if (strcmp(t->files[i], display) == 0) {
      *index = i;
      return 0;
    }
  char **grown = realloc(t->files, (t->n_files + 1) * sizeof *grown);
  char *copy = grown ? strdup(display) : NULL;
  if (grown)
    t->files = grown;
  if (!copy)
    return dam_fail(DAM_ENOMEM, "out of memory");
  t->files[ *index = t->n_files++] = copy;
  return 0;
}

/* Follow libconfig's lexer across one line: strings, line comments and
 * block comments, updating *in_block. */
static void dam__scan_comments(const char *s, size_t len, bool *in_block) {
  bool in_str = false;
  for (size_t i = 0; i < len; i++) {
    if (*in_block) {
      if (s[i] == '*' && i + 1 < len && s[i + 1] == '/')
        *in_block = false, i++;
    } else if (in_str) {
      if (s[i] == '\\')
        i++;
      else if (s[i] == '"')
        in_str = false;
    } else if (s[i] == '"') {
      in_str = true;
    } else if (s[i] == '#' || (s[i] == '/' && i + 1 < len && s[i + 1] == '/')) {
      return;
    } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
      *in_block = true;
      i++;
    }
  }
}

/* 1 and the quoted name in name/name_len when the line is an @include,
 * 0 when it is not one, -1 when it starts like one but is malformed. */
static int dam__parse_include(const char *s, size_t len, const char **name,
                              size_t *name_len) {
  size_t i = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (len - i < 8 || strncmp(s + i, "@include", 8) != 0)
    return 0;
  i += 8;
  if (i == len || (s[i] != ' ' && s[i] != '\t'))
    return -1;
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i == len || s[i] != '"')
    return -1;
  const char *close = memchr(s + i + 1, '"', len - i - 1);
  if (!close || close == s + i + 1)
    return -1;
  *name = s + i + 1;
  *name_len = (size_t)(close - *name);
  for (i = (size_t)(close - s) + 1; i < len; i++) {
    if (s[i] == '#' || (s[i] == '/' && i + 1 < len && s[i + 1] == '/'))
      break;
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
      return -1;
  }
  return 1;
}

/* The included file's name as messages show it: relative names are
 * joined to the including file's directory. */
static char *dam__include_display(const char *including, const char *name,
                                  size_t name_len) {
  const char *slash = strrchr(including, '/');
  size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - including) + 1;
  char *out = malloc(dir + name_len + 1);
  if (!out)
    return NULL;
  memcpy(out, including, dir);
  memcpy(out + dir, name, name_len);
  out[dir + name_len] = '\0';
  return out;
}

static int dam__expand(dam__cfg_text *t, dam__include_frame *stack, int depth,
                       const char *text, size_t text_len);

static int dam__include(dam__cfg_text *t, dam__include_frame *stack, int depth,
                        const char *name, size_t name_len, uint32_t line) {
  const char *from = stack[depth].display;
  char *display = dam__include_display(from, name, name_len);
  char *real = NULL, *text = NULL;
  size_t len = 0;
  int rc = 0, err;
  if (!display)
    return dam_fail(DAM_ENOMEM, "out of memory");
  if (depth + 1 >= DAM__INCLUDE_DEPTH) {
    rc = dam_fail(DAM_ECONFIG, "%s:%u: @include nested more than %d deep", from,
                  line, DAM__INCLUDE_DEPTH);
    goto out;
  }
  err = (real = realpath(display, NULL)) ? 0 : errno;
  if (!err && (rc = dam__read_file(display, &text, &len)) < 0)
    err = rc == DAM_ENOMEM ? ENOMEM : -rc;
  if (err) {
    rc = err == ENOMEM ? dam_fail(DAM_ENOMEM, "out of memory")
                       : dam_fail(DAM_ECONFIG,
                                  "%s:%u: cannot open @include file '%.*s' "
                                  "(%s): %s",
                                  from, line, (int)name_len, name, display,
                                  strerror(err));
    goto out;
  }
  for (int i = 0; i <= depth; i++) {
    if (strcmp(stack[i].real, real) != 0)
      continue;
    char chain[512];
    size_t n = 0;
    for (int j = i; j <= depth && n < sizeof chain; j++)
      n += snprintf(chain + n, sizeof chain - n, "%s -> ", stack[j].display);
    rc = dam_fail(DAM_ECONFIG, "%s:%u: @include cycle: %s%s", from, line, chain,
                  display);
    goto out;
  }
  stack[depth + 1].real = real;
  stack[depth + 1].display = display;
  rc = dam__expand(t, stack, depth + 1, text, len);
out:
  free(text);
  free(real);
  free(display);
  return rc;
}

static int dam__expand(dam__cfg_text *t, dam__include_frame *stack, int depth,
                       const char *text, size_t text_len) {
  uint32_t file = 0, line = 0;
  bool in_block = false;
  int rc = dam__file_index(t, stack[depth].display, &file);
  for (const char *s = text; rc == 0 && s < text + text_len;) {
    const char *nl = memchr(s, '\n', (size_t)(text + text_len - s));
    size_t len = nl ? (size_t)(nl - s) : (size_t)(text + text_len - s);
    const char *name = NULL;
    size_t name_len = 0;
    int inc = in_block ? 0 : dam__parse_include(s, len, &name, &name_len);
    line++;
    if (inc < 0)
      rc = dam_fail(DAM_ECONFIG,
                    "%s:%u: malformed @include (expected @include \"FILE\")",
                    stack[depth].display, line);
    else if (inc > 0)
      rc = dam__include(t, stack, depth, name, name_len, line);
    else {
      dam__scan_comments(s, len, &in_block);
      rc = dam__append_line(t, s, len, file, line);
    }
    s += len + 1;
  }
  return rc;
}

int dam__config_expand(const char *path, dam__cfg_text *out) {
  dam__include_frame stack[DAM__INCLUDE_DEPTH];
  char *text = NULL;
  size_t len = 0;
  memset(out, 0, sizeof *out);
  int rc = dam__read_file(path, &text, &len);
  if (rc == DAM_ENOMEM)
    return dam_fail(DAM_ENOMEM, "out of memory");
  if (rc < 0)
    return dam_fail(DAM_ECONFIG, "%s: cannot read: %s", path, strerror(-rc));
  stack[0].real = realpath(path, NULL);
  stack[0].display = path;
  if (!stack[0].real)
    rc = dam_fail(DAM_ECONFIG, "%s: cannot read: %s", path, strerror(errno));
  else
    rc = dam__expand(out, stack, 0, text, len);
  free(stack[0].real);
  free(text);
  if (rc == 0 && !out->text)
    rc = dam__append_line(out, "", 0, 0, 1);
  return rc;
}

void dam__cfg_text_free(dam__cfg_text *t) {
  free(t->text);
  free(t->file_of);
  free(t->line_of);
  for (uint32_t i = 0; i < t->n_files; i++)
    free(t->files[i]);
  free(t->files);
  memset(t, 0, sizeof *t);
}
