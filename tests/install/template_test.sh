#!/usr/bin/env bash
# Installs the Sluice build tree into a fresh prefix, builds examples/plugin-template out
# of tree against the installed CMake package (find_package(sluice)), and checks that the
# installed sluice finds its built-ins and loads and runs the new plugin.
# Also that the `sluice` Python extension module is installed where Debian's python3
# finds it under the prefix, and imports there.
#   usage: template_test.sh <build dir> <source dir> [python3]
set -euo pipefail
build=$1
source=$2
python=${3:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
sluice="$work/prefix/bin/sluice"
[ -x "$sluice" ] || fail "install did not produce bin/sluice"
[ -f "$work/prefix/include/sluice/plugin.h" ] || fail "plugin.h not installed"
[ -f "$work/prefix/include/sluice/plugin.hpp" ] || fail "plugin.hpp not installed"

# The installed binary finds its installed built-ins (relative to itself).
"$sluice" plugins > "$work/builtins.txt"
grep -q "^generator .*$work/prefix/lib/sluice/plugins/libsluice-builtin.so" "$work/builtins.txt" \
  || { cat "$work/builtins.txt"; fail "installed sluice does not list its built-ins"; }

# The Python extension module: <prefix>/lib/python3.X/dist-packages (on Debian's sys.path
# for the prefixes /usr/local and /usr; any other prefix goes on PYTHONPATH).
pydir=$(echo "$work"/prefix/lib/python3.*/dist-packages)
ls "$pydir"/sluice.cpython-*.so > /dev/null 2>&1 || fail "sluice extension module not installed in $pydir"
if ldd "$pydir"/sluice.cpython-*.so | grep -q libpython; then fail "the extension links libpython"; fi
out=$(cd "$work" && PYTHONPATH="$pydir" PYTHONNOUSERSITE=1 "$python" -c '
import sluice
from sluice import Datum, Message
print(sluice.__file__.rsplit("/", 1)[0], Message(Datum(b"v", keys=["k"]).value).value.decode())')
[ "$out" = "$pydir v" ] || fail "the installed module imported as: $out"

# Out-of-tree build of the template, from a copy (as a user would), with only the prefix.
cp -r "$source/examples/plugin-template" "$work/template"
cmake -S "$work/template" -B "$work/template/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" \
  || { cat "$work/configure.log"; fail "configure against the installed package failed"; }
cmake --build "$work/template/build" > "$work/build.log" \
  || { cat "$work/build.log"; fail "template build failed"; }
so="$work/template/build/libmy-plugins.so"
[ -f "$so" ] || fail "libmy-plugins.so was not built"

# Only the entry symbol is exported (hidden visibility from sluice_add_plugin).
exported=$(nm -D --defined-only "$so" | awk '{print $3}')
[ "$exported" = "sluice_plugin_v1" ] || fail "exported symbols: '$exported' (want only sluice_plugin_v1)"
# No link-time dependency on the host.
if ldd "$so" | grep -qi sluice; then fail "plugin links against a sluice library: $(ldd "$so")"; fi

# The installed sluice loads it and runs it.
"$sluice" plugins --plugin-dir "$work/template/build" > "$work/plugins.txt"
grep -q "^reverse  *map  *1.0.0  *$so" "$work/plugins.txt" \
  || { cat "$work/plugins.txt"; fail "reverse not listed"; }
out=$(printf 'hello\nsluice\n' | "$sluice" try reverse --plugin-dir "$work/template/build" --config '{"suffix": "!"}')
[ "$out" = $'olleh!\neciuls!' ] || fail "reverse printed: $out"

# A config mistake is a config error (exit 2) naming the key.
set +e
err=$("$sluice" try reverse --plugin-dir "$work/template/build" --config '{"sufix": "!"}' 2>&1 < /dev/null)
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad config exited $rc"
echo "$err" | grep -q "config.sufix: unknown key" || fail "bad config said: $err"

# `cmake --install` of the plugin puts it among the installed built-ins.
cmake --install "$work/template/build" > /dev/null
"$sluice" plugins | grep -q "^reverse .*$work/prefix/lib/sluice/plugins/libmy-plugins.so" \
  || fail "installed plugin not found among built-ins"

echo "template_test: 1 passed, 0 failed"
