#!/bin/sh
# Check the plugin SDK as an outside author sees it: build the example
# plugin sdk/examples/scale_op against an installed diffautoml (found only
# through pkg-config), install it into a temp dir, and check that
# `diffautoml plugins` lists its "scale" op and refuses nothing of it.
#
# usage: scripts/check_sdk_example.sh PREFIX
#   PREFIX: where diffautoml was installed (meson setup --prefix=PREFIX).
set -eu

fail() {
  echo "check_sdk_example: $*" >&2
  exit 1
}

[ $# -eq 1 ] || { echo "usage: $0 PREFIX" >&2; exit 2; }
[ -d "$1" ] || fail "no such prefix: $1"
prefix=$(cd "$1" && pwd -P)
src=$(cd "$(dirname "$0")/../sdk/examples/scale_op" && pwd -P)
exe=$prefix/bin/diffautoml
[ -x "$exe" ] || fail "$exe not found: install diffautoml under $prefix first"

pc=$(find "$prefix" -name diffautoml-plugin.pc | head -n 1)
[ -n "$pc" ] || fail "no diffautoml-plugin.pc under $prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
pc_prefix=$(pkg-config --variable=prefix diffautoml-plugin)
[ "$(cd "$pc_prefix" 2>/dev/null && pwd -P)" = "$prefix" ] ||
  fail "$pc says prefix=$pc_prefix, not $prefix (install with --prefix, not DESTDIR)"
plugindir=$(pkg-config --variable=plugindir diffautoml-plugin)
[ -n "$plugindir" ] || fail "$pc has no plugindir variable"

work=$(mktemp -d "${TMPDIR:-/tmp}/dam_sdk_example.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

meson setup "$work/build" "$src" >"$work/setup.log" 2>&1 ||
  { cat "$work/setup.log" >&2; fail "meson setup of the example failed"; }
meson compile -C "$work/build" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; fail "building the example failed"; }
meson install -C "$work/build" --no-rebuild --destdir "$work/dest" \
  >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "installing the example failed"; }
installed=$work/dest$plugindir
[ -f "$installed/scale_op.so" ] || fail "scale_op.so not installed in plugindir ($plugindir)"

lib=$(find "$prefix" -name 'libdiffautoml.so*' | head -n 1)
[ -n "$lib" ] || fail "no libdiffautoml.so under $prefix"
LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

DIFFAUTOML_PLUGIN_PATH=$installed "$exe" plugins >"$work/plugins.txt" 2>&1 ||
  { cat "$work/plugins.txt" >&2; fail "diffautoml plugins failed"; }
cat "$work/plugins.txt"
grep -q "^scale_op 1\.0\.0 (MIT) .*$installed/scale_op\.so\$" "$work/plugins.txt" ||
  fail "module scale_op from $installed not listed"
grep -Eq '^ +op +scale +y = alpha \* x$' "$work/plugins.txt" ||
  fail "op 'scale' not listed"
grep -Eq '^ +alpha +float +default 0\.5 +\[-10, 10\]' "$work/plugins.txt" ||
  fail "parameter alpha of 'scale' not listed with default 0.5 and range [-10, 10]"
if grep -q "scale_op\.so: " "$work/plugins.txt"; then
  fail "scale_op.so was refused"
fi
echo "check_sdk_example: ok, op 'scale' listed from $installed/scale_op.so"
