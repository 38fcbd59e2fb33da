/*
 * The config against loaded plugins: a registry holding the in-tree
 * skip_connect op and two test plugins, good_param (op good_op with an
 * int, a float and a bool parameter) and dup_a (op dup_op, no
 * parameters).  Unknown op / augment / hpo / module names
 * get FILE:LINE and a did-you-mean among the loaded names; plugins.load
 * restricts where names may come from; op_params go through each
 * plugin's declared table (unknown parameter, out of range, non-integer);
 * the checked config records every parameter of the plugins it uses and
 * fills a params block for the engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_fixtures.h"
#include "error.h"
#include "plugin.h"

#ifndef TEST_PLUGIN_DIR
#error "build with -DTEST_PLUGIN_DIR=\"<build dir of tests/plugins>\""
#endif
#ifndef SKIP_CONNECT_PATH
#error "build with -DSKIP_CONNECT_PATH=\"<built skip_connect.so>\""
#endif

#define GOOD_PARAM_PATH TEST_PLUGIN_DIR "/good_param.so"
#define DUP_A_PATH TEST_PLUGIN_DIR "/dup_a.so"

/* good_param.c's params block */
typedef struct {
  int32_t width;
  int32_t enabled;
  double rate;
} good_params;

static dam_registry *reg;

