/*
 * A derived architecture (genotype): for each cell kind (normal, reduction)
 * and each intermediate node, the input edges kept and the op on each, with
 * the fixed weight that scales the op's output in the final network.  Node
 * inputs are numbered as in DARTS: 0 = the output of the cell two back,
 * 1 = the previous cell's, 2 + j = intermediate node j.  The cell's output
 * concatenates its last `multiplier` nodes.  It is written as JSON
 * (genotype.json, model.safetensors' metadata) and as Graphviz DOT.
 */
#ifndef DAM_GENOTYPE_H
#define DAM_GENOTYPE_H

#include <stdint.h>

#define DAM_GENOTYPE_MAX_NODES 8
#define DAM_GENOTYPE_NODE_INPUTS 2
#define DAM_GENOTYPE_OP_NAME 64

enum dam_cell_kind { DAM_CELL_NORMAL = 0, DAM_CELL_REDUCE = 1 };

typedef struct dam_genotype_edge {
  uint32_t from;                  /* 0, 1: cell inputs; 2 + j: node j */
  char op[DAM_GENOTYPE_OP_NAME];  /* op descriptor name */
  float weight;                   /* scale of the op's output */
} dam_genotype_edge;

typedef struct dam_genotype_cell {
  uint32_t n_in[DAM_GENOTYPE_MAX_NODES]; /* edges kept per node, 1..2 */
  dam_genotype_edge in[DAM_GENOTYPE_MAX_NODES][DAM_GENOTYPE_NODE_INPUTS];
} dam_genotype_cell;

typedef struct dam_genotype {
  uint32_t nodes;      /* intermediate nodes per cell, 1..8 */
  uint32_t multiplier; /* the cell output concatenates the last ones */
  dam_genotype_cell cell[2]; /* [DAM_CELL_NORMAL], [DAM_CELL_REDUCE] */
} dam_genotype;

#include <stdbool.h>

/* 0 if g keeps the format's rules (nodes 1..8, multiplier 1..nodes, 1 or 2
 * edges per node, from < 2 + the node's index, an op name of 1..63 bytes,
 * finite weights), else DAM_EINVAL saying which rule it breaks.  The
 * writers below check first. */
int dam_genotype_check(const dam_genotype *g);

/* g as JSON text ({"format": "diffautoml-genotype-1", "nodes", "multiplier",
 * "normal", "reduce"}, each cell an array per node of {"op", "from",
 * "weight"} edges), pretty (ending with a newline) or on one line.  A
 * malloc'd string the caller frees; NULL with DAM_EINVAL (dam_genotype_check)
 * or DAM_ENOMEM. */
char *dam_genotype_to_json(const dam_genotype *g, bool pretty);

/* Parse genotype JSON: whitespace anywhere, keys in any order, unknown
 * top-level keys skipped; "format" must be "diffautoml-genotype-1".  On
 * success fills *g (unused nodes and edges zeroed).  DAM_EDATA, with
 * "SOURCE: offset N: why" (N a byte offset in text; source NULL reads
 * "genotype"), for malformed JSON or a genotype breaking the rules of
 * dam_genotype_check; *g is then untouched. */
int dam_genotype_from_json(const char *text, const char *source,
                           dam_genotype *g);

/* Write g to path as pretty JSON, atomically.  0, DAM_EINVAL
 * (dam_genotype_check) or DAM_EIO naming path. */
int dam_genotype_write_json(const dam_genotype *g, const char *path);

/* Read and parse a genotype JSON file.  0, DAM_EIO naming path when it
 * cannot be read, or DAM_EDATA as dam_genotype_from_json with source = path;
 * *g untouched on error. */
int dam_genotype_read_json(const char *path, dam_genotype *g);

/* Write one cell kind (DAM_CELL_NORMAL or DAM_CELL_REDUCE) of g to path as
 * a Graphviz digraph named "normal" or "reduce", atomically, drawn as
 * DARTS' visualize.py draws it: inputs c_{k-2}, c_{k-1}, nodes 0..n-1 and
 * the output c_{k}, an edge per kept input labelled with its op and weight.
 * 0, DAM_EINVAL for a bad cell or genotype, DAM_EIO naming path. */
int dam_genotype_write_dot(const dam_genotype *g, int cell, const char *path);

/* Render a DOT file to SVG with Graphviz: runs `dot -Tsvg DOT -o SVG.tmp`
 * (found on PATH, no shell) and renames SVG.tmp to svg_path.  0 on
 * success; 1, recording no error, when `dot` is not installed (SVG is
 * optional); DAM_EIO naming the file (and dot's exit status) otherwise,
 * svg_path then unchanged. */
int dam_genotype_render_svg(const char *dot_path, const char *svg_path);

/* Whether a and b have the same nodes, multiplier and, per cell and node,
 * the same edges: from, op and weight (compared exactly). */
bool dam_genotype_equal(const dam_genotype *a, const dam_genotype *b);

#endif
