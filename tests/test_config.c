/*
 * Config tests on files written to a temporary directory: defaults, values
 * and their locations, every error class with its FILE:LINE (unknown key
 * with did-you-mean, wrong type, out of range, bad enum, hpo modules,
 * parse errors, rules between keys), -s overrides, the resolved config's
 * round trip and the shipped configs.  @include: test_config_include.c;
 * plugin names: test_config_plugins.c.
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

#ifndef SOURCE_ROOT
#error "build with -DSOURCE_ROOT=\"<the source tree>\""
#endif

#define WHERE(cfg, key) dam_config_where(cfg, key, where, sizeof where)

/* ---- defaults and values ---------------------------------------------- */

static void defaults_fill_every_key(void **state) {
  (void)state;
  dam_config cfg;
  char where[128];
  cfg_load_ok(NULL, NULL, 0, &cfg);
  assert_int_equal(cfg.seed, 0);
  assert_string_equal(cfg.device, "");
  assert_string_equal(cfg.output_dir, "runs/default");
  assert_int_equal(cfg.data.dataset, DAM_CONFIG_FASHION_MNIST);
  assert_true(cfg.data.val_ratio == 0.5);
  assert_int_equal(cfg.data.normalize, DAM_CONFIG_NORM_DATASET);
  assert_int_equal(cfg.data.partial_batch, DAM_CONFIG_PARTIAL_DROP);
  assert_true(cfg.data.shuffle);
  assert_int_equal(cfg.search_space.cells, 8);
  assert_int_equal(cfg.search_space.channels, 16);
  assert_int_equal(cfg.search_space.nodes, 4);
  assert_int_equal(cfg.search_space.stem_multiplier, 3);
  assert_int_equal(cfg.search_space.ops.n, 7);
  assert_string_equal(cfg.search_space.ops.v[0], "max_pool_3x3");
  assert_string_equal(cfg.search_space.ops.v[6], "dil_conv_5x5");
  assert_true(cfg.search_space.auxiliary_weight == 0.4);
  assert_int_equal(cfg.nas.method, DAM_CONFIG_NAS_ISTA);
  assert_true(cfg.nas.arch_lr == 3e-4 && cfg.nas.arch_beta1 == 0.5 &&
              cfg.nas.arch_beta2 == 0.999 && cfg.nas.arch_wd == 1e-3);
  assert_int_equal(cfg.nas.ista.proj_dims, 8);
  assert_int_equal(cfg.nas.ista.sparseness, 2);
  assert_int_equal(cfg.nas.darts.order, 1);
  assert_false(cfg.da.enabled);
  assert_true(cfg.da.temperature == 2.0 && cfg.da.momentum == 0.9);
  assert_false(cfg.hpo.enabled);
  assert_int_equal(cfg.hpo.modules.n, 0);
  assert_int_equal(cfg.train.batch_size, 64);
  assert_true(cfg.train.weight_lr == 0.025 && cfg.train.weight_decay == 3e-4);
  assert_true(cfg.train.momentum == 0.9 && cfg.train.grad_clip == 5.0 &&
              cfg.train.drop_path == 0.2);
  assert_string_equal(WHERE(&cfg, "train.batch_size"), "default");
  assert_string_equal(WHERE(&cfg, "train.no_such_key"), "?");
  dam_config_free(&cfg);
  dam_config_free(&cfg); /* zeroed: fine */
  dam_config_free(NULL);
}

