/*
 * Genotype JSON and DOT on files in a temporary directory: genotypes
 * round-trip through text and files, Python's json reads them, a
 * hand-written file with odd spacing, key order and unknown keys loads,
 * every bad input class is refused with the source and byte offset, the
 * DOT names every op, SVG rendering copes with `dot` present, failing or
 * absent (a fake `dot` on PATH).  test_json_write.c has the JSON writer
 * and atomic files.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "file_fixtures.h"
#include "genotype.h"
#include "tmpdir.h"

static void set_edge(dam_genotype_cell *c, uint32_t node, uint32_t e,
                     uint32_t from, const char *op, float w) {
  c->in[node][e].from = from;
  snprintf(c->in[node][e].op, sizeof c->in[node][e].op, "%s", op);
  c->in[node][e].weight = w;
  if (c->n_in[node] < e + 1)
    c->n_in[node] = e + 1;
}

/* 4 nodes, multiplier 3; node 2 of the reduction cell keeps one edge. */
static dam_genotype sample(void) {
  dam_genotype g;
  memset(&g, 0, sizeof g);
  g.nodes = 4;
  g.multiplier = 3;
  dam_genotype_cell *n = &g.cell[DAM_CELL_NORMAL];
  set_edge(n, 0, 0, 0, "sep_conv_3x3", 0.61f);
  set_edge(n, 0, 1, 1, "skip_connect", 0.47f);
  set_edge(n, 1, 0, 2, "dil_conv_5x5", 1.0f / 3.0f);
  set_edge(n, 1, 1, 0, "sep_conv_5x5", 1e-8f);
  set_edge(n, 2, 0, 3, "avg_pool_3x3", -0.25f);
  set_edge(n, 2, 1, 1, "max_pool_3x3", 3.4e38f);
  set_edge(n, 3, 0, 4, "skip_connect", 0.1f);
  set_edge(n, 3, 1, 2, "sep_conv_3x3", 1.17549435e-38f);
  dam_genotype_cell *r = &g.cell[DAM_CELL_REDUCE];
  set_edge(r, 0, 0, 0, "max_pool_3x3", 0.9f);
  set_edge(r, 0, 1, 1, "avg_pool_3x3", 0.8f);
  set_edge(r, 1, 0, 2, "skip_connect", 0.7f);
  set_edge(r, 2, 0, 3, "dil_conv_3x3", 0.123456789f);
  set_edge(r, 3, 0, 0, "op \"quoted\" \\ name", 2.0f);
  set_edge(r, 3, 1, 4, "sep_conv_3x3", 0.0f);
  return g;
}

/* ---- genotype JSON ---------------------------------------------------------
 */

/* Python's json reads a written genotype. */
static void genotype_python_reads(void **state) {
  (void)state;
  if (!python_found())
    skip();
  dam_genotype g = sample();
  char *s = dam_genotype_to_json(&g, true);
  assert_non_null(s);
  spill(tmpdir_path("g.json"), s);
  free(s);
  char *out = python_dump(tmpdir_path("g.json"));
  assert_non_null(strstr(out, "\"format\": \"diffautoml-genotype-1\""));
  assert_non_null(strstr(out, "{\"from\": 0, \"op\": \"sep_conv_3x3\", "
                              "\"weight\": 0.61}"));
  free(out);
}

static void genotype_round_trip(void **state) {
  (void)state;
  dam_genotype g = sample(), back;
  for (int pretty = 0; pretty < 2; pretty++) {
    char *s = dam_genotype_to_json(&g, pretty);
    assert_non_null(s);
    memset(&back, 0xab, sizeof back);
    assert_int_equal(dam_genotype_from_json(s, "mem", &back), 0);
    assert_true(dam_genotype_equal(&g, &back));
    assert_int_equal(memcmp(&g, &back, sizeof g), 0); /* unused parts zeroed */
    assert_int_equal(strchr(s, '\n') == NULL, !pretty);
    free(s);
  }
  char *s = dam_genotype_to_json(&g, true);
  assert_non_null(strstr(
      s, "\n  \"normal\": [\n"
         "    [{\"op\": \"sep_conv_3x3\", \"from\": 0, \"weight\": 0.61}, "
         "{\"op\": \"skip_connect\", \"from\": 1, \"weight\": 0.47}],\n"));
  assert_int_equal(strncmp(s,
                           "{\n  \"format\": \"diffautoml-genotype-1\",\n"
                           "  \"nodes\": 4,\n  \"multiplier\": 3,\n",
                           57),
                   0);
  free(s);
}