static int setup(void **state) {
  if (tmpdir_setup(state))
    return -1;
  reg = dam_registry_new();
  if (!reg || dam_registry_load_file(reg, SKIP_CONNECT_PATH) ||
      dam_registry_load_file(reg, GOOD_PARAM_PATH) ||
      dam_registry_load_file(reg, DUP_A_PATH)) {
    fprintf(stderr, "setup: %s\n", dam_last_error());
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  dam_registry_free(reg);
  return tmpdir_teardown(state);
}

/* Load text (it must load) and run the plugin check on it. */
static int check(const char *text, dam_config *cfg, const char **path) {
  *path = cfg_write("plugins.cfg", text);
  cfg_load_ok(*path, NULL, 0, cfg);
  return dam_config_check_plugins(cfg, reg);
}

/* The check fails with exactly the formatted message (after %s, the
 * file's path). */
static void expect_check_error(const char *text, const char *fmt) {
  dam_config cfg;
  const char *path;
  char want[1024];
  assert_int_equal(check(text, &cfg, &path), DAM_ECONFIG);
  snprintf(want, sizeof want, fmt, path);
  assert_string_equal(dam_last_error(), want);
  dam_config_free(&cfg);
}

static void known_names_pass(void **state) {
  (void)state;
  dam_config cfg;
  const char *path;
  assert_int_equal(check("plugins = { load = [\"skip_connect\", "
                         "\"good_param\"]; };\n"
                         "search_space = { ops = [\"skip_connect\", "
                         "\"good_op\"]; };\n",
                         &cfg, &path),
                   0);
  /* good_op's declared parameters are recorded with their defaults */
  const dam_config_params *ps = &cfg.search_space.op_params;
  const dam_config_plugin_params *good = NULL;
  for (uint32_t i = 0; i < ps->n; i++)
    if (strcmp(ps->v[i].plugin, "good_op") == 0)
      good = &ps->v[i];
  assert_non_null(good);
  assert_int_equal(good->n, 3);
  assert_string_equal(good->params[0].name, "width");
  assert_int_equal(good->params[0].type, DAM_PARAM_INT);
  assert_true(good->params[0].value == 3);
  assert_null(good->params[0].loc.file); /* a default */
  assert_string_equal(good->params[1].name, "rate");
  assert_int_equal(good->params[1].type, DAM_PARAM_FLOAT);
  assert_string_equal(good->params[2].name, "enabled");
  assert_int_equal(good->params[2].type, DAM_PARAM_BOOL);
  dam_config_free(&cfg);
  /* an op without parameters gets no group */
  assert_int_equal(
      check("search_space = { ops = [\"dup_op\"]; };\n", &cfg, &path), 0);
  assert_int_equal(cfg.search_space.op_params.n, 0);
  dam_config_free(&cfg);
}

static void unknown_names(void **state) {
  (void)state;
  expect_check_error("search_space = {\n  ops = [\"skip_connect\", "
                     "\"god_op\"];\n};\n",
                     "%s:2: search_space.ops: no op plugin named 'god_op' "
                     "(did you mean 'good_op'?)");
  expect_check_error("search_space = { ops = [\"conv_7x7\"]; };\n",
                     "%s:1: search_space.ops: no op plugin named 'conv_7x7' "
                     "(loaded: skip_connect, good_op, dup_op)");
  expect_check_error("search_space = { ops = [\"dup_op\"]; };\n"
                     "da = { ops = [\"rotate\"]; };\n",
                     "%s:2: da.ops: no augment plugin named 'rotate' (none "
                     "is loaded)");
  expect_check_error("search_space = { ops = [\"dup_op\"]; };\n"
                     "hpo = {\n  modules = [\"learning_rate\"];\n};\n",
                     "%s:3: hpo.modules: no hpo plugin named "
                     "'learning_rate' (none is loaded)");
  expect_check_error("plugins = { load = [\"skip_conect\"]; };\n",
                     "%s:1: plugins.load: no plugin module named "
                     "'skip_conect' was found (did you mean "
                     "'skip_connect'?)");
  expect_check_error("plugins = { load = [\"resnet\"]; };\n",
                     "%s:1: plugins.load: no plugin module named 'resnet' "
                     "was found (found: skip_connect, good_param, dup_a)");
  expect_check_error("search_space = { ops = [\"dup_op\"]; };\n"
                     "nas = { method = \"darts\"; };\n",
                     "%s: nas.darts.include_none: no op plugin named 'none' "
                     "(loaded: skip_connect, good_op, dup_op)");
}

static void load_restricts_sources(void **state) {
  (void)state;
  char fmt[512];
  snprintf(fmt, sizeof fmt,
           "%%s:2: search_space.ops: op 'good_op' comes "
           "from plugin 'good_param' (%s), which plugins.load does not list",
           GOOD_PARAM_PATH);
  expect_check_error("plugins = { load = [\"skip_connect\"]; };\n"
                     "search_space = { ops = [\"skip_connect\", \"good_op\"]; "
                     "};\n",
                     fmt);
}

static const char *op_params_cfg(const char *params) {
  static char text[512];
  snprintf(text, sizeof text,
           "search_space = {\n  ops = [\"good_op\"];\n  op_params = {\n"
           "    good_op = {\n      %s\n    };\n  };\n};\n",
           params);
  return text;
}

static void op_params_checked_against_plugin(void **state) {
  (void)state;
  expect_check_error(op_params_cfg("widht = 3;"),
                     "%s:5: search_space.op_params.good_op.widht: op "
                     "'good_op' has no parameter 'widht' (did you mean "
                     "'width'?)");
  expect_check_error(op_params_cfg("zzzzzz = 3;"),
                     "%s:5: search_space.op_params.good_op.zzzzzz: op "
                     "'good_op' has no parameter 'zzzzzz' (it has: width, "
                     "rate, enabled)");
  expect_check_error(op_params_cfg("width = 9;"),
                     "%s:5: search_space.op_params.good_op.width: op "
                     "'good_op': parameter 'width' must be an integer in [1, "
                     "8] (default 3), got 9");
  expect_check_error(op_params_cfg("rate = 0.5;\n      width = 2.5;"),
                     "%s:6: search_space.op_params.good_op.width: op "
                     "'good_op': parameter 'width' must be an integer in [1, "
                     "8] (default 3), got 2.5");
  expect_check_error("search_space = { ops = [\"skip_connect\"];\n  "
                     "op_params = { god_op = { width = 3; }; }; };\n",
                     "%s:2: search_space.op_params: no op plugin named "
                     "'god_op' (did you mean 'good_op'?)");
  expect_check_error("search_space = { ops = [\"skip_connect\"];\n  "
                     "op_params = { dup_op = { x = 1; }; }; };\n",
                     "%s:2: search_space.op_params.dup_op.x: op 'dup_op' has "
                     "no parameter 'x' (it has none)");
  expect_check_error("search_space = { ops = [\"dup_op\"]; };\n"
                     "da = { op_params = {\n  good_op = { width = 3; }; }; "
                     "};\n",
                     "%s:3: da.op_params: no augment plugin named 'good_op' "
                     "(none is loaded)");
}

static void fill_params_block(void **state) {
  (void)state;
  const char *path = cfg_write("fill.cfg", op_params_cfg("rate = 0.5;"));
  const char *set[] = {"search_space.op_params.good_op.width=5"};
  const dam_desc_header *good =
      dam_registry_find(reg, DAM_KIND_OP, "good_op", NULL);
  const dam_desc_header *dup =
      dam_registry_find(reg, DAM_KIND_OP, "dup_op", NULL);
  assert_non_null(good);
  assert_non_null(dup);
  assert_int_equal(good->params_size, sizeof(good_params));
  dam_config cfg;
  good_params block;
  cfg_load_ok(path, set, 1, &cfg);
  assert_int_equal(dam_config_check_plugins(&cfg, reg), 0);
  memset(&block, 0, sizeof block);
  assert_int_equal(dam_config_fill_params(&cfg, good, &block), 0);
  assert_int_equal(block.width, 5);
  assert_true(block.rate == 0.5);
  assert_int_equal(block.enabled, 1);
  char one;
  assert_int_equal(dam_config_fill_params(&cfg, dup, &one), 0);

  /* the resolved config records every parameter, and reads back */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  assert_int_equal(dam_config_print(&cfg, mem, false), 0);
  fclose(mem);
  assert_non_null(strstr(text, "good_op = { width = 5; rate = 0.5; enabled = "
                               "true; };"));
  dam_config_free(&cfg);
  cfg_load_ok(cfg_write("fill-resolved.cfg", text), NULL, 0, &cfg);
  assert_int_equal(dam_config_check_plugins(&cfg, reg), 0);
  char *again = NULL;
  mem = open_memstream(&again, &len);
  assert_int_equal(dam_config_print(&cfg, mem, false), 0);
  fclose(mem);
  assert_string_equal(text, again);
  free(text);
  free(again);
  dam_config_free(&cfg);

  /* unchecked, an out-of-range value still fails with its location */
  path = cfg_write("fill.cfg", op_params_cfg("width = 99;"));
  cfg_load_ok(path, NULL, 0, &cfg);
  assert_int_equal(dam_config_fill_params(&cfg, good, &block), DAM_ECONFIG);
  char want[512];
  snprintf(want, sizeof want,
           "%s:5: search_space.op_params.good_op.width: "
           "op 'good_op': parameter 'width' must be an integer in [1, 8] "
           "(default 3), got 99",
           path);
  assert_string_equal(dam_last_error(), want);
  dam_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(known_names_pass),
      cmocka_unit_test(unknown_names),
      cmocka_unit_test(load_restricts_sources),
      cmocka_unit_test(op_params_checked_against_plugin),
      cmocka_unit_test(fill_params_block),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
