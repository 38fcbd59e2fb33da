#!/usr/bin/env bash
# What llvmpipe compiled a kernel to: runs `diffautoml bench kernels
# FILTER` on lavapipe (one thread, LP_NUM_THREADS=0) under `perf record`
# and `gdb`, which writes a core file at the first vkDestroyPipeline, while
# the JIT code is still mapped.  Prints the hottest 4 KiB pages of JIT
# code with their share of the samples and writes each page's disassembly
# to OUT_DIR/page_ADDRESS.txt (the copy shader that `bench kernels` times
# first is one of them).  Needs perf and gdb; the core is deleted.
#
#   bench/jit_dump.sh BUILD_DIR FILTER OUT_DIR
#
# Extra environment (DIFFAUTOML_WIDE_STORES=1, ...) passes through.
set -euo pipefail
if [ $# -ne 3 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
filter=$2
mkdir -p "$3"
out=$(cd "$3" && pwd)
for tool in perf gdb; do
  command -v $tool >/dev/null || { echo "jit_dump: $tool not found" >&2; exit 2; }
done

cat >"$out/gdb.cmd" <<EOF
set pagination off
set breakpoint pending on
break vkDestroyPipeline
run
generate-core-file $out/core
kill
quit
EOF
LP_NUM_THREADS=0 perf record -q -o "$out/perf.data" -- \
  gdb -q -batch -x "$out/gdb.cmd" \
  --args "$build/core/diffautoml" bench kernels "$filter" >"$out/run.txt" 2>&1
[ -f "$out/core" ] || { echo "jit_dump: no core; see $out/run.txt" >&2; exit 1; }

perf report -i "$out/perf.data" --sort dso,sym 2>/dev/null |
  awk '$2 == "[JIT]" { sub("%", "", $1); print $1, $NF }' |
  /usr/bin/env python3 -c '
import sys, collections
pages = collections.Counter()
for line in sys.stdin:
    share, addr = line.split()
    pages[int(addr, 16) & ~0xfff] += float(share)
for page, share in pages.most_common(8):
    print("0x%x %.2f" % (page, share))' >"$out/pages.txt"

echo "page            % of samples"
while read -r page share; do
  printf '%s %6s\n' "$page" "$share"
  gdb -q -batch -ex "disassemble $page,$(printf '0x%x' $((page + 4096)))" \
    "$build/core/diffautoml" "$out/core" 2>/dev/null |
    grep '^ *0x' >"$out/page_$page.txt" || true
done <"$out/pages.txt"
rm -f "$out/core" "$out/gdb.cmd"
