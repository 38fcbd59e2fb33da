#!/usr/bin/env bash
# bench/compare.py end to end on a tiny quick start (3 cells of 4
# channels, batch 8, one timed step, one round): both sides run every kind of step in both modes and
# the table has a row for each with positive speeds and memory (and, with
# one round, a paired ratio equal to the ratio) under a first line naming
# the host's CPU; then the refusals of
# `bench step`, and lavapipe's thread count as cpu_threads and
# $LP_NUM_THREADS set it, and as `bench step` times and keeps it.  First,
# `bench kernels` times the factorized reduce's subsample and the deferred
# partial sums (a row each with a positive time).  Exits 77 (skipped)
# without PyTorch.
# usage: check_bench.sh DIFFAUTOML SOURCE_ROOT
set -euo pipefail
exe=$1 root=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for row in "subsample 2x16x28x28" "subsample_backward 2x64x7x7" part_sums; do
  "$exe" bench kernels --batch 2 "$row" >"$out"
  cat "$out"
  awk -v k="${row%% *}" '$1 == k && match($0, / [0-9]+\.[0-9][0-9][0-9] /) &&
    substr($0, RSTART + 1, RLENGTH - 2) + 0 > 0 { n++ }
    END { exit n == 1 ? 0 : 1 }' "$out" || { echo "no '$row' row"; exit 1; }
done
/usr/bin/python3 -c 'import torch' 2>/dev/null || exit 77
/usr/bin/python3 "$root/bench/compare.py" --diffautoml "$exe" --rounds 1 \
  --steps 1 --warmup 1 --only quickstart \
  -s quickstart:search_space.cells=3 -s quickstart:search_space.channels=4 \
  -s quickstart:train.batch_size=8 -s quickstart:train.val_batch_size=4 \
  -s quickstart:data.train_limit=400 \
  -s quickstart:cpu_threads_trial=never >"$out" # the timing: once, below
cat "$out"
grep -q "; host .*, [0-9]* CPUs" "$out" || { echo "no host line"; exit 1; }
/usr/bin/python3 - "$out" <<'PY'
import sys
rows = [l.split("|")[1:-1] for l in open(sys.argv[1]) if l.startswith("| quickstart")]
kinds = sorted((r[1].strip(), r[2].strip()) for r in rows)
want = sorted([("ista", "weight"), ("ista", "full"), ("darts", "weight"),
               ("darts", "arch"), ("darts", "full")])
assert kinds == want, kinds
for r in rows:
    ours, theirs, ratio, om, tm, paired = (float(r[i])
                                           for i in (4, 5, 6, 7, 8, 13))
    assert min(ours, theirs, ratio, om, tm) > 0, r
    assert abs(paired - ratio) <= 0.011, r  # one round: its ratio
    assert float(r[11]) == 1.0, "submits per step: %s" % r[11]
print("bench table: %d rows" % len(rows))
PY
cfg="$root/configs/quickstart.cfg"
expect_usage() { # the command must fail with exit 2 and name $1
  local msg rc=0
  msg=$("$exe" bench step "${@:2}" 2>&1) || rc=$?
  [ "$rc" = 2 ] && grep -q -- "$1" <<<"$msg" ||
    { echo "expected exit 2 naming '$1', got $rc: $msg"; exit 1; }
}
expect_usage "--kind takes" --config "$cfg" --kind fast
expect_usage "--config CONFIG is required" --steps 3
expect_usage "--steps must be at least 1" --config "$cfg" --steps 0
expect_usage "nosuch.cfg" --config "$root/configs/nosuch.cfg"
expect_usage "train.batch_size" --config "$cfg" -s train.batch_size=0
echo "bench step refusals: ok"
device_of() { # device_of ARGS...: the device one tiny weight step names
  "$exe" bench step --config "$cfg" --json --kind weight --steps 1 \
    --warmup 1 -s search_space.cells=3 -s search_space.channels=4 \
    -s train.batch_size=8 -s data.train_limit=400 \
    -s cpu_threads_trial=never "$@" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["device"])'
}
expect_device() { # expect_device SUFFIX ARGS...
  local d
  d=$(device_of "${@:2}")
  [[ $d == *"$1" ]] || { echo "expected '$1' in '$d'"; exit 1; }
}
if [[ $(device_of) == llvmpipe* ]]; then
  unset LP_NUM_THREADS
  # automatic, untimed: a small net on a host of at most 2 CPUs
  if [ "$(getconf _NPROCESSORS_ONLN)" -le 2 ]; then
    expect_device ", 0 worker threads"
  fi
  # automatic and timed: both choices, the faster kept and named
  if [ "$(getconf _NPROCESSORS_ONLN)" -gt 1 ]; then
    "$exe" bench step --config "$cfg" --json --kind weight --steps 1 \
      --warmup 1 -s search_space.cells=3 -s search_space.channels=4 \
      -s train.batch_size=8 -s data.train_limit=400 |
      /usr/bin/python3 -c '
import json, re, sys
r = json.load(sys.stdin)
t = r["threads_trial"]
m = re.fullmatch(r"(.+) [0-9.]+ s a step, (.+) [0-9.]+ s: kept (.+)", t)
assert m and {m[1], m[2]} == {"0 worker threads", "a worker thread per CPU"}, t
assert r["device"].endswith(", " + m[3]), (r["device"], t)
print("timed:", t)'
  fi
  expect_device ", 3 worker threads" -s cpu_threads=3
  LP_NUM_THREADS=1 expect_device ", 1 worker thread" -s cpu_threads=3
  echo "lavapipe's threads: ok"
fi