static void genotype_equal_and_check(void **state) {
  (void)state;
  dam_genotype a = sample(), b = sample();
  assert_true(dam_genotype_equal(&a, &b));
  b.cell[1].in[3][1].weight = nextafterf(0.0f, 1.0f);
  assert_false(dam_genotype_equal(&a, &b));
  b = sample();
  b.cell[0].in[2][0].op[0] = 'b';
  assert_false(dam_genotype_equal(&a, &b));
  b = sample();
  b.cell[1].n_in[2] = 2;
  assert_false(dam_genotype_equal(&a, &b));
  b = sample();
  b.multiplier = 2;
  assert_false(dam_genotype_equal(&a, &b));
  b = sample();
  b.cell[0].in[3][1].from = 3;
  assert_false(dam_genotype_equal(&a, &b));
  b = sample();
  memset(b.cell[0].in[7], 0x5a, sizeof b.cell[0].in[7]); /* unused node */
  assert_true(dam_genotype_equal(&a, &b));

  assert_int_equal(dam_genotype_check(&a), 0);
  dam_genotype bad[7];
  for (int i = 0; i < 7; i++)
    bad[i] = sample();
  bad[0].nodes = 9;
  bad[1].multiplier = 5;
  bad[2].cell[1].n_in[1] = 0;
  bad[3].cell[0].in[1][0].from = 3;
  bad[4].cell[0].in[0][0].op[0] = '\0';
  bad[5].cell[1].in[2][0].weight = INFINITY;
  memset(bad[6].cell[1].in[0][1].op, 'x', DAM_GENOTYPE_OP_NAME);
  for (int i = 0; i < 7; i++) {
    assert_int_equal(dam_genotype_check(&bad[i]), DAM_EINVAL);
    assert_null(dam_genotype_to_json(&bad[i], false));
    assert_int_equal(dam_genotype_write_json(&bad[i], tmpdir_path("bad.json")),
                     DAM_EINVAL);
    assert_int_equal(
        dam_genotype_write_dot(&bad[i], DAM_CELL_NORMAL, tmpdir_path("b.dot")),
        DAM_EINVAL);
  }
  assert_int_equal(count_entries("bad.json"), 0);
  assert_int_equal(count_entries("b.dot"), 0);
}

