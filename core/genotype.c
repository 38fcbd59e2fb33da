/*
 * Genotypes (genotype.h): the rules, JSON out (through json_write),
 * Graphviz DOT out, and SVG through the `dot` program when it is
 * installed.  The JSON reader is genotype_read.c.
 */
#include "genotype.h"
#include "atomic_file.h"
#include "error.h"
#include "json_write.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORMAT "diffautoml-genotype-1"

static const char *const cell_names[2] = {"normal", "reduce"};

int dam_genotype_check(const dam_genotype *g) {
  if (g->nodes < 1 || g->nodes > DAM_GENOTYPE_MAX_NODES)
    return dam_fail(DAM_EINVAL, "genotype: %u nodes (1..%d)", g->nodes,
                    DAM_GENOTYPE_MAX_NODES);
  if (g->multiplier < 1 || g->multiplier > g->nodes)
    return dam_fail(DAM_EINVAL, "genotype: multiplier %u (1..%u)",
                    g->multiplier, g->nodes);
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < g->nodes; i++) {
      const dam_genotype_cell *c = &g->cell[k];
      if (c->n_in[i] < 1 || c->n_in[i] > DAM_GENOTYPE_NODE_INPUTS)
        return dam_fail(DAM_EINVAL, "genotype: %s node %u has %u edges (1..%d)",
                        cell_names[k], i, c->n_in[i], DAM_GENOTYPE_NODE_INPUTS);
      for (uint32_t e = 0; e < c->n_in[i]; e++) {
        const dam_genotype_edge *ed = &c->in[i][e];
        size_t len = strnlen(ed->op, DAM_GENOTYPE_OP_NAME);
        if (ed->from >= 2 + i)
          return dam_fail(DAM_EINVAL, "genotype: %s node %u: from %u (0..%u)",
                          cell_names[k], i, ed->from, 1 + i);
        if (len == 0 || len == DAM_GENOTYPE_OP_NAME)
          return dam_fail(DAM_EINVAL, "genotype: %s node %u: %s op name",
                          cell_names[k], i, len ? "unterminated" : "empty");
        if (!isfinite(ed->weight))
          return dam_fail(DAM_EINVAL, "genotype: %s node %u: weight %g",
                          cell_names[k], i, ed->weight);
      }
    }
  return 0;
}

bool dam_genotype_equal(const dam_genotype *a, const dam_genotype *b) {
  if (a->nodes != b->nodes || a->multiplier != b->multiplier ||
      a->nodes > DAM_GENOTYPE_MAX_NODES)
    return false;
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < a->nodes; i++) {
      uint32_t n = a->cell[k].n_in[i];
      if (n != b->cell[k].n_in[i] || n > DAM_GENOTYPE_NODE_INPUTS)
        return false;
      for (uint32_t e = 0; e < n; e++) {
        const dam_genotype_edge *x = &a->cell[k].in[i][e];
        const dam_genotype_edge *y = &b->cell[k].in[i][e];
        if (x->from != y->from || x->weight != y->weight ||
            strncmp(x->op, y->op, DAM_GENOTYPE_OP_NAME) != 0)
          return false;
      }
    }
  return true;
}

/* ---- JSON out ------------------------------------------------------------ */

static void put_genotype(FILE *f, const dam_genotype *g, bool pretty) {
  dam_json j;
  dam_json_init(&j, f, pretty);
  j.inline_depth = 3; /* a node's edges on one line */
  dam_json_object(&j, NULL);
  dam_json_string(&j, "format", FORMAT);
  dam_json_int(&j, "nodes", g->nodes);
  dam_json_int(&j, "multiplier", g->multiplier);
  for (int k = 0; k < 2; k++) {
    dam_json_array(&j, cell_names[k]);
    for (uint32_t i = 0; i < g->nodes; i++) {
      dam_json_array(&j, NULL);
      for (uint32_t e = 0; e < g->cell[k].n_in[i]; e++) {
        const dam_genotype_edge *ed = &g->cell[k].in[i][e];
        dam_json_object(&j, NULL);
        dam_json_string(&j, "op", ed->op);
        dam_json_int(&j, "from", ed->from);
        dam_json_float(&j, "weight", ed->weight);
        dam_json_end(&j);
      }
      dam_json_end(&j);
    }
    dam_json_end(&j);
  }
  dam_json_end(&j);
}

