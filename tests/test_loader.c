/*
 * Plugin loader tests: every refusal class (one broken plugin each, from
 * tests/plugins), that good plugins load beside broken ones, discovery
 * order and de-duplication, the params helpers, and the skip_connect op
 * driven through a recording fake of the host API.
 */
#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "plugin.h"

#ifndef TEST_PLUGIN_DIR
#error "build with -DTEST_PLUGIN_DIR=\"<build dir of tests/plugins>\""
#endif
#ifndef SKIP_CONNECT_PATH
#error "build with -DSKIP_CONNECT_PATH=\"<built skip_connect.so>\""
#endif

#define PLUGIN(stem) TEST_PLUGIN_DIR "/" stem ".so"

/* ---- helpers ------------------------------------------------------- */

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static void copy_file(const char *from, const char *dir, const char *name) {
  char *to = path_join(dir, name), buf[65536];
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  assert_non_null(in);
  assert_non_null(out);
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
  free(to);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char *to = path_join(dir, name);
  FILE *out = fopen(to, "w");
  assert_non_null(out);
  fputs(text, out);
  assert_int_equal(fclose(out), 0);
  free(to);
}

static char *make_temp_dir(void) {
  char tmpl[] = "/tmp/dam_loader_XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char *dir = strdup(tmpl);
  assert_non_null(dir);
  return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Remove a temp dir made by these tests, and free its name. */
static void remove_tree(char *dir) {
  assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
  free(dir);
}

static void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle))
    fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

/* True when the file is currently mapped by the dynamic loader. */
static int is_loaded(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != NULL;
}

static const dam_refusal *refusal_of(const dam_registry *reg,
                                     const char *path) {
  for (uint32_t i = 0; i < reg->n_refused; i++)
    if (!strcmp(reg->refused[i].path, path)) return &reg->refused[i];
  return NULL;
}

/* ---- refusals, one file each ---------------------------------------- */

typedef struct refusal_case {
  const char *pre;    /* loaded first (and must load), or NULL */
  const char *path;   /* the file refused */
  const char *want[3]; /* substrings of the reason */
} refusal_case;

static void check_refusal(const refusal_case *c) {
  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  if (c->pre) assert_int_equal(dam_registry_load_file(reg, c->pre), 0);
  uint32_t loaded = reg->n_plugins;

  dam_clear_error();
  assert_int_equal(dam_registry_load_file(reg, c->path), DAM_EPLUGIN);
  assert_int_equal(reg->n_refused, 1);
  assert_int_equal(reg->n_plugins, loaded);
  const dam_refusal *r = &reg->refused[0];
  assert_string_equal(r->path, c->path);
  assert_null(strchr(r->reason, '\n'));
  for (int i = 0; i < 3 && c->want[i]; i++) assert_contains(r->reason, c->want[i]);

  /* dam_last_error() is exactly "PATH: REASON". */
  char expect[2048];
  snprintf(expect, sizeof expect, "%s: %s", c->path, r->reason);
  assert_string_equal(dam_last_error(), expect);
  assert_false(is_loaded(c->path)); /* refused files are dlclosed */
  dam_registry_free(reg);
}

static void test_refusal(void **state) { check_refusal(*state); }

static char size_msg[8][256];