static void genotype_parses_handwritten(void **state) {
  (void)state;
  static const char text[] =
      " \n\t{ \"reduce\" : [ [ { \"weight\" : 2.5e-1 , \"from\" : 1 ,\n"
      "   \"op\" : \"max_pool_3x3\" } "
      ",{\"from\":0,\"op\":\"skip\\u005fconnect\","
      "\"weight\":-1E0}\t] ,[{\"op\":\"caf\\u00e9\\ud83d\\ude00\\/\","
      "\"from\":2,\"weight\":0}]],\n"
      "  \"comment\": {\"nested\": [1, -2.5e+3, \"x\\\"y\", true, false, null,"
      " {}, [], {\"a\": [[{}]]}]},\n"
      "  \"multiplier\" : 1 , \"nodes\" :2.0, \"future\": \"x\",\r\n"
      "  \"normal\": [[{\"op\":\"sep_conv_3x3\",\"from\":1,\"weight\":0.61}],"
      "[{\"op\":\"a\",\"from\":0,\"weight\":1},{\"op\":\"b\",\"from\":2,"
      "\"weight\":2}]],\n"
      "  \"format\" : \"diffautoml-genotype-1\" }  \n";
  dam_genotype g;
  assert_int_equal(dam_genotype_from_json(text, "hand", &g), 0);
  assert_int_equal(g.nodes, 2);
  assert_int_equal(g.multiplier, 1);
  const dam_genotype_cell *r = &g.cell[DAM_CELL_REDUCE];
  assert_int_equal(r->n_in[0], 2);
  assert_int_equal(r->in[0][0].from, 1);
  assert_string_equal(r->in[0][0].op, "max_pool_3x3");
  assert_true(r->in[0][0].weight == 0.25f);
  assert_string_equal(r->in[0][1].op, "skip_connect");
  assert_true(r->in[0][1].weight == -1.0f);
  assert_int_equal(r->n_in[1], 1);
  assert_string_equal(r->in[1][0].op, "caf\xc3\xa9\xf0\x9f\x98\x80/");
  assert_int_equal(r->in[1][0].from, 2);
  const dam_genotype_cell *n = &g.cell[DAM_CELL_NORMAL];
  assert_int_equal(n->n_in[0], 1);
  assert_string_equal(n->in[0][0].op, "sep_conv_3x3");
  assert_true(n->in[0][0].weight == 0.61f);
  assert_int_equal(n->n_in[1], 2);
  assert_string_equal(n->in[1][1].op, "b");
  assert_int_equal(n->in[1][1].from, 2);
  assert_int_equal(dam_genotype_check(&g), 0);
}

#define BASE                                                                   \
  "{\"format\":\"diffautoml-genotype-1\",\"nodes\":1,\"multiplier\":1,"        \
  "\"normal\":[[{\"op\":\"a\",\"from\":0,\"weight\":1}]],"                     \
  "\"reduce\":[[{\"op\":\"b\",\"from\":1,\"weight\":0.5}]]}"

typedef struct bad_case {
  const char *find; /* replaced in BASE; NULL: `repl` is the whole text */
  const char *repl;
  const char *at;   /* the refusal's offset is where this first occurs in
                       the text ("<x": where x last occurs); NULL: not
                       checked */
  const char *what; /* part of the message */
} bad_case;

