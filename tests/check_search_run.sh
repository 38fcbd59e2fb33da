#!/bin/sh
# Real `diffautoml search` runs end to end, one mode per meson test; the
# checks on their outputs are in check_search_run.py.
#   tiny     CI's tiny search (3 cells, 4 channels, 1000 images, 1 search +
#            1 final epoch): exit 0, the loss falls, every output file
#            parses, `diffautoml eval` repeats summary.json's accuracy
#   resume   a run killed with SIGKILL after its first epoch's checkpoint,
#            and one stopped by SIGINT mid-epoch, resumed: the same
#            genotype, metrics, summary and model as the uninterrupted run
#   darts    the tiny search in DARTS mode (3 search epochs), first order
#            without HPO and second order with it: exit 0, the loss falls,
#            every output file parses
#   nan      an op that turns NaN in the second epoch (tests/plugins/
#            poison.c): exit 1, one line naming the step, the NaN and the
#            checkpoint; the first epoch's checkpoint is kept
#   threads  the tiny search with lavapipe's dispatches on its queue thread
#            and split over two workers (cpu_threads 0 and 2), and with a
#            trial of both on each phase's first steps (cpu_threads_trial
#            always; it reopens the run through a checkpoint): the same
#            genotype, metrics, summary and model
#   refuse   --resume without a checkpoint, a batch beyond the device's
#            memory, eval of a truncated model: exit != 0, one clear line,
#            nothing of a good run overwritten
# usage: check_search_run.sh MODE DIFFAUTOML SOURCE_ROOT POISON_SO
set -euf
mode=$1 exe=$2 src=$3 poison=$4
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
bg=
trap 'if [ -n "$bg" ]; then kill -9 "$bg" 2>/dev/null || :; fi; rm -rf "$tmp"' EXIT
cd "$src"

fail() {
  echo "FAIL: $*"
  for f in out err; do [ -f "$tmp/$f" ] && { echo "--- $f"; cat "$tmp/$f"; }; done
  exit 1
}

check() { # check COMMAND ARGS...: check_search_run.py
  /usr/bin/python3 "$here/check_search_run.py" "$@" || fail "check $1"
}

run() { # run ARGS...: sets rc, output in $tmp/out and $tmp/err
  set +e
  "$exe" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
}

one_line() { # one_line WHAT TEXT...: stderr is one line with every TEXT
  what=$1
  shift
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$what: stderr is not one line"
  for want in "$@"; do
    grep -qiF -- "$want" "$tmp/err" || fail "$what: stderr lacks '$want'"
  done
  echo "ok: $what: $(cat "$tmp/err")"
}

start() { # start NAME ARGS...: run in the background, pid in $bg
  name=$1
  shift
  "$exe" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  bg=$!
}