static refusal_case cases[] = {
    {NULL, PLUGIN("no_entry"), {"no entry symbol dam_plugin_entry_v1"}},
    {NULL, PLUGIN("wrong_abi"),
     {"dam_plugin_entry_v2", "built for plugin ABI 2, this host speaks ABI 1"}},
    {NULL, PLUGIN("null_entry"), {"dam_plugin_entry_v1 returned NULL"}},
    {NULL, PLUGIN("too_new"), {size_msg[0]}},
    {NULL, PLUGIN("bad_default"),
     {"parameter 'level' of op 'bad_default_op'",
      "default 9 is outside its range [0, 4]"}},
    {PLUGIN("dup_a"), PLUGIN("dup_b"),
     {"op 'dup_op' is already provided by " PLUGIN("dup_a"), "module 'dup_a'"}},
    {PLUGIN("dup_a"), PLUGIN("malformed_same_module"),
     {"module 'dup_a' is already loaded from " PLUGIN("dup_a")}},
    {NULL, PLUGIN("malformed_wrong_major"),
     {"module says plugin ABI 2, this host speaks ABI 1"}},
    {NULL, PLUGIN("malformed_module_too_small"), {size_msg[1]}},
    {NULL, PLUGIN("malformed_desc_too_new"),
     {"built against a newer SDK", size_msg[2]}},
    {NULL, PLUGIN("malformed_desc_too_small"), {size_msg[3]}},
    {NULL, PLUGIN("malformed_param_too_new"),
     {"built against a newer SDK", size_msg[4]}},
    {NULL, PLUGIN("malformed_unknown_kind"),
     {"descriptor #0 ('malformed_unknown_kind_op') has unknown kind 9"}},
    {NULL, PLUGIN("malformed_no_name"), {"op descriptor #0 has no name"}},
    {NULL, PLUGIN("malformed_bad_name"),
     {"op descriptor #0 is named 'bad name': not [A-Za-z0-9_]+"}},
    {NULL, PLUGIN("malformed_no_infer"),
     {"op 'malformed_no_infer_op' has no infer_shape"}},
    {NULL, PLUGIN("malformed_newer_minor"),
     {"built against plugin SDK 1.4, this host speaks 1.3"}},
    {NULL, PLUGIN("malformed_no_forward"),
     {"op 'malformed_no_forward_op' has no forward"}},
    {NULL, PLUGIN("malformed_param_offset"),
     {"parameter 'gain' of op 'malformed_param_offset_op'",
      "bytes [0, 8), past the 4-byte params block"}},
    {NULL, PLUGIN("malformed_param_type"),
     {"parameter 'gain' of op 'malformed_param_type_op' has unknown type 7"}},
    {NULL, PLUGIN("malformed_listed_twice"),
     {"op 'malformed_listed_twice_op' is listed twice"}},
    {NULL, TEST_PLUGIN_DIR "/does_not_exist.so",
     {"cannot open: No such file or directory"}},
};

/* Size messages depend on this host's struct sizes. */
static int setup_size_messages(void **state) {
  (void)state;
  const size_t pad = 2 * sizeof(uint64_t);
  snprintf(size_msg[0], sizeof size_msg[0],
           "built against a newer SDK (ABI %d.%d, host %d.%d): dam_module is "
           "%zu bytes, host knows %zu",
           DAM_ABI_MAJOR, DAM_ABI_MINOR + 1, DAM_ABI_MAJOR, DAM_ABI_MINOR,
           sizeof(dam_module) + pad, sizeof(dam_module));
  snprintf(size_msg[1], sizeof size_msg[1],
           "dam_module is 16 bytes, less than the %zu of ABI 1.0",
           sizeof(dam_module));
  snprintf(size_msg[2], sizeof size_msg[2],
           "op descriptor 'malformed_desc_too_new_op' is %zu bytes, host "
           "knows %zu",
           sizeof(dam_op_desc) + pad, sizeof(dam_op_desc));
  snprintf(size_msg[3], sizeof size_msg[3],
           "op descriptor 'malformed_desc_too_small_op' is %zu bytes, less "
           "than the %zu of ABI 1.0",
           sizeof(dam_desc_header), sizeof(dam_op_desc));
  snprintf(size_msg[4], sizeof size_msg[4],
           "parameter #0 of op 'malformed_param_too_new_op' is %zu bytes, "
           "host knows %zu",
           sizeof(dam_param_desc) + pad, sizeof(dam_param_desc));
  return 0;
}

static void test_not_elf(void **state) {
  (void)state;
  char *dir = make_temp_dir(), *path = path_join(dir, "not_elf.so");
  write_text(dir, "not_elf.so",
             "This is a text file that merely carries a .so suffix; the "
             "loader must refuse it without crashing.\n");
  refusal_case c = {NULL, path, {"not a loadable shared object ("}};
  check_refusal(&c);
  free(path);
  remove_tree(dir);
}

/* ---- good plugins ---------------------------------------------------- */