static const bad_case bad_cases[] = {
    /* malformed JSON */
    {NULL, "", "", "unexpected end"},
    {NULL, "  {", NULL, "offset 3: unexpected end of text, expected a string"},
    {NULL, "[]", "[]", "expected '{'"},
    {NULL, "{}", "}", "no \"format\""},
    {"}]]}", "}]]} x", "x", "text after"},
    {"}]]}", "}]]},{}", ",{}", "text after"},
    {",\"nodes\"", "\"nodes\"", "\"nodes\"", "expected ',' or '}'"},
    {"\"nodes\":1", "\"nodes\" 1", "1,", "expected ':'"},
    {"\"nodes\":1,", "\"nodes\":1,}", "}", "expected a string"},
    {NULL, "{\"format\":\"diffa", NULL, "offset 16: unterminated string"},
    {"\"a\"", "\"a\\q\"", "\\q", "bad escape"},
    {"\"a\"", "\"a\\u12G4\"", "\\u12", "bad \\u escape"},
    {"\"a\"", "\"a\\ud800\"", "\\ud8", "surrogate"},
    {"\"a\"", "\"a\\udc00\"", "\\udc", "surrogate"},
    {"\"a\"", "\"a\\u0000\"", "\\u00", "\\u0000"},
    {"\"a\"", "\"a\tb\"", "\t", "control character"},
    {"\"weight\":1", "\"weight\":01", "01", "bad number"},
    {"\"weight\":1", "\"weight\":1.", "1.", "bad number"},
    {"\"weight\":1", "\"weight\":1e", "1e", "bad number"},
    {"\"weight\":1", "\"weight\":-", "-}", "bad number"},
    {"\"weight\":1", "\"weight\":+1", "+1", "weight is not a number"},
    {"\"format\"", "\"x\":tru,\"format\"", "tru,", "expected a value"},
    {"\"format\"", "\"x\":[1 2],\"format\"", "2]", "expected ',' or ']'"},
    {"\"format\"", "\"x\":{\"a\" 1},\"format\"", "1}", "expected ':'"},
    {"\"format\"", "\"x\":@,\"format\"", "@", "expected a number"},
    {"[[{\"op\":\"a\"", "[[{\"op\":\"a\",}", "},\"from", "expected a string"},
    {"[[{\"op\":\"a\"", "[[{\"op\":\"a\"]", "],\"from", "expected ',' or '}'"},
    {"}]],\"reduce\"", "}],\"reduce\"", "\"reduce\"",
     "expected an array of edges"},
    /* format */
    {"\"format\":\"diffautoml-genotype-1\",", "", "<}", "no \"format\""},
    {"genotype-1", "genotype-2", "\"diffautoml-genotype-2", "unknown format"},
    {"\"diffautoml-genotype-1\"", "1", "1,\"nodes", "expected a string"},
    /* nodes, multiplier */
    {"\"nodes\":1,", "", "<}", "no \"nodes\""},
    {"\"nodes\":1", "\"nodes\":0", "0,", "\"nodes\" is 0"},
    {"\"nodes\":1", "\"nodes\":9", "9,", "\"nodes\" is 9"},
    {"\"nodes\":1", "\"nodes\":1.5", "1.5", "whole number"},
    {"\"nodes\":1", "\"nodes\":\"1\"", "\"1\"", "expected a number"},
    {"\"multiplier\":1,", "", "<}", "no \"multiplier\""},
    {"\"multiplier\":1", "\"multiplier\":0", "0,", "\"multiplier\" is 0"},
    {"\"multiplier\":1", "\"multiplier\":2", "2,", "1..nodes"},
    {"\"nodes\":1", "\"nodes\":1,\"nodes\":1", "\"nodes\":1,\"m",
     "duplicate key"},
    /* cells */
    {",\"reduce\":[[{\"op\":\"b\",\"from\":1,\"weight\":0.5}]]", "", "<}",
     "no \"reduce\""},
    {"\"nodes\":1", "\"nodes\":2", "[[{\"op\":\"a\"", "\"normal\" has 1 nodes"},
    {"\"normal\":[[", "\"normal\":[[{\"op\":\"x\",\"from\":0,\"weight\":1}],[",
     "[[{\"op\":\"x\"", "\"normal\" has 2 nodes"},
    {"\"reduce\":[[{\"op\":\"b\",\"from\":1,\"weight\":0.5}]]", "\"reduce\":[]",
     "[]}", "\"reduce\" has 0 nodes"},
    {"\"reduce\":[[{\"op\":\"b\",\"from\":1,\"weight\":0.5}]]",
     "\"reduce\":[[]]", "[]]", "reduce node 0: no edges"},
    {"\"reduce\":[[",
     "\"reduce\":[[{\"op\":\"y\",\"from\":0,\"weight\":1},"
     "{\"op\":\"z\",\"from\":0,\"weight\":1},",
     "{\"op\":\"b\"", "more than 2 edges"},
    {"\"reduce\":[[{\"op\":\"b\",\"from\":1,\"weight\":0.5}]]", "\"reduce\":{}",
     "{}", "expected an array of nodes"},
    {"\"reduce\":[[", "\"reduce\":[{", "{{", "expected an array of edges"},
    {"\"reduce\":[[", "\"reduce\":[[1,", "1,{", "expected an edge object"},
    /* edges */
    {"\"from\":0", "\"from\":2", "2,\"weight\":1}", "normal node 0: from 2"},
    {"\"from\":0", "\"from\":-1", "-1,", "from -1"},
    {"\"from\":0", "\"from\":0.5", "0.5", "whole number"},
    {"\"from\":0,", "", "{\"op\":\"a\"", "edge without \"from\""},
    {"\"op\":\"a\",", "", "{\"from\":0", "edge without \"op\""},
    {",\"weight\":0.5", "", "{\"op\":\"b\"", "edge without \"weight\""},
    {"{\"op\":\"b\",\"from\":1,\"weight\":0.5}", "{}", "{}]]}",
     "edge without \"op\""},
    {"\"op\":\"a\"", "\"op\":\"\"", "\"\",", "op name of 0 bytes"},
    {"\"op\":\"a\"",
     "\"op\":\"0123456789012345678901234567890123456789012345678901234567890"
     "123\"",
     "\"0123", "op name of 64 bytes"},
    {"\"op\":\"a\"", "\"op\":7", "7,", "expected a string"},
    {"\"weight\":1", "\"weight\":null", "null", "weight is not a number"},
    {"\"weight\":1", "\"weight\":\"1\"", "\"1\"", "weight is not a number"},
    {"\"weight\":1", "\"weight\":1e39", "1e39", "out of float range"},
    {"\"weight\":1", "\"weight\":1,\"weight\":2", "\"weight\":2",
     "duplicate key"},
    {"\"weight\":1", "\"weight\":1,\"alpha\":2", "\"alpha\"",
     "unknown edge key \"alpha\""},
};