static void values_and_locations(void **state) {
  (void)state;
  const char *path =
      cfg_write("values.cfg", "# values\n"
                              "seed = 7;\n"
                              "data = {\n"
                              "  val_ratio = 0.25;\n"
                              "  normalize = \"fixed\";\n"
                              "  mean = [0.5];\n"
                              "  std = (0.25);\n"
                              "};\n"
                              "train = { weight_lr = 1; batch_size = 16; };\n"
                              "search_space = { ops = (\"a\", \"b\"); };\n");
  dam_config cfg;
  char where[512], want[512];
  cfg_load_ok(path, NULL, 0, &cfg);
  assert_int_equal(cfg.seed, 7);
  assert_true(cfg.data.val_ratio == 0.25);
  assert_int_equal(cfg.data.normalize, DAM_CONFIG_NORM_FIXED);
  assert_int_equal(cfg.data.mean.n, 1);
  assert_true(cfg.data.mean.v[0] == 0.5 && cfg.data.std.v[0] == 0.25);
  assert_true(cfg.train.weight_lr == 1.0); /* an int for a float key */
  assert_int_equal(cfg.train.batch_size, 16);
  assert_int_equal(cfg.search_space.ops.n, 2);
  assert_string_equal(cfg.search_space.ops.v[1], "b");
  assert_string_equal(cfg.output_dir, "runs/values");
  snprintf(want, sizeof want, "%s:4", path);
  assert_string_equal(WHERE(&cfg, "data.val_ratio"), want);
  snprintf(want, sizeof want, "%s:9", path);
  assert_string_equal(WHERE(&cfg, "train.weight_lr"), want);
  dam_config_free(&cfg);
}

/* ---- error classes ----------------------------------------------------- */

static void unknown_keys_suggest(void **state) {
  (void)state;
  const char *p =
      cfg_write("unknown.cfg", "data = {\n  val_ratoi = 0.3;\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: unknown key 'data.val_ratoi' (did you "
                   "mean 'data.val_ratio'?)",
                   p);
  p = cfg_write("unknown.cfg", "seed = 1;\ntrain = { val_ratio = 0.3; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: unknown key 'train.val_ratio' (did you "
                   "mean 'data.val_ratio'?)",
                   p);
  p = cfg_write("unknown.cfg", "dta = { val_ratio = 0.3; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: unknown key 'dta' (did you mean "
                   "'data'?)",
                   p);
  p = cfg_write("unknown.cfg", "nas = {\n  ista = {\n    proj_dim = 4;\n"
                               "  };\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:3: unknown key 'nas.ista.proj_dim' (did "
                   "you mean 'nas.ista.proj_dims'?)",
                   p);
  p = cfg_write("unknown.cfg", "colour = 3;\n");
  cfg_expect_error(p, NULL, 0, "%s:1: unknown key 'colour'", p);
}

static void wrong_types(void **state) {
  (void)state;
  const char *p =
      cfg_write("type.cfg", "data = {\n  val_ratio = \"half\";\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: data.val_ratio: expected a float, got a "
                   "string",
                   p);
  p = cfg_write("type.cfg", "train = { batch_size = 32.0; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: train.batch_size: expected an integer, "
                   "got a float",
                   p);
  p = cfg_write("type.cfg", "data = { shuffle = 1; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: data.shuffle: expected a bool, got an "
                   "integer",
                   p);
  p = cfg_write("type.cfg", "search_space = { ops = \"skip_connect\"; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: search_space.ops: expected a list of "
                   "strings, got a string",
                   p);
  p = cfg_write("type.cfg", "search_space = {\n  ops = (\"a\",\n    1);\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:3: search_space.ops[1]: expected a string, "
                   "got an integer",
                   p);
  p = cfg_write("type.cfg", "nas = 3;\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: nas: expected a group (it is a "
                   "section), got an integer",
                   p);
  p = cfg_write("type.cfg", "search_space = { op_params = { x = { a = "
                            "\"b\"; }; }; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: search_space.op_params.x.a: expected a "
                   "number or a bool, got a string",
                   p);
}

static void out_of_range_and_enums(void **state) {
  (void)state;
  const char *p = cfg_write("range.cfg", "train = {\n  batch_size = 0;\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: train.batch_size = 0 is out of range "
                   "[1, 4096] (default 64)",
                   p);
  p = cfg_write("range.cfg", "data = { val_ratio = 0.95; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: data.val_ratio = 0.95 is out of range "
                   "[0, 0.9] (default 0.5)",
                   p);
  p = cfg_write("range.cfg", "\nnas = { arch_lr = -1e-3; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: nas.arch_lr = -0.001 is out of range "
                   "[0, 1] (default 3e-4)",
                   p);
  p = cfg_write("enum.cfg", "nas = {\n  method = \"dart\";\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: nas.method = \"dart\" is not one of "
                   "\"ista\", \"darts\" (did you mean \"darts\"?)",
                   p);
  p = cfg_write("enum.cfg", "data = { dataset = \"mnist\"; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: data.dataset = \"mnist\" is not one of "
                   "\"fashion_mnist\", \"cifar10\", \"cifar100\"",
                   p);
}