char *dam_genotype_to_json(const dam_genotype *g, bool pretty) {
  if (dam_genotype_check(g))
    return NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    dam_fail(DAM_ENOMEM, "genotype JSON: out of memory");
    return NULL;
  }
  put_genotype(f, g, pretty);
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad) {
    free(buf);
    dam_fail(DAM_ENOMEM, "genotype JSON: out of memory");
    return NULL;
  }
  return buf;
}

int dam_genotype_write_json(const dam_genotype *g, const char *path) {
  int rc = dam_genotype_check(g);
  if (rc)
    return rc;
  char *tmp;
  FILE *f = dam_atomic_open(path, &tmp);
  if (!f)
    return DAM_EIO;
  put_genotype(f, g, true);
  return dam_atomic_close(f, tmp, path, true);
}

/* ---- Graphviz ------------------------------------------------------------ */

static void put_dot_id(FILE *f, uint32_t from) {
  if (from < 2)
    fputs(from == 0 ? "\"c_{k-2}\"" : "\"c_{k-1}\"", f);
  else
    fprintf(f, "\"%u\"", from - 2);
}

int dam_genotype_write_dot(const dam_genotype *g, int cell, const char *path) {
  if (cell != DAM_CELL_NORMAL && cell != DAM_CELL_REDUCE)
    return dam_fail(DAM_EINVAL, "%s: cell kind %d (normal 0, reduce 1)", path,
                    cell);
  int rc = dam_genotype_check(g);
  if (rc)
    return rc;
  char *tmp;
  FILE *f = dam_atomic_open(path, &tmp);
  if (!f)
    return DAM_EIO;
  const dam_genotype_cell *c = &g->cell[cell];
  fprintf(f,
          "digraph %s {\n"
          "  rankdir=LR;\n"
          "  node [style=filled, shape=rect, align=center, fontsize=20, "
          "height=0.5, width=0.5, penwidth=2, fontname=times];\n"
          "  edge [fontsize=20, fontname=times];\n"
          "  \"c_{k-2}\" [fillcolor=darkseagreen2];\n"
          "  \"c_{k-1}\" [fillcolor=darkseagreen2];\n",
          cell_names[cell]);
  for (uint32_t i = 0; i < g->nodes; i++)
    fprintf(f, "  \"%u\" [fillcolor=lightblue];\n", i);
  for (uint32_t i = 0; i < g->nodes; i++)
    for (uint32_t e = 0; e < c->n_in[i]; e++) {
      const dam_genotype_edge *ed = &c->in[i][e];
      fputs("  ", f);
      put_dot_id(f, ed->from);
      fprintf(f, " -> \"%u\" [label=\"", i);
      for (const char *s = ed->op; *s; s++) {
        if (*s == '"' || *s == '\\')
          fputc('\\', f);
        fputc(*s, f);
      }
      fprintf(f, "\\n%.2f\", fillcolor=gray];\n", ed->weight);
    }
  fputs("  \"c_{k}\" [fillcolor=palegoldenrod];\n", f);
  for (uint32_t i = g->nodes - g->multiplier; i < g->nodes; i++)
    fprintf(f, "  \"%u\" -> \"c_{k}\" [fillcolor=gray];\n", i);
  fputs("}\n", f);
  return dam_atomic_close(f, tmp, path, true);
}

int dam_genotype_render_svg(const char *dot_path, const char *svg_path) {
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.tmp", svg_path) < 0)
    return dam_fail(DAM_ENOMEM, "%s: out of memory", svg_path);
  char *argv[] = {"dot", "-Tsvg", (char *)dot_path, "-o", tmp, NULL};
  pid_t pid;
  int err = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
  if (err == ENOENT) {
    free(tmp);
    return 1;
  }
  int rc = 0, status = 0;
  if (err) {
    rc = dam_fail(DAM_EIO, "%s: cannot run dot: %s", dot_path, strerror(err));
  } else {
    while (waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) {
        rc = dam_fail(DAM_EIO, "%s: waiting for dot: %s", dot_path,
                      strerror(errno));
        break;
      }
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      rc = WIFEXITED(status)
               ? dam_fail(DAM_EIO, "%s: dot failed (exit status %d)", dot_path,
                          WEXITSTATUS(status))
               : dam_fail(DAM_EIO, "%s: dot killed by signal %d", dot_path,
                          WTERMSIG(status));
  }
  if (rc == 0 && rename(tmp, svg_path) != 0)
    rc = dam_fail(DAM_EIO, "%s: cannot write: %s", svg_path, strerror(errno));
  if (rc)
    unlink(tmp);
  free(tmp);
  return rc;
}