static void test_good_plugin_loads(void **state) {
  (void)state;
  const dam_plugin *owner = NULL;
  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_int_equal(dam_registry_load_file(reg, PLUGIN("good_param")), 0);
  assert_int_equal(reg->n_plugins, 1);
  assert_int_equal(reg->n_refused, 0);
  assert_string_equal(reg->plugins[0].path, PLUGIN("good_param"));
  assert_string_equal(reg->plugins[0].module->name, "good_param");
  assert_string_equal(reg->plugins[0].module->version, "2.1");
  assert_string_equal(reg->plugins[0].module->license, "BSD-2-Clause");

  const dam_desc_header *d =
      dam_registry_find(reg, DAM_KIND_OP, "good_op", &owner);
  assert_non_null(d);
  assert_ptr_equal(owner, &reg->plugins[0]);
  assert_string_equal(d->summary, "y = rate * x when enabled");
  assert_int_equal(d->n_params, 3);
  assert_null(dam_registry_find(reg, DAM_KIND_HPO, "good_op", NULL));
  assert_null(dam_registry_find(reg, DAM_KIND_OP, "missing_op", NULL));

  assert_true(is_loaded(PLUGIN("good_param")));
  dam_registry_free(reg);
  assert_false(is_loaded(PLUGIN("good_param")));
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(dam_kind_name(DAM_KIND_OP), "op");
  assert_string_equal(dam_kind_name(DAM_KIND_AUGMENT), "augment");
  assert_string_equal(dam_kind_name(DAM_KIND_HPO), "hpo");
  assert_string_equal(dam_kind_name(0), "?");
  assert_string_equal(dam_kind_name(42), "?");
}

/* Good and broken plugins in one directory: sorted, none stops another. */
static void test_load_dir_mixed(void **state) {
  (void)state;
  static const char *const good[] = {"dup_a", "good_param"};
  static const struct {
    const char *stem, *want;
  } bad[] = {
      {"bad_default", "default 9 is outside its range [0, 4]"},
      {"dup_b", "op 'dup_op' is already provided by "},
      {"no_entry", "no entry symbol dam_plugin_entry_v1"},
      {"not_elf", "not a loadable shared object"},
      {"null_entry", "returned NULL"},
      {"too_new", "built against a newer SDK"},
      {"wrong_abi", "built for plugin ABI 2"},
  };
  char *dir = make_temp_dir(), name[64];
  for (size_t i = 0; i < 2; i++) {
    snprintf(name, sizeof name, "%s.so", good[i]);
    char *from = path_join(TEST_PLUGIN_DIR, name);
    copy_file(from, dir, name);
    free(from);
  }
  copy_file(SKIP_CONNECT_PATH, dir, "skip_connect.so");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(name, sizeof name, "%s.so", bad[i].stem);
    if (strcmp(bad[i].stem, "not_elf") == 0) continue; /* written below */
    char *from = path_join(TEST_PLUGIN_DIR, name);
    copy_file(from, dir, name);
    free(from);
  }
  write_text(dir, "not_elf.so", "text, not ELF: the loader must say so\n");
  write_text(dir, "README.txt", "not a plugin: ignored (no .so suffix)\n");
  char *sub = path_join(dir, "subdir.so");
  assert_int_equal(mkdir(sub, 0700), 0); /* a directory: skipped */
  free(sub);

  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_int_equal(dam_registry_load_dir(reg, dir), 7);
  assert_int_equal(reg->n_plugins, 3);
  assert_int_equal(reg->n_refused, 7);
  const char *order[] = {"dup_a.so", "good_param.so", "skip_connect.so"};
  for (size_t i = 0; i < 3; i++) {
    char *want = path_join(dir, order[i]);
    assert_string_equal(reg->plugins[i].path, want);
    free(want);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(name, sizeof name, "%s.so", bad[i].stem);
    char *path = path_join(dir, name);
    assert_string_equal(reg->refused[i].path, path); /* sorted too */
    assert_contains(reg->refused[i].reason, bad[i].want);
    free(path);
  }
  char *dup_a = path_join(dir, "dup_a.so");
  assert_contains(reg->refused[1].reason, dup_a); /* both files named */
  free(dup_a);
  assert_non_null(dam_registry_find(reg, DAM_KIND_OP, "skip_connect", NULL));
  assert_non_null(dam_registry_find(reg, DAM_KIND_OP, "good_op", NULL));
  dam_registry_free(reg);
  remove_tree(dir);
}

static void test_load_dir_missing_or_not_dir(void **state) {
  (void)state;
  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_int_equal(dam_registry_load_dir(reg, "/nonexistent/dam/plugins"), 0);
  assert_int_equal(reg->n_refused, 0);
  assert_int_equal(dam_registry_load_dir(reg, PLUGIN("good_param")), 1);
  assert_int_equal(reg->n_refused, 1);
  assert_contains(reg->refused[0].reason, "cannot read plugin directory");
  assert_int_equal(reg->n_plugins, 0);
  dam_registry_free(reg);
}