static const char *hpo_cfg(const char *modules, const char *params) {
  static char text[512];
  snprintf(text, sizeof text,
           "hpo = {\n  enabled = true;\n  modules = %s;\n  params = %s;\n};\n",
           modules, params);
  return cfg_write("hpo.cfg", text);
}

static void hpo_modules(void **state) {
  (void)state;
  dam_config cfg;
  const char *p = hpo_cfg("[\"lr\", \"wd\"]",
                          "{ lr = { min = 1e-3; log_space = true; }; }");
  cfg_load_ok(p, NULL, 0, &cfg);
  assert_int_equal(cfg.hpo.modules.n, 2);
  assert_string_equal(cfg.hpo.modules.v[0], "lr");
  assert_string_equal(cfg.hpo.modules.v[1], "wd");
  assert_int_equal(cfg.hpo.params.n, 1);
  assert_string_equal(cfg.hpo.params.v[0].plugin, "lr");
  assert_int_equal(cfg.hpo.params.v[0].n, 2);
  assert_true(cfg.hpo.params.v[0].params[0].value == 1e-3);
  assert_int_equal(cfg.hpo.params.v[0].params[1].type, DAM_PARAM_BOOL);
  assert_int_equal(cfg.hpo.params.v[0].loc.line, 4);
  dam_config_free(&cfg);

  p = hpo_cfg("[\"lr\", \"lr\"]", "{}");
  cfg_expect_error(p, NULL, 0, "%s:3: hpo.modules: 'lr' is listed twice", p);
  p = hpo_cfg("3", "{}");
  cfg_expect_error(p, NULL, 0,
                   "%s:3: hpo.modules: expected a list of strings, got an "
                   "integer",
                   p);
  p = hpo_cfg("[\"lr\"]", "{ lr = 0.1; }");
  cfg_expect_error(p, NULL, 0,
                   "%s:4: hpo.params.lr: expected a group of plugin "
                   "parameters, got a float",
                   p);
  p = hpo_cfg("[\"lr\"]", "{ lr = { min = \"small\"; }; }");
  cfg_expect_error(p, NULL, 0,
                   "%s:4: hpo.params.lr.min: expected a number or a bool, "
                   "got a string",
                   p);
  p = cfg_write("hpo.cfg", "hpo = { lr = 1e-3; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: unknown key 'hpo.lr' (did you mean 'da.lr'?)", p);
  p = cfg_write("hpo.cfg", "hpo = { enabled = true; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: hpo.enabled = true needs at least one "
                   "module in hpo.modules",
                   p);
}

static void parse_errors(void **state) {
  (void)state;
  const char *p = cfg_write("parse.cfg", "train = {\n  batch_size = 32\n"
                                         "  momentum = ;\n};\n");
  cfg_expect_error(p, NULL, 0, "%s:3: syntax error", p);
  p = cfg_write("parse.cfg", "seed = 1;\nseed = 2;\n");
  cfg_expect_error(p, NULL, 0, "%s:2: duplicate setting name", p);
  p = tmpdir_path("absent.cfg");
  cfg_expect_error(p, NULL, 0, "%s: cannot read: No such file or directory", p);
}

static void rules_between_keys(void **state) {
  (void)state;
  const char *p = cfg_write("rules.cfg", "seed = 1;\ndata = { dataset = "
                                         "\"cifar10\"; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: data.path must name the directory "
                   "holding data_batch_1.bin ... data_batch_5.bin and "
                   "test_batch.bin for data.dataset = \"cifar10\"",
                   p);
  p = cfg_write("rules.cfg", "data = {\n  normalize = \"fixed\";\n"
                             "  mean = [0.5, 0.5];\n  std = [0.2];\n};\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:3: data.mean has 2 values; data.normalize "
                   "= \"fixed\" needs one per channel (1 for fashion_mnist)",
                   p);
  p = cfg_write("rules.cfg", "data = {\n  normalize = \"fixed\";\n"
                             "  mean = [0.5];\n  std = [0.0];\n};\n");
  cfg_expect_error(p, NULL, 0, "%s:4: data.std[0] = 0 must be > 0", p);
  p = cfg_write("rules.cfg", "da = { enabled = true; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: da.enabled = true needs at least one op "
                   "in da.ops",
                   p);
  p = cfg_write("rules.cfg", "search_space = { ops = []; };\n");
  cfg_expect_error(p, NULL, 0, "%s:1: search_space.ops: no candidate ops", p);
  p = cfg_write("rules.cfg",
                "search_space = { ops = [\"a\", \"b\", \"a\"]; };\n");
  cfg_expect_error(p, NULL, 0, "%s:1: search_space.ops: 'a' is listed twice",
                   p);
  p = cfg_write("rules.cfg", "data = { val_ratio = 0; };\nnas = { method = "
                             "\"darts\"; };\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: data.val_ratio = 0 leaves no validation "
                   "images, which nas.method = \"darts\" needs",
                   p);
}

