#!/usr/bin/env bash
# The checks to run on a machine with a GPU, in one go: every test on the
# GPU, the per-kernel breakdown of a step, and bench/compare.py against
# PyTorch on CUDA.  Each stage has its own time cap; everything it prints
# also goes to OUT_DIR/main.log, and its files are packed into
# OUT_DIR/check.tgz after each stage (a machine that returns few files, or
# stops at a limit, still returns them).
#
#   bench/gpu_check.sh BUILD_DIR OUT_DIR STAGE...
#
# stages, in the order given:
#   setup      (for a machine with no package registry) unpack the .deb
#              files in $GL_DIR into / (the Vulkan loader and the glvnd
#              libraries the NVIDIA ICD needs: libvulkan1 libegl1 libglvnd0
#              libopengl0 libgl1 libglx0 libgles2) and those in $DEPS_DIR
#              into /opt/diffautoml-deps, adding its libraries to
#              ld.so.conf; copy Fashion-MNIST from $DATA_DIR
#              to /usr/share/datasets/fashion-mnist; link the build's
#              configured source root to this tree if it is missing (the
#              tests' paths are absolute); needs root
#   smoke      `bench step` on the quick start, both modes
#   tests      every meson test of BUILD_DIR (bench_compare excepted), 8 at
#              a time: tests.txt, failed_tests.log, test_logs.tgz
#   profile    per-kernel GPU time of the quick start's weight steps and
#              the DARTS-size DARTS-mode architecture step
#   kernels    `bench kernels` (every kernel row)
#   cmp_qs     compare.py, quick start, ISTA and DARTS mode
#   cmp_darts  compare.py, DARTS size, ISTA and DARTS mode (batch 64)
#
# compare.py takes $ROUNDS rounds (default 2); on an H200 one round of
# both modes took about 1.5 minutes at each size.
# The device is $DIFFAUTOML_DEVICE (default: NVIDIA); PyTorch's is
# $TORCH_DEVICE (default: cuda).
set -u
[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR OUT_DIR STAGE..." >&2; exit 2; }
B=$(cd "$1" && pwd -P) TOP=$2
OUT=$TOP/files
shift 2
mkdir -p "$OUT"
T0=$(date +%s)
exec > >(tee -a "$TOP/main.log") 2>&1
D=$B/core/diffautoml
export DIFFAUTOML_PLUGIN_PATH=$B/plugins/ops:$B/plugins/augment:$B/plugins/hpo
export DIFFAUTOML_DEVICE=${DIFFAUTOML_DEVICE:-NVIDIA}
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $icd ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd

setup() {
  local deps=/opt/diffautoml-deps
  if [ -n "${GL_DIR:-}" ]; then
    for f in "$GL_DIR"/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -n "${DEPS_DIR:-}" ]; then
    mkdir -p $deps && for f in "$DEPS_DIR"/*.deb; do dpkg -x "$f" $deps; done
    echo $deps/usr/lib/x86_64-linux-gnu >/etc/ld.so.conf.d/diffautoml.conf
    ldconfig
  fi
  if [ -n "${DATA_DIR:-}" ]; then
    mkdir -p /usr/share/datasets/fashion-mnist
    cp "$DATA_DIR"/*.gz /usr/share/datasets/fashion-mnist/
  fi
  local src
  src=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["directories"]["source"])' \
    "$B/meson-info/meson-info.json")
  if [ ! -e "$src" ]; then
    mkdir -p "$(dirname "$src")" && ln -s "$(pwd -P)" "$src"
  fi
  echo "source root $src -> $(readlink -f "$src")"
}

smoke() {
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  python3 -c 'import torch; print("torch", torch.__version__,
      torch.cuda.is_available() and torch.cuda.get_device_name())'
  timeout 60 "$D" devices
  local qs=configs/quickstart.cfg
  timeout 90 "$D" bench step --config $qs --steps 3 --warmup 1 --kind weight,full
  timeout 120 "$D" bench step --config $qs -s nas.method=darts --steps 2 \
    --warmup 1
}

tests() {
  local logs=$OUT/.tests
  rm -rf "$logs" && mkdir -p "$logs"
  python3 - "$B/meson-info/intro-tests.json" >"$logs/list.tsv" <<'PY'
import json, shlex, sys
for t in json.load(open(sys.argv[1])):
    if t["name"] == "bench_compare":
        continue
    cmd = [c.replace("/usr/bin/python3", "python3") for c in t["cmd"]]
    env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in t["env"].items())
    cd = t["workdir"] or sys.argv[1].rsplit("/meson-info/", 1)[0]
    print("%s\tcd %s && env %s %s" % (t["name"], shlex.quote(cd), env,
                                     " ".join(map(shlex.quote, cmd))))
PY
  cut -f1 "$logs/list.tsv" | LOGS=$logs xargs -P 8 -I{} bash -c '
    cmd=$(grep -P "^{}\t" "$LOGS/list.tsv" | cut -f2-)
    s=$(date +%s); timeout -k 5 150 bash -c "$cmd" >"$LOGS/{}.log" 2>&1
    echo "{} rc=$? $(($(date +%s) - s))s"' | sort | tee "$OUT/tests.txt"
  grep -v " rc=0 " "$OUT/tests.txt" | cut -d" " -f1 | while read -r n; do
    echo "---- $n"
    tail -60 "$logs/$n.log"
  done >"$OUT/failed_tests.log"
  tar czf "$OUT/test_logs.tgz" -C "$logs" . && rm -rf "$logs"
}

profile() {
  local qs=configs/quickstart.cfg
  timeout 90 "$D" bench step --config $qs -s nas.method=darts --kind weight \
    --steps 3 --warmup 1 --profile >"$OUT/profile_qs_darts.txt" 2>&1
  timeout 90 "$D" bench step --config $qs --kind weight --steps 5 \
    --warmup 2 --profile >"$OUT/profile_qs_ista.txt" 2>&1
  timeout 90 "$D" bench step --config configs/fashion_mnist.cfg \
    -s nas.method=darts --kind arch --steps 2 --warmup 1 --profile \
    >"$OUT/profile_darts_arch.txt" 2>&1
}

cmp() { # CONFIG METHODS ROUNDS STEPS WARMUP CAP_S
  timeout -k 5 "$6" python3 bench/compare.py --diffautoml "$D" \
    --torch-device "${TORCH_DEVICE:-cuda}" --only "$1" --methods "$2" \
    --rounds "$3" --steps "$4" --warmup "$5" --out "$OUT/cmp_$1_$2.md"
  echo "compare $1 $2: exit $?"
}
kernels() { timeout 120 "$D" bench kernels >"$OUT/kernels.txt" 2>&1; }

R=${ROUNDS:-2}
cmp_qs() {
  cmp quickstart ista "$R" 20 3 $((R * 60))
  cmp quickstart darts "$R" 10 2 $((R * 70))
}
cmp_darts() {
  cmp darts ista "$R" 10 2 $((R * 60))
  cmp darts darts "$R" 5 2 $((R * 100))
}

for stage in "$@"; do
  echo "== $stage at $(($(date +%s) - T0)) s"
  case $stage in
    setup | smoke | tests | profile | kernels | cmp_qs | cmp_darts) $stage ;;
    *) echo "unknown stage $stage" ;;
  esac
  tar czf "$TOP/check.tgz" -C "$OUT" .
done
echo "== done at $(($(date +%s) - T0)) s"