/* ---- discovery ------------------------------------------------------- */

/* config dirs, then $DIFFAUTOML_PLUGIN_PATH, each directory once. */
static void test_discover_order(void **state) {
  (void)state;
  char *root = make_temp_dir();
  char *a = path_join(root, "a"), *b = path_join(root, "b"),
       *link = path_join(root, "link_to_a");
  assert_int_equal(mkdir(a, 0700), 0);
  assert_int_equal(mkdir(b, 0700), 0);
  assert_int_equal(symlink(a, link), 0);
  copy_file(PLUGIN("good_param"), a, "good_param.so");
  copy_file(PLUGIN("good_param"), b, "good_param.so"); /* a clash */
  copy_file(PLUGIN("dup_a"), b, "dup_a.so");

  char config[1024], env[1024];
  snprintf(config, sizeof config, "%s:/nonexistent/dir::%s", a, a);
  snprintf(env, sizeof env, "%s:%s", b, link);
  assert_int_equal(setenv("DIFFAUTOML_PLUGIN_PATH", env, 1), 0);

  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_true(dam_registry_discover(reg, config) >= 1);
  assert_true(reg->n_plugins >= 2);
  char *a_good = path_join(a, "good_param.so"),
       *b_good = path_join(b, "good_param.so"), *b_dup = path_join(b, "dup_a.so");
  assert_string_equal(reg->plugins[0].path, a_good);
  assert_string_equal(reg->plugins[1].path, b_dup);
  const dam_refusal *r = refusal_of(reg, b_good);
  assert_non_null(r);
  assert_contains(r->reason, "module 'good_param' is already loaded from ");
  assert_contains(r->reason, a_good);
  /* a was scanned once, though named three times. */
  assert_null(refusal_of(reg, a_good));
  for (uint32_t i = 0; i < reg->n_refused; i++)
    assert_null(strstr(reg->refused[i].path, "link_to_a"));
  dam_registry_free(reg);

  assert_int_equal(unsetenv("DIFFAUTOML_PLUGIN_PATH"), 0);
  free(a_good);
  free(b_good);
  free(b_dup);
  free(a);
  free(b);
  free(link);
  remove_tree(root);
}

static void test_discover_env_only(void **state) {
  (void)state;
  char *dir = make_temp_dir();
  copy_file(SKIP_CONNECT_PATH, dir, "skip_connect.so");
  assert_int_equal(setenv("DIFFAUTOML_PLUGIN_PATH", dir, 1), 0);
  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_true(dam_registry_discover(reg, NULL) >= 0);
  const dam_plugin *owner = NULL;
  assert_non_null(dam_registry_find(reg, DAM_KIND_OP, "skip_connect", &owner));
  char *want = path_join(dir, "skip_connect.so");
  assert_string_equal(owner->path, want);
  assert_ptr_equal(owner, &reg->plugins[0]);
  free(want);
  dam_registry_free(reg);
  assert_int_equal(unsetenv("DIFFAUTOML_PLUGIN_PATH"), 0);
  remove_tree(dir);
}

/* ---- params ---------------------------------------------------------- */

typedef struct { /* good_param.c's block */
  int32_t width;
  int32_t enabled;
  double rate;
} good_params;