/* ---- -s overrides ------------------------------------------------------ */

static void overrides_typed(void **state) {
  (void)state;
  const char *p = cfg_write("ov.cfg", "train = { batch_size = 64; };\n");
  const char *const sets[] = {
      "train.batch_size=8",
      " train.batch_size = 16 ",
      "data.dataset=cifar10",
      "data.path=/data/cifar 10",
      "search_space.ops=[skip_connect, \"good_op\"]",
      "data.normalize=fixed",
      "data.mean=[0.49, 0.48, 1]",
      "data.std=[0.25, 0.24, 0.26]",
      "nas.ista.dist_limit=1e-4",
      "data.shuffle=false",
      "hpo.modules=[lr]",
      "hpo.params.lr.max=0.05",
      "search_space.op_params.good_op.width=5",
      "search_space.op_params.good_op={ rate = 0.5; }",
      "device=\"llvm\"",
      "seed=0x10",
  };
  dam_config cfg;
  char where[64];
  cfg_load_ok(p, sets, sizeof sets / sizeof *sets, &cfg);
  assert_int_equal(cfg.train.batch_size, 16);
  assert_int_equal(cfg.data.dataset, DAM_CONFIG_CIFAR10);
  assert_string_equal(cfg.data.path, "/data/cifar 10");
  assert_int_equal(cfg.search_space.ops.n, 2);
  assert_string_equal(cfg.search_space.ops.v[1], "good_op");
  assert_int_equal(cfg.data.mean.n, 3);
  assert_true(cfg.data.mean.v[2] == 1.0 && cfg.data.std.v[1] == 0.24);
  assert_true(cfg.nas.ista.dist_limit == 1e-4);
  assert_false(cfg.data.shuffle);
  assert_int_equal(cfg.hpo.modules.n, 1);
  assert_true(cfg.hpo.params.v[0].params[0].value == 0.05);
  assert_string_equal(cfg.device, "llvm");
  assert_int_equal(cfg.seed, 16);
  /* the whole-group override replaced the earlier single parameter */
  assert_int_equal(cfg.search_space.op_params.n, 1);
  assert_int_equal(cfg.search_space.op_params.v[0].n, 1);
  assert_string_equal(cfg.search_space.op_params.v[0].params[0].name, "rate");
  assert_string_equal(WHERE(&cfg, "train.batch_size"), "-s");
  assert_string_equal(WHERE(&cfg, "data.dataset"), "-s");
  dam_config_free(&cfg);
}

