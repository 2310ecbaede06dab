#!/usr/bin/env bash
# consumers.sh BUILDDIR: installs uvrun from BUILDDIR into a temporary prefix
# and builds the documented snippets against it the way a user would -- C and
# C++ through pkg-config, C++ through meson and through CMake's
# find_package(uvrun) -- then runs the Python and Node.js snippets. The
# snippets come out of README.md and docs/ffi.md (<!-- ffi-snippet: NAME -->
# markers), so the docs show exactly what is tested. Prints "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; sed 's/^/    /' "$tmp/log" | tail -30; failed=$((failed + 1)); }
expect() {  # expect LABEL WANT CMD...: CMD's output must contain WANT
  local label=$1 want=$2
  shift 2
  if "$@" >"$tmp/log" 2>&1 && grep -qF -- "$want" "$tmp/log"; then ok "$label"; else fail "$label"; fi
}

# The snippets.
src=$tmp/src
mkdir -p "$src"
python3 - "$src" "$root/README.md" "$root/docs/ffi.md" <<'PY'
import re, sys
for doc in sys.argv[2:]:
    text = open(doc).read()
    for m in re.finditer(r"<!-- ffi-snippet: (\S+) -->\n```[a-z]*\n(.*?)```\n", text, re.S):
        open(f"{sys.argv[1]}/{m.group(1)}", "w").write(m.group(2))
PY
for f in hello.c hello.cpp meson.build CMakeLists.txt hello.py hello.js; do
  [ -s "$src/$f" ] || { echo "no snippet $f in README.md or docs/ffi.md" >"$tmp/log"; fail "snippet $f"; }
done

# Install into a temporary prefix (--destdir: the .pc files name the real
# prefix, so pkg-config gets the staged root as its sysroot; the CMake
# package is relocatable).
stage=$tmp/stage
if meson install -C "$build" --no-rebuild --destdir "$stage" >"$tmp/log" 2>&1; then ok "meson install"; else fail "meson install"; fi
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
libdir=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"))')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
root_prefix=$stage$prefix
export PKG_CONFIG_PATH=$stage$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$stage$libdir/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig
export LD_LIBRARY_PATH=$stage$libdir
for f in "$root_prefix/include/uvrun.h" "$root_prefix/include/uvrun_uv.h" "$root_prefix/include/uvrun/uvrun.hpp" \
         "$stage$libdir/libuvrun.a" "$stage$libdir/cmake/uvrun/uvrunConfig.cmake" \
         "$stage$libdir/cmake/uvrun/uvrunConfigVersion.cmake" "$stage$libdir/pkgconfig/uvrun-cpp.pc"; do
  [ -e "$f" ] || { echo "missing $f" >"$tmp/log"; fail "installed ${f#"$stage"}"; }
done
if [ -L "$stage$libdir/libuvrun.so" ] && [ -e "$stage$libdir/libuvrun.so.0" ]; then ok "libuvrun.so -> libuvrun.so.0"; else
  ls -l "$stage$libdir" >"$tmp/log" 2>&1; fail "libuvrun.so -> libuvrun.so.0"; fi

cd "$tmp" || exit 1
# C through pkg-config, shared and static.
expect "C, pkg-config" "hello from C" \
  sh -c "cc -std=c11 -Wall -Wextra -pedantic -Werror -o hello-c src/hello.c \$(pkg-config --cflags --libs uvrun) && ./hello-c"
expect "C, pkg-config --static" "hello from C" \
  sh -c "cc -std=c11 -o hello-c-static src/hello.c \$(pkg-config --cflags uvrun) $stage$libdir/libuvrun.a \$(pkg-config --static --libs-only-l --libs-only-other uvrun | sed 's/-luvrun//') && ./hello-c-static && ! ldd ./hello-c-static | grep -q libuvrun"
# C++ through pkg-config.
expect "C++, pkg-config" "hello from C++: 42" \
  sh -c "c++ -Wall -Wextra -o hello-cpp src/hello.cpp \$(pkg-config --cflags --libs uvrun-cpp) && ./hello-cpp"
# C++ through meson's dependency().
mkdir -p meson-proj && cp src/meson.build src/hello.cpp meson-proj/
expect "C++, meson dependency('uvrun-cpp')" "hello from C++: 42" \
  sh -c "meson setup meson-proj/b meson-proj && ninja -C meson-proj/b && meson-proj/b/hello"
# C++ through CMake's find_package(uvrun).
mkdir -p cmake-proj && cp src/CMakeLists.txt src/hello.cpp cmake-proj/
expect "C++, CMake find_package(uvrun)" "hello from C++: 42" \
  sh -c "cmake -S cmake-proj -B cmake-proj/b -DCMAKE_PREFIX_PATH='$root_prefix' && cmake --build cmake-proj/b && cmake-proj/b/hello"
# Python and Node.js, on the installed library.
export UVRUN_LIBRARY=$stage$libdir/libuvrun.so.0
expect "Python snippet" "hello from Python" env PYTHONPATH="$root/bindings/python" python3 src/hello.py
mkdir -p node/node_modules && ln -s "$root/bindings/node" node/node_modules/uvrun && cp src/hello.js node/
expect "Node.js snippet" "hello from Node.js" node node/hello.js

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