static char *with(const bad_case *c) {
  if (!c->find)
    return strdup(c->repl);
  const char *hit = strstr(BASE, c->find);
  assert_non_null(hit);
  size_t pre = (size_t)(hit - BASE);
  size_t n = strlen(BASE) + strlen(c->repl) + 1;
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, "%.*s%s%s", (int)pre, BASE, c->repl, hit + strlen(c->find));
  return s;
}

static void expect_refused(const char *text, const char *source, long offset,
                           const char *what) {
  dam_genotype g = sample(), before = g;
  int rc = dam_genotype_from_json(text, source, &g);
  char want[256];
  snprintf(want, sizeof want, "%s: offset %ld: ", source, offset);
  const char *msg = dam_last_error();
  if (rc != DAM_EDATA ||
      (offset >= 0 ? strncmp(msg, want, strlen(want)) != 0
                   : strstr(msg, ": offset ") == NULL) ||
      !strstr(msg, what))
    fail_msg("text %s\nwant \"%s...%s\" (DAM_EDATA), got \"%s\" (rc %d)", text,
             offset >= 0 ? want : source, what, msg, rc);
  assert_int_equal(memcmp(&g, &before, sizeof g), 0);
}

static void genotype_refusals(void **state) {
  (void)state;
  dam_genotype g;
  assert_int_equal(dam_genotype_from_json(BASE, "base", &g), 0);
  for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
    const bad_case *c = &bad_cases[i];
    char *text = with(c);
    long offset = -1;
    if (c->at) {
      bool last = c->at[0] == '<';
      const char *at = c->at + last, *hit = strstr(text, at);
      if (!hit)
        fail_msg("case %zu: \"%s\" not in %s", i, at, text);
      for (const char *h = hit; last && (h = strstr(h + 1, at));)
        hit = h;
      offset = hit - text;
    }
    expect_refused(text, "case.json", offset, c->what);
    free(text);
  }

  /* more than 8 nodes, at the ninth */
  char text[4096] =
      "{\"format\":\"diffautoml-genotype-1\",\"nodes\":8,\"multiplier\":1,"
      "\"reduce\":[[{\"op\":\"b\",\"from\":1,\"weight\":0.5}]],\"normal\":[";
  long ninth = 0;
  for (int i = 0; i < 9; i++) {
    if (i == 8)
      ninth = (long)strlen(text);
    strcat(text, "[{\"op\":\"a\",\"from\":0,\"weight\":1}],");
  }
  strcpy(text + strlen(text) - 1, "]}");
  expect_refused(text, "nine", ninth, "normal: more than 8 nodes");

  /* an unknown key's value nested too deep */
  char deep[256] = "{\"x\":";
  for (int i = 0; i < 70; i++)
    strcat(deep, "[");
  expect_refused(deep, "deep", 5 + 64, "nested more than 64 deep");

  /* source NULL */
  assert_int_equal(dam_genotype_from_json("", NULL, &g), DAM_EDATA);
  assert_non_null(strstr(dam_last_error(), "genotype: offset 0: "));
}