alive() { # alive PID: running, not a zombie (Linux /proc)
  [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

poll() { # poll COMMAND...: every 0.05 s until it succeeds; 1 when $bg ended
  n=0
  until "$@"; do
    alive "$bg" || return 1
    n=$((n + 1))
    [ "$n" -lt 6000 ] || return 1
    sleep 0.05
  done
}

finish() { # finish: wait for $bg, its exit status in rc
  set +e
  wait "$bg"
  rc=$?
  set -e
  bg=
}

# The tiny search of CI: 1000 training images split 500/500, 300 test
# images, 3 cells of 2 nodes and 4 channels, seed 0; lavapipe's threads
# untimed, whatever the host's speed (the threads mode times them).
TINY="-s seed=0 -s data.train_limit=1000 -s data.val_ratio=0.5
  -s data.test_limit=300 -s search_space.cells=3 -s search_space.channels=4
  -s search_space.nodes=2 -s train.search_epochs=1 -s train.final_epochs=1
  -s train.batch_size=32 -s train.val_batch_size=0
  -s search_space.stem_stride=1 -s train.log_every=50
  -s cpu_threads_trial=never"
# An even smaller run for the refusals (about 1 s).
SMALL="-s seed=0 -s train.batch_size=16 -s data.train_limit=64
  -s data.test_limit=16 -s search_space.cells=3 -s search_space.channels=2
  -s search_space.nodes=1 -s train.search_epochs=1 -s train.final_epochs=1
  -s cpu_threads_trial=never"
QS=configs/quickstart.cfg

case $mode in
tiny)
  # shellcheck disable=SC2086
  run search $QS -s output_dir="$tmp/a" $TINY
  [ "$rc" = 0 ] || fail "search: exit $rc"
  check outputs "$tmp/a"
  run eval "$tmp/a"
  [ "$rc" = 0 ] || fail "eval: exit $rc"
  cat "$tmp/out"
  check eval "$tmp/a" "$tmp/out"
  ;;
resume)
  # Two search epochs that really run (dist_limit 0: no node freezes early),
  # then one final epoch.
  RESUME="$TINY -s train.search_epochs=2 -s nas.ista.dist_limit=0"
  # shellcheck disable=SC2086
  run search $QS -s output_dir="$tmp/a" $RESUME
  [ "$rc" = 0 ] || fail "run A: exit $rc"
  check outputs "$tmp/a"

  # B: SIGKILL as soon as the first epoch's checkpoint is there.
  # shellcheck disable=SC2086
  start b search $QS -s output_dir="$tmp/b" $RESUME
  poll test -e "$tmp/b/checkpoint.safetensors" || :
  kill -9 "$bg" 2>/dev/null || :
  finish
  [ "$rc" = 137 ] || { cat "$tmp/b.out" "$tmp/b.err"; fail "run B was not killed: exit $rc"; }
  [ ! -e "$tmp/b/summary.json" ] || fail "run B finished before the kill"
  check position "$tmp/b" end:1
  run search --resume "$tmp/b"
  [ "$rc" = 0 ] || fail "resume B: exit $rc"
  check same "$tmp/a" "$tmp/b"

  # C: SIGINT as soon as the first epoch's checkpoint is there (the run
  # stops after the step it is in; an epoch is 15 steps, 0.3 s on an H200):
  # a checkpoint inside the second epoch, exit 1 and the --resume line.
  # shellcheck disable=SC2086
  start c search $QS -s output_dir="$tmp/c" $RESUME
  poll test -e "$tmp/c/checkpoint.safetensors" || :
  kill -INT "$bg" 2>/dev/null || :
  finish
  cat "$tmp/c.out" "$tmp/c.err" >"$tmp/out"
  [ "$rc" = 1 ] || fail "run C after SIGINT: exit $rc, want 1"
  grep -F -- "--resume" "$tmp/out" || fail "run C: no line with --resume"
  [ ! -e "$tmp/c/summary.json" ] || fail "run C finished before SIGINT"
  check position "$tmp/c" mid:1
  run search --resume "$tmp/c"
  [ "$rc" = 0 ] || fail "resume C: exit $rc"
  check same "$tmp/a" "$tmp/c"
  ;;
threads)
  unset LP_NUM_THREADS # it would win over cpu_threads
  for n in 0 2; do
    # shellcheck disable=SC2086
    run search $QS -s output_dir="$tmp/t$n" $TINY -s cpu_threads=$n
    [ "$rc" = 0 ] || fail "cpu_threads = $n: exit $rc"
  done
  check same "$tmp/t0" "$tmp/t2"
  # shellcheck disable=SC2086
  run search $QS -s output_dir="$tmp/trial" $TINY -s cpu_threads_trial=always
  [ "$rc" = 0 ] || fail "cpu_threads_trial = always: exit $rc"
  if [ "$(getconf _NPROCESSORS_ONLN)" -gt 1 ] &&
    grep -q "^device .*(cpu)" "$tmp/out"; then
    for phase in search final; do
      grep "^threads .* $phase phase, timed 3 steps on each: .*: kept" \
        "$tmp/out" || fail "no line on the $phase phase's threads trial"
    done
  fi
  [ ! -e "$tmp/trial/threads_trial.safetensors" ] ||
    fail "the trial's checkpoint was left behind"
  check same "$tmp/t0" "$tmp/trial"
  ;;
darts)
  # First order with HPO off (its validation pass freezes the weights) and
  # second order with HPO on (the Hessian term's two passes freeze them).
  # Three search epochs: the final phase keeps only the chosen ops, at
  # their softmax weights (about 1/8 this early), so its loss starts above
  # the search's end.
  for v in "a 1 false" "b 2 true"; do
    # shellcheck disable=SC2086
    set -- $v
    # shellcheck disable=SC2086
    run search $QS -s output_dir="$tmp/$1" $TINY -s nas.method=darts \
      -s nas.darts.order=$2 -s hpo.enabled=$3 -s train.search_epochs=3 \
      -s search_space.stem_stride=2
    [ "$rc" = 0 ] || fail "darts order $2, hpo $3: exit $rc"
    check outputs "$tmp/$1"
  done
  ;;
nan)
  # poison alone in a plugin dir (tests/plugins also holds broken plugins).
  mkdir "$tmp/poison"
  ln -s "$poison" "$tmp/poison/poison.so"
  DIFFAUTOML_PLUGIN_PATH=${DIFFAUTOML_PLUGIN_PATH:-}:$tmp/poison
  export DIFFAUTOML_PLUGIN_PATH
  # Every edge is poison; its outputs turn NaN at its 530th forward call:
  # about 25 calls a step, so at step ~22 of 2 x 15.
  # shellcheck disable=SC2086
  run search $QS -s output_dir="$tmp/n" $TINY -s train.search_epochs=2 \
    -s nas.ista.dist_limit=0 -s 'search_space.ops=[poison]' \
    -s search_space.op_params.poison.after=530
  [ "$rc" = 1 ] || fail "exit $rc, want 1"
  one_line "NaN" step nan checkpoint "$tmp/n/checkpoint.safetensors"
  check nan "$tmp/n" "$tmp/err"
  ;;
