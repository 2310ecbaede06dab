#!/usr/bin/env bash
# header_test.sh: compiles every public header alone, as the first and only
# include of a translation unit -- uvrun.h and uvrun_uv.h as strict C11 and as
# C++20, each cpp/include/uvrun/*.hpp and uvrun/detail/*.hpp as C++20 -- with
# warnings as errors (libgit2's tests/headertest, dav1d's tests/header_test.c).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-cc}
CXX=${CXX:-c++}
inc=(-I"$root/capi/include" -I"$root/cpp/include")
cflags=(-std=c11 -Wall -Wextra -pedantic -Werror)
cxxflags=(-std=c++20 -Wall -Wextra -Werror)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {  # check LABEL COMPILER FLAGS... -- FILE
  local label=$1 log=$tmp/log
  shift
  if "$@" >"$log" 2>&1; then
    echo "ok $label"; passed=$((passed + 1))
  else
    echo "FAIL $label"; sed 's/^/    /' "$log" | head -30; failed=$((failed + 1))
  fi
}
for h in "$root"/capi/include/*.h; do
  name=$(basename "$h")
  # Twice, to check the include guard as well.
  printf '#include "%s"\n#include "%s"\nint header_test_%s;\n' "$name" "$name" "${name%.h}" >"$tmp/t.c"
  cp "$tmp/t.c" "$tmp/t.cpp"
  # uv.h needs POSIX types (pthread_rwlock_t) that strict ISO C hides.
  posix=()
  [ "$name" = uvrun_uv.h ] && posix=(-D_POSIX_C_SOURCE=200809L)
  check "$name as C11" "$CC" "${cflags[@]}" "${posix[@]}" "${inc[@]}" -fsyntax-only "$tmp/t.c"
  check "$name as C++20" "$CXX" "${cxxflags[@]}" "${inc[@]}" -fsyntax-only "$tmp/t.cpp"
done
for h in "$root"/cpp/include/uvrun/*.hpp "$root"/cpp/include/uvrun/detail/*.hpp; do
  name=${h#"$root"/cpp/include/}
  printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$tmp/t.cpp"
  check "$name as C++20" "$CXX" "${cxxflags[@]}" "${inc[@]}" -fsyntax-only "$tmp/t.cpp"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