static void overrides_errors(void **state) {
  (void)state;
  const char *p = cfg_write("ov.cfg", "seed = 1;\n");
#define OV(arg, ...)                                                           \
  do {                                                                         \
    const char *set[] = {arg};                                                 \
    cfg_expect_error(p, set, 1, __VA_ARGS__);                                  \
  } while (0)
  OV("train.batchsize=3", "-s: unknown key 'train.batchsize' (did you mean "
                          "'train.batch_size'?)");
  OV("nas=3", "-s: unknown key 'nas' ('nas' is a section: set its keys)");
  OV("search_space.op_params.a.b.c=1", "-s: unknown key "
                                       "'search_space.op_params.a.b.c'");
  OV("train.batch_size", "-s: expected key.path=value, got 'train.batch_size'");
  OV("train.batch_size=abc", "-s: train.batch_size: cannot read 'abc' as an "
                             "integer");
  OV("train.batch_size=1.5", "-s: train.batch_size: expected an integer, got "
                             "a float");
  OV("data.shuffle=yes", "-s: data.shuffle: cannot read 'yes' as a bool");
  OV("data.val_ratio=\"x\"", "-s: data.val_ratio: expected a float, got a "
                             "string");
  OV("search_space.ops=skip_connect",
     "-s: search_space.ops: cannot read "
     "'skip_connect' as a list of strings [a, b, ...]");
  OV("search_space.ops=[a,,b]", "-s: search_space.ops: cannot read '[a,,b]' "
                                "as a list of strings [a, b, ...]");
  OV("train.batch_size=0", "-s: train.batch_size = 0 is out of range [1, "
                           "4096] (default 64)");
  OV("nas.method=dart", "-s: nas.method = \"dart\" is not one of \"ista\", "
                        "\"darts\" (did you mean \"darts\"?)");
  OV("search_space.op_params.good_op.width=wide",
     "-s: "
     "search_space.op_params.good_op.width: cannot read 'wide' as a number or "
     "bool");
  OV("hpo.params.lr.max=big", "-s: hpo.params.lr.max: cannot read 'big' as "
                              "a number or bool");
#undef OV
}

/* ---- the resolved config ----------------------------------------------- */

static const char full_cfg[] =
    "seed = 3;\n"
    "device = \"llvm\\\"pipe\";\n"
    "output_dir = \"out dir\";\n"
    "plugins = { path = \"/a:/b\"; load = [\"skip_connect\"]; };\n"
    "data = { val_ratio = 0.3; train_limit = 1000; normalize = \"fixed\";\n"
    "  mean = [0.286]; std = [0.353]; partial_batch = \"pad\"; shuffle = "
    "false; };\n"
    "search_space = { ops = [\"skip_connect\", \"good_op\"]; auxiliary = "
    "true;\n"
    "  op_params = { good_op = { width = 5; rate = 0.1; enabled = false; }; "
    "}; };\n"
    "nas = { method = \"darts\"; darts = { order = 2; }; arch_lr = 0.1; };\n"
    "da = { temperature = 1.5; };\n"
    "hpo = { enabled = true; modules = [\"learning_rate\", \"weight_decay\"];\n"
    "  params = { weight_decay = { init = 3e-4; log_space = true; }; }; };\n"
    "train = { weight_decay = 0.1; };\n";

/* Text after the header comment. */
static const char *body(const char *text) {
  while (*text == '#')
    text = strchr(text, '\n') + 1;
  return text;
}

static void resolved_round_trip(void **state) {
  (void)state;
  const char *src = cfg_write("rt/full.cfg", full_cfg);
  char resolved[512], header[1024];
  snprintf(resolved, sizeof resolved, "%s", tmpdir_path("rt/resolved.cfg"));
  const char *set[] = {"train.batch_size=33"};
  dam_config cfg;
  setenv("SOURCE_DATE_EPOCH", "0", 1);

  cfg_load_ok(src, set, 1, &cfg);
  assert_int_equal(dam_config_write(&cfg, resolved), 0);
  dam_config_free(&cfg);
  char *first = cfg_read_all(resolved);
  snprintf(header, sizeof header,
           " resolved config, written 1970-01-01T00:00:00Z\n"
           "# source: %s\n# overrides: -s train.batch_size=33\n",
           src);
  assert_int_equal(strncmp(first, "# diffautoml ", 13), 0);
  const char *at = strstr(first, header); /* after the version */
  assert_non_null(at);
  assert_true(at < strchr(first, '\n'));
  assert_non_null(strstr(first, "\n  batch_size = 33;\n"));
  assert_non_null(strstr(first, "\ndevice = \"llvm\\\"pipe\";\n"));
  assert_non_null(strstr(first, "\n  magnitude_final = 4.0;\n"));
  assert_non_null(strstr(first, "\n  weight_decay = 0.1;\n"));
  assert_non_null(strstr(first, "modules = [\"learning_rate\", "
                                "\"weight_decay\"];"));
  assert_non_null(strstr(first, "weight_decay = { init = 0.0003; "
                                "log_space = true; };"));

  /* load -> write -> load -> write: the same body, then the same bytes */
  cfg_load_ok(resolved, NULL, 0, &cfg);
  assert_string_equal(cfg.device, "llvm\"pipe");
  assert_int_equal(cfg.train.batch_size, 33);
  assert_int_equal(cfg.hpo.modules.n, 2);
  assert_int_equal(dam_config_write(&cfg, resolved), 0);
  dam_config_free(&cfg);
  char *second = cfg_read_all(resolved);
  assert_string_equal(body(first), body(second));
  cfg_load_ok(resolved, NULL, 0, &cfg);
  assert_int_equal(dam_config_write(&cfg, resolved), 0);
  dam_config_free(&cfg);
  char *third = cfg_read_all(resolved);
  assert_string_equal(second, third);
  free(first);
  free(second);
  free(third);

  /* defaults only: also a fixed point */
  cfg_load_ok(NULL, NULL, 0, &cfg);
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  assert_int_equal(dam_config_print(&cfg, mem, false), 0);
  fclose(mem);
  dam_config_free(&cfg);
  cfg_load_ok(cfg_write("rt/defaults.cfg", text), NULL, 0, &cfg);
  char *again = NULL;
  mem = open_memstream(&again, &len);
  assert_int_equal(dam_config_print(&cfg, mem, false), 0);
  fclose(mem);
  dam_config_free(&cfg);
  assert_string_equal(text, again);
  free(text);
  free(again);
  unsetenv("SOURCE_DATE_EPOCH");
}