static void test_params(void **state) {
  (void)state;
  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_int_equal(dam_registry_load_file(reg, PLUGIN("good_param")), 0);
  const dam_desc_header *d =
      dam_registry_find(reg, DAM_KIND_OP, "good_op", NULL);
  assert_non_null(d);
  assert_int_equal(d->params_size, sizeof(good_params));

  good_params p;
  memset(&p, 0, sizeof p);
  dam_params_defaults(d, &p);
  assert_int_equal(p.width, 3);
  assert_int_equal(p.enabled, 1);
  assert_true(p.rate == 0.25);

  assert_int_equal(dam_params_set(d, &p, "width", 8), 0);
  assert_int_equal(dam_params_set(d, &p, "rate", 1.0), 0);
  assert_int_equal(dam_params_set(d, &p, "enabled", 0), 0);
  assert_int_equal(p.width, 8);
  assert_true(p.rate == 1.0);
  assert_int_equal(p.enabled, 0);

  assert_int_equal(dam_params_set(d, &p, "width", 9), DAM_ERANGE);
  assert_contains(dam_last_error(), "op 'good_op': parameter 'width'");
  assert_contains(dam_last_error(), "an integer in [1, 8] (default 3), got 9");
  assert_int_equal(dam_params_set(d, &p, "width", 2.5), DAM_ERANGE);
  assert_contains(dam_last_error(), "an integer");
  assert_int_equal(dam_params_set(d, &p, "rate", 1.5), DAM_ERANGE);
  assert_contains(dam_last_error(), "[0, 1] (default 0.25), got 1.5");
  assert_int_equal(dam_params_set(d, &p, "rate", NAN), DAM_ERANGE);
  assert_int_equal(dam_params_set(d, &p, "enabled", 2), DAM_ERANGE);
  assert_int_equal(dam_params_set(d, &p, "enabled", -1), DAM_ERANGE);
  assert_int_equal(p.width, 8); /* failures leave the block alone */
  assert_true(p.rate == 1.0);
  assert_int_equal(p.enabled, 0);

  assert_int_equal(dam_params_set(d, &p, "depth", 1), DAM_ENOTFOUND);
  assert_contains(dam_last_error(), "op 'good_op' has no parameter 'depth'");
  assert_contains(dam_last_error(), "width, rate, enabled");
  dam_registry_free(reg);
}

/* ---- skip_connect's shape rules and identity, without a device ------- */

static void test_skip_connect(void **state) {
  (void)state;
  dam_registry *reg = dam_registry_new();
  assert_non_null(reg);
  assert_int_equal(dam_registry_load_file(reg, SKIP_CONNECT_PATH), 0);
  const dam_op_desc *op = (const dam_op_desc *)dam_registry_find(
      reg, DAM_KIND_OP, "skip_connect", NULL);
  assert_non_null(op);
  assert_int_equal(op->hdr.struct_size, sizeof(dam_op_desc));
  assert_null(op->backward); /* composed from the host's layers */
  int32_t params = 0;

  dam_op_site site = {sizeof site, 1, 16, 16};
  dam_shape in = {4, {8, 16, 31, 32}}, out, half = {4, {8, 16, 16, 16}};
  memset(&out, 0, sizeof out);
  assert_int_equal(op->infer_shape(&params, &site, &in, &out), 0);
  assert_memory_equal(&out, &in, sizeof in);
  site.stride = 2; /* factorized reduce */
  assert_int_equal(op->infer_shape(&params, &site, &in, &out), 0);
  assert_memory_equal(&out, &half, sizeof half);
  site.c_out = 17; /* two equal halves needed */
  assert_int_equal(op->infer_shape(&params, &site, &in, &out),
                   DAM_PLUGIN_EINVAL);
  site.stride = 1; /* identity keeps the channels */
  assert_int_equal(op->infer_shape(&params, &site, &in, &out),
                   DAM_PLUGIN_EINVAL);

  site.c_out = 16;
  int t;
  dam_host_api host = {.struct_size = sizeof host, .abi_minor = DAM_ABI_MINOR};
  dam_op_call call = {.struct_size = sizeof call, .site = &site,
                      .params = &params, .in = (dam_tensor *)&t};
  assert_int_equal(op->forward(&host, &call), 0);
  assert_ptr_equal(call.out, call.in);
  dam_registry_free(reg);
}

int main(void) {
  struct CMUnitTest tests[64];
  size_t n = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *slash = strrchr(cases[i].path, '/');
    tests[n++] = (struct CMUnitTest){slash ? slash + 1 : cases[i].path,
                                     test_refusal, NULL, NULL, &cases[i]};
  }
  const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_not_elf),
      cmocka_unit_test(test_good_plugin_loads),
      cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_load_dir_mixed),
      cmocka_unit_test(test_load_dir_missing_or_not_dir),
      cmocka_unit_test(test_discover_order),
      cmocka_unit_test(test_discover_env_only),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_skip_connect),
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    tests[n++] = fixed[i];
  unsetenv("DIFFAUTOML_PLUGIN_PATH");
  return _cmocka_run_group_tests("loader", tests, n, setup_size_messages,
                                 NULL);
}