refuse)
  # shellcheck disable=SC2086
  run search $QS -s output_dir="$tmp/good" $SMALL
  [ "$rc" = 0 ] || fail "the good run: exit $rc"
  run eval "$tmp/good"
  [ "$rc" = 0 ] || fail "eval of the good run: exit $rc"
  cp "$tmp/out" "$tmp/good.eval"

  # --resume of a directory without anything, and of a finished run's
  # directory without its checkpoint.
  mkdir "$tmp/empty"
  run search --resume "$tmp/empty"
  [ "$rc" != 0 ] || fail "--resume of an empty dir: exit 0"
  one_line "--resume of an empty dir" "$tmp/empty/"
  [ -z "$(ls -A "$tmp/empty")" ] || fail "--resume wrote into $tmp/empty"
  cp -R "$tmp/good" "$tmp/nock"
  rm "$tmp/nock/checkpoint.safetensors"
  check snapshot "$tmp/nock" "$tmp/nock.sha"
  run search --resume "$tmp/nock"
  [ "$rc" != 0 ] || fail "--resume without a checkpoint: exit 0"
  one_line "--resume without a checkpoint" "$tmp/nock/checkpoint.safetensors"
  check unchanged "$tmp/nock" "$tmp/nock.sha"

  # eval of a truncated model file names it and the offset.
  cp -R "$tmp/good" "$tmp/trunc"
  size=$(wc -c <"$tmp/good/model.safetensors")
  for len in $((size - 1)) $((size / 2)) 100 7; do
    head -c "$len" "$tmp/good/model.safetensors" >"$tmp/trunc/model.safetensors"
    run eval "$tmp/trunc"
    [ "$rc" != 0 ] || fail "eval of a model cut to $len bytes: exit 0"
    one_line "eval of a model cut to $len bytes" \
      "$tmp/trunc/model.safetensors" offset
    ! grep -q test_accuracy "$tmp/out" || fail "eval printed an accuracy"
  done

  # A batch beyond the device's memory (the schema's maximum, 4096, on the
  # quickstart search space), refused before any work.
  BIG="-s train.batch_size=4096 -s data.partial_batch=pad
    -s data.train_limit=64 -s data.test_limit=16"
  # shellcheck disable=SC2086
  run search $QS --dry-run -s output_dir="$tmp/never" $BIG
  if [ "$rc" = 0 ] && [ "$(check estimate "$tmp/out" 4096)" = fits ]; then
    echo "SKIP: batch 4096 fits this device: $(grep '^memory' "$tmp/out")"
  else
    [ "$rc" = 2 ] || fail "--dry-run with batch 4096: exit $rc, want 2"
    one_line "batch 4096 (dry run)" "train.batch_size = 4096" "MiB"
    [ "$(check estimate "$tmp/out" 4096)" = exceeds ] ||
      fail "refused, but the estimate fits"
    # shellcheck disable=SC2086
    run search $QS -s output_dir="$tmp/big" $BIG
    [ "$rc" = 2 ] || fail "batch 4096: exit $rc, want 2"
    one_line "batch 4096" "train.batch_size = 4096" "MiB"
    for f in metrics.jsonl checkpoint.safetensors; do
      [ ! -e "$tmp/big/$f" ] || fail "batch 4096: wrote $f"
    done
    # Into a good run's directory: nothing of it changes, it still
    # evaluates to the same accuracy.
    cp -R "$tmp/good" "$tmp/big2"
    check snapshot "$tmp/big2" "$tmp/big2.sha"
    # shellcheck disable=SC2086
    run search $QS -s output_dir="$tmp/big2" $BIG
    [ "$rc" = 2 ] || fail "a new run into a run: exit $rc, want 2"
    one_line "a new run into a run" "holds a run already" "--resume"
    check unchanged "$tmp/big2" "$tmp/big2.sha"
    # shellcheck disable=SC2086
    run search $QS -s output_dir="$tmp/big2" $BIG --overwrite
    [ "$rc" = 2 ] || fail "batch 4096 into a run: exit $rc, want 2"
    one_line "batch 4096 into a run" "train.batch_size = 4096"
    check unchanged "$tmp/big2" "$tmp/big2.sha"
    run eval "$tmp/big2"
    [ "$rc" = 0 ] || fail "eval after the refused run: exit $rc"
    cmp "$tmp/out" "$tmp/good.eval" || fail "eval after the refused run differs"
  fi
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
echo "ok: $mode"
