#!/bin/sh
# The built `diffautoml search` end to end, one mode per meson test:
#   dry_run   configs/quickstart.cfg --dry-run: exit 0, the summary, no files
#   broken    broken configs: exit 2, one stderr line naming FILE:LINE,
#             nothing on stdout, nothing written
#   resolved  a very small run: OUTPUT_DIR/config.resolved.cfg is written
#             and checks out again
#   docs      docs/CONFIG.md's key table is `diffautoml config-keys`
# usage: check_search_cli.sh MODE DIFFAUTOML SOURCE_ROOT
set -eu
mode=$1 exe=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"

fail() { echo "FAIL: $*"; for f in out err; do [ -f "$tmp/$f" ] && { echo "--- $f"; cat "$tmp/$f"; }; done; exit 1; }

run() { # run ARGS...: sets rc, output in $tmp/out and $tmp/err
  set +e
  "$exe" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
}

expect_broken() { # expect_broken FILE LINE-TEXT [ARGS...]
  cfg=$1 want=$2
  shift 2
  run search "$cfg" --dry-run -s output_dir="$tmp/never" "$@"
  [ "$rc" = 2 ] || fail "$cfg: exit $rc, want 2"
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$cfg: stderr is not one line"
  grep -qF -- "$want" "$tmp/err" || fail "$cfg: stderr lacks '$want'"
  [ ! -s "$tmp/out" ] || fail "$cfg: something on stdout"
  [ ! -e "$tmp/never" ] || fail "$cfg: wrote the output dir"
  echo "ok: $(cat "$tmp/err")"
}

case $mode in
dry_run)
  run search configs/quickstart.cfg --dry-run -s output_dir="$tmp/run"
  [ "$rc" = 0 ] || fail "exit $rc"
  cat "$tmp/out"
  for want in '^config  *configs/quickstart.cfg (@include: configs/common.cfg)$' \
      '^dataset  *fashion_mnist from ' '^images  *1x28x28, 10 classes$' \
      '^split  *50000 of 60000 training images: 45000 train, 5000 validation' \
      '^batches  *64 per batch, partial batch dropped: 703 training batches' \
      '^parameters  *[0-9.]* M in the supernet' '^flops  *[0-9.]* MFLOPs per image' \
      '^memory  *[0-9.]* MiB for batch 64' \
      '^normalize  *mean 0\.[0-9]* std 0\.[0-9]* (of the training split)$' \
      '^search space  *5 cells' \
      '^ops  *max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5$' \
      '^op params  *max_pool_3x3: kernel=3$' '^nas  *ista' \
      '^da  *identity, auto_contrast, equalize, rotate, posterize, solarize, color, contrast, brightness, sharpness, shear_x, shear_y, translate_x, translate_y (196 sub-policies)' '^hpo  *learning_rate, weight_decay$' \
      '^output .*dry run: nothing written'; do
    grep -q -- "$want" "$tmp/out" || fail "no line matching '$want'"
  done
  [ ! -s "$tmp/err" ] || fail "stderr not empty"
  [ ! -e "$tmp/run" ] || fail "--dry-run wrote $tmp/run"
  # On lavapipe the device line names its threads and why.
  if grep -q '^device .*(cpu)' "$tmp/out" && [ -z "${LP_NUM_THREADS+x}" ]; then
    n=$(getconf _NPROCESSORS_ONLN)
    grep -q "^device .*(cpu), a worker thread per CPU (cpu_threads automatic: 100352 floats a first-stage activation, $n CPUs; then timed against the other choice if that pays)\$" "$tmp/out" ||
      fail "the device line does not name lavapipe's threads"
  fi
  ;;
broken)
  printf 'seed = 1;\ntrain = {\n  batch_size = 0;\n};\n' >"$tmp/range.cfg"
  expect_broken "$tmp/range.cfg" \
    "$tmp/range.cfg:3: train.batch_size = 0 is out of range [1, 4096] (default 64)"
  printf 'data = {\n  val_ratoi = 0.3;\n};\n' >"$tmp/typo.cfg"
  mkdir "$tmp/inc"
  printf '# main\n@include "../typo.cfg"\n' >"$tmp/inc/main.cfg"
  expect_broken "$tmp/inc/main.cfg" \
    "$tmp/inc/../typo.cfg:2: unknown key 'data.val_ratoi' (did you mean 'data.val_ratio'?)"
  printf 'train = {\n  batch_size = \n};\n' >"$tmp/parse.cfg"
  expect_broken "$tmp/parse.cfg" "$tmp/parse.cfg:3: syntax error"
  printf 'search_space = {\n  ops = ["skip_conect"];\n};\n' >"$tmp/op.cfg"
  expect_broken "$tmp/op.cfg" \
    "$tmp/op.cfg:2: search_space.ops: no op plugin named 'skip_conect' (did you mean 'skip_connect'?)"
  expect_broken configs/quickstart.cfg \
    "-s: unknown key 'train.batch_sise' (did you mean 'train.batch_size'?)" \
    -s train.batch_sise=3
  expect_broken configs/quickstart.cfg "/nonexistent: not found" \
    -s data.path=/nonexistent
  expect_broken configs/quickstart.cfg \
    "-s: hpo.params.learning_rate: min = 0.1 must be below max = 0.05" \
    -s hpo.params.learning_rate.min=0.1
  run search
  [ "$rc" = 2 ] || fail "no config: exit $rc, want 2"
  ;;
resolved)
  run search configs/quickstart.cfg -s output_dir="$tmp/run/a" \
    -s train.batch_size=16 -s data.train_limit=64 -s data.test_limit=16 \
    -s search_space.cells=3 -s search_space.channels=2 \
    -s search_space.nodes=1 -s train.search_epochs=1 -s train.final_epochs=1
  [ "$rc" = 0 ] || fail "exit $rc, want 0"
  f=$tmp/run/a/config.resolved.cfg
  [ -f "$f" ] || fail "no $f"
  head -n 3 "$f"
  grep -q '^# source: configs/quickstart.cfg (@include: configs/common.cfg)$' "$f" ||
    fail "header lacks the source"
  grep -q '^  batch_size = 16;$' "$f" || fail "override not in $f"
  cp "$f" "$tmp/resolved.cfg"
  run search "$tmp/resolved.cfg" --dry-run
  [ "$rc" = 0 ] || fail "the resolved config does not check out: exit $rc"
  ;;
docs)
  run config-keys
  [ "$rc" = 0 ] || fail "config-keys: exit $rc"
  sed -n '/<!-- config-keys:begin -->/,/<!-- config-keys:end -->/p' \
    docs/CONFIG.md | sed '1d;$d' >"$tmp/doc"
  diff -u "$tmp/doc" "$tmp/out" ||
    fail "docs/CONFIG.md's key table is stale: paste \`diffautoml config-keys\`"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
echo "ok: $mode"