/* ---- files --------------------------------------------------------------- */

static void genotype_files(void **state) {
  (void)state;
  dam_genotype g = sample(), back;
  const char *path = tmpdir_path("genotype.json");
  assert_int_equal(dam_genotype_write_json(&g, path), 0);
  char *s = slurp(path);
  char *mem = dam_genotype_to_json(&g, true);
  assert_string_equal(s, mem);
  assert_int_equal(s[strlen(s) - 1], '\n');
  free(mem);
  free(s);
  assert_int_equal(dam_genotype_read_json(path, &back), 0);
  assert_true(dam_genotype_equal(&g, &back));
  assert_int_equal(count_entries(".tmp"), 0);

  const char *missing = tmpdir_path("missing.json");
  assert_int_equal(dam_genotype_read_json(missing, &back), DAM_EIO);
  assert_non_null(strstr(dam_last_error(), missing));
  const char *nowhere = tmpdir_path("no/dir/genotype.json");
  assert_int_equal(dam_genotype_write_json(&g, nowhere), DAM_EIO);
  assert_non_null(strstr(dam_last_error(), nowhere));

  const char *bad = tmpdir_path("bad-genotype.json");
  spill(bad, "{\"format\": \"diffautoml-genotype-1\", \"nodes\": 0}");
  back = sample();
  assert_int_equal(dam_genotype_read_json(bad, &back), DAM_EDATA);
  char want[600];
  snprintf(want, sizeof want, "%s: offset 45: ", bad);
  assert_int_equal(strncmp(dam_last_error(), want, strlen(want)), 0);
  assert_true(dam_genotype_equal(&back, &g));

  FILE *f = fopen(bad, "wb");
  assert_non_null(f);
  fwrite("{\"format\"\0", 1, 10, f);
  fclose(f);
  assert_int_equal(dam_genotype_read_json(bad, &back), DAM_EDATA);
  snprintf(want, sizeof want, "%s: offset 9: NUL byte", bad);
  assert_string_equal(dam_last_error(), want);
}

static void genotype_dot(void **state) {
  (void)state;
  dam_genotype g = sample();
  for (int k = 0; k < 2; k++) {
    const char *path = tmpdir_path(k ? "reduce.dot" : "normal.dot");
    assert_int_equal(dam_genotype_write_dot(&g, k, path), 0);
    char *s = slurp(path);
    assert_non_null(strstr(s, k ? "digraph reduce {" : "digraph normal {"));
    assert_non_null(strstr(s, "rankdir=LR"));
    assert_non_null(strstr(s, "\"c_{k-2}\" [fillcolor=darkseagreen2]"));
    assert_non_null(strstr(s, "\"c_{k-1}\" [fillcolor=darkseagreen2]"));
    assert_non_null(strstr(s, "\"3\" [fillcolor=lightblue]"));
    assert_non_null(strstr(s, "\"c_{k}\" [fillcolor=palegoldenrod]"));
    for (uint32_t i = 0; i < g.nodes; i++)
      for (uint32_t e = 0; e < g.cell[k].n_in[i]; e++) {
        const char *op = g.cell[k].in[i][e].op;
        if (!strchr(op, '"'))
          assert_non_null(strstr(s, op));
      }
    int to_out = 0;
    for (const char *p = s; (p = strstr(p, "-> \"c_{k}\"")); p++)
      to_out++;
    assert_int_equal(to_out, g.multiplier);
    assert_null(strstr(s, "\"0\" -> \"c_{k}\""));
    assert_non_null(strstr(s, "\"3\" -> \"c_{k}\""));
    if (k == 0) {
      assert_non_null(
          strstr(s, "\"c_{k-2}\" -> \"0\" [label=\"sep_conv_3x3\\n0.61\""));
      assert_non_null(
          strstr(s, "\"0\" -> \"1\" [label=\"dil_conv_5x5\\n0.33\""));
    } else {
      assert_non_null(
          strstr(s, "[label=\"op \\\"quoted\\\" \\\\ name\\n2.00\""));
    }
    free(s);
  }
  assert_int_equal(dam_genotype_write_dot(&g, 2, tmpdir_path("x.dot")),
                   DAM_EINVAL);
  const char *nowhere = tmpdir_path("no/dir/x.dot");
  assert_int_equal(dam_genotype_write_dot(&g, 0, nowhere), DAM_EIO);
  assert_non_null(strstr(dam_last_error(), nowhere));
}