static void write_error_names_file(void **state) {
  (void)state;
  dam_config cfg;
  char path[512];
  cfg_load_ok(NULL, NULL, 0, &cfg);
  snprintf(path, sizeof path, "%s/no/such/dir/x.cfg", tmpdir_get());
  assert_int_equal(dam_config_write(&cfg, path), DAM_EIO);
  assert_non_null(strstr(dam_last_error(), "/no/such/dir/x.cfg"));
  dam_config_free(&cfg);
}

/* ---- shipped configs ----------------------------------------------------- */

static void shipped_configs_load(void **state) {
  (void)state;
  dam_config cfg;
  uint32_t n;
  cfg_load_ok(SOURCE_ROOT "/configs/quickstart.cfg", NULL, 0, &cfg);
  assert_string_equal(dam_config_files(&cfg, &n)[1],
                      SOURCE_ROOT "/configs/common.cfg");
  assert_int_equal(cfg.data.train_limit, 50000);
  assert_int_equal(cfg.train.batch_size, 64);
  assert_true(cfg.da.enabled);
  assert_int_equal(cfg.da.ops.n, 14);
  assert_true(cfg.hpo.enabled);
  assert_int_equal(cfg.hpo.modules.n, 2);
  dam_config_free(&cfg);
  cfg_load_ok(SOURCE_ROOT "/configs/fashion_mnist.cfg", NULL, 0, &cfg);
  assert_int_equal(cfg.search_space.ops.n, 7);
  dam_config_free(&cfg);
  const char *p = SOURCE_ROOT "/configs/cifar10.cfg";
  cfg_expect_error(p, NULL, 0,
                   "%s:15: data.path must name the directory "
                   "holding data_batch_1.bin ... data_batch_5.bin and "
                   "test_batch.bin for data.dataset = \"cifar10\"",
                   p);
  const char *set[] = {"data.path=/data/cifar-10-batches-bin"};
  cfg_load_ok(p, set, 1, &cfg);
  assert_int_equal(cfg.search_space.cells, 8);
  assert_int_equal(cfg.search_space.channels, 16);
  assert_int_equal(cfg.train.batch_size, 64);
  assert_true(cfg.data.val_ratio == 0.5);
  dam_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_fill_every_key),
      cmocka_unit_test(values_and_locations),
      cmocka_unit_test(unknown_keys_suggest),
      cmocka_unit_test(wrong_types),
      cmocka_unit_test(out_of_range_and_enums),
      cmocka_unit_test(hpo_modules),
      cmocka_unit_test(parse_errors),
      cmocka_unit_test(rules_between_keys),
      cmocka_unit_test(overrides_typed),
      cmocka_unit_test(overrides_errors),
      cmocka_unit_test(resolved_round_trip),
      cmocka_unit_test(write_error_names_file),
      cmocka_unit_test(shipped_configs_load),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup,
                                tmpdir_teardown);
}
