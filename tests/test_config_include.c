/*
 * @include tests: the included file is found relative to the including
 * file (also from another working directory, and nested), an @include in
 * a block comment is ignored, and a missing file, a cycle, a malformed
 * line and errors inside an included file are reported at the real
 * FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_fixtures.h"
#include "error.h"

#define WHERE(cfg, key) dam_config_where(cfg, key, where, sizeof where)

static void include_errors(void **state) {
  (void)state;
  const char *p =
      cfg_write("inc/missing.cfg", "seed = 1;\n@include \"nope.cfg\"\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:2: cannot open @include file 'nope.cfg' "
                   "(%s/inc/nope.cfg): No such file or directory",
                   p, tmpdir_get());
  char a[512], b[512];
  snprintf(a, sizeof a, "%s", cfg_write("inc/a.cfg", "@include \"b.cfg\"\n"));
  snprintf(b, sizeof b, "%s",
           cfg_write("inc/b.cfg", "seed = 1;\n@include "
                                  "\"a.cfg\"\n"));
  cfg_expect_error(a, NULL, 0, "%s:2: @include cycle: %s -> %s -> %s", b, a, b,
                   a);
  p = cfg_write("inc/self.cfg", "\n\n@include \"self.cfg\"\n");
  cfg_expect_error(p, NULL, 0, "%s:3: @include cycle: %s -> %s", p, p, p);
  p = cfg_write("inc/malformed.cfg", "@include nope.cfg\n");
  cfg_expect_error(p, NULL, 0,
                   "%s:1: malformed @include (expected @include "
                   "\"FILE\")",
                   p);
}

static void include_error_inside(void **state) {
  (void)state;
  char main_path[512], part[512];
  snprintf(main_path, sizeof main_path, "%s",
           cfg_write("in/main.cfg",
                     "seed = 1;\n# two\n@include "
                     "\"parts/train.cfg\"\ndata = { val_ratio = 2.0; };\n"));
  snprintf(part, sizeof part, "%s",
           cfg_write("in/parts/train.cfg",
                     "train = {\n  batch_size = 32;\n  momentom = 0.9;\n};\n"));
  cfg_expect_error(main_path, NULL, 0,
                   "%s:3: unknown key 'train.momentom' "
                   "(did you mean 'train.momentum'?)",
                   part);
  cfg_write("in/parts/train.cfg", "train = {\n  batch_size = ;\n};\n");
  cfg_expect_error(main_path, NULL, 0, "%s:2: syntax error", part);
  /* the including file's lines after the include map back to it */
  cfg_write("in/parts/train.cfg", "train = {\n  batch_size = 32;\n};\n");
  cfg_expect_error(main_path, NULL, 0,
                   "%s:4: data.val_ratio = 2 is out of "
                   "range [0, 0.9] (default 0.5)",
                   main_path);
  cfg_write("in/parts/train.cfg", "data = { shuffle = false; };\n");
  cfg_expect_error(main_path, NULL, 0,
                   "%s:4: duplicate setting name (a "
                   "setting may appear once across a file and its @includes; "
                   "use -s to change one)",
                   main_path);
}

static void include_relative_to_including_file(void **state) {
  (void)state;
  char main_path[512], cwd[1024], dir[512], where[512], want[512];
  dam_config cfg;
  snprintf(main_path, sizeof main_path, "%s",
           cfg_write("rel/sub/main.cfg", "@include \"parts/a.cfg\"\n"));
  cfg_write("rel/sub/parts/a.cfg",
            "@include \"b.cfg\"\nseed = 5;\n"
            "/* @include \"not-there.cfg\"\n@include \"not-there.cfg\" */\n");
  cfg_write("rel/sub/parts/b.cfg", "# b\ntrain = { batch_size = 8; };\n");
  assert_non_null(getcwd(cwd, sizeof cwd));

  assert_int_equal(chdir("/"), 0);
  cfg_load_ok(main_path, NULL, 0, &cfg);
  assert_int_equal(cfg.seed, 5);
  assert_int_equal(cfg.train.batch_size, 8);
  uint32_t n;
  const char *const *files = dam_config_files(&cfg, &n);
  assert_int_equal(n, 3);
  assert_string_equal(files[0], main_path);
  snprintf(want, sizeof want, "%s/rel/sub/parts/b.cfg", tmpdir_get());
  assert_string_equal(files[2], want);
  dam_config_free(&cfg);

  snprintf(dir, sizeof dir, "%s/rel", tmpdir_get());
  assert_int_equal(chdir(dir), 0);
  cfg_load_ok("sub/main.cfg", NULL, 0, &cfg);
  files = dam_config_files(&cfg, &n);
  assert_string_equal(files[1], "sub/parts/a.cfg");
  assert_string_equal(WHERE(&cfg, "train.batch_size"), "sub/parts/b.cfg:2");
  assert_string_equal(WHERE(&cfg, "seed"), "sub/parts/a.cfg:2");
  dam_config_free(&cfg);
  assert_int_equal(chdir(cwd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(include_errors),
      cmocka_unit_test(include_error_inside),
      cmocka_unit_test(include_relative_to_including_file),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup,
                                tmpdir_teardown);
}