/* A fake `dot` in DIR/bin running `body`; PATH becomes that directory
 * alone. */
static void fake_dot(const char *body) {
  char bin[512];
  snprintf(bin, sizeof bin, "%s", tmpdir_path("bin"));
  mkdir(bin, 0777);
  char dot[600];
  snprintf(dot, sizeof dot, "%s/dot", bin);
  FILE *f = fopen(dot, "w");
  assert_non_null(f);
  fprintf(f, "#!/bin/sh\n%s\n", body);
  fclose(f);
  chmod(dot, 0755);
  setenv("PATH", bin, 1);
}

static void genotype_svg(void **state) {
  (void)state;
  dam_genotype g = sample();
  const char *dot = tmpdir_path("svg.dot");
  const char *svg = tmpdir_path("normal.svg");
  assert_int_equal(dam_genotype_write_dot(&g, DAM_CELL_NORMAL, dot), 0);

  int rc = dam_genotype_render_svg(dot, svg);
  if (rc == 0) {
    char *s = slurp(svg);
    assert_true(strncmp(s, "<?xml", 5) == 0 || strstr(s, "<svg"));
    free(s);
    unlink(svg);
  } else {
    assert_int_equal(rc, 1);
    assert_int_equal(access(svg, F_OK), -1);
  }

  char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  assert_non_null(path);
  fake_dot("[ \"$1\" = -Tsvg ] && [ \"$3\" = -o ] && [ -s \"$2\" ] &&"
           " printf '<svg>fake</svg>\\n' > \"$4\"");
  assert_int_equal(dam_genotype_render_svg(dot, svg), 0);
  char *s = slurp(svg);
  assert_string_equal(s, "<svg>fake</svg>\n");
  free(s);

  fake_dot(": > \"$4\"; exit 3");
  assert_int_equal(dam_genotype_render_svg(dot, svg), DAM_EIO);
  assert_non_null(strstr(dam_last_error(), dot));
  assert_non_null(strstr(dam_last_error(), "exit status 3"));
  s = slurp(svg);
  assert_string_equal(s, "<svg>fake</svg>\n");
  free(s);
  assert_int_equal(count_entries("normal.svg.tmp"), 0);

  setenv("PATH", tmpdir_path("nothing-here"), 1);
  dam_clear_error();
  assert_int_equal(dam_genotype_render_svg(dot, tmpdir_path("none.svg")), 1);
  assert_string_equal(dam_last_error(), "");
  assert_int_equal(count_entries("none.svg"), 0);
  setenv("PATH", path, 1);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(genotype_python_reads),
      cmocka_unit_test(genotype_round_trip),
      cmocka_unit_test(genotype_equal_and_check),
      cmocka_unit_test(genotype_parses_handwritten),
      cmocka_unit_test(genotype_refusals),
      cmocka_unit_test(genotype_files),
      cmocka_unit_test(genotype_dot),
      cmocka_unit_test(genotype_svg),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
