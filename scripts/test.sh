#!/usr/bin/env bash
# Quick start, step 2: build and run every test -- the plain build, then the
# whole suite under ASan+UBSan (with LeakSanitizer) and under TSan, each in its own build directory. Ends with "N passed, N failed"
# counting test cases over all runs.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

passed=0
failed=0
# run NAME BUILDDIR CMD...: runs a doctest binary and adds up its test cases.
run() {
  local name=$1 log
  shift
  log=$(mktemp)
  echo "== $name"
  "$@" >"$log" 2>&1
  local rc=$?
  local line p f
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)
  p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")
  [[ "$p" =~ ^[0-9]+$ ]] || p=0
  [[ "$f" =~ ^[0-9]+$ ]] || f=0
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed or sanitizer report
  if [ $rc -ne 0 ]; then tail -60 "$log"; else tail -3 "$log"; fi
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$log"
}

# count PASSED FAILED: adds a suite's own counts (for runners other than doctest).
count() {
  passed=$((passed + $1))
  failed=$((failed + $2))
}

build() {  # build DIR [meson options...]
  local dir=$1
  shift
  if [ ! -d "$dir" ]; then meson setup "$dir" "$@" >/dev/null || return 1; fi
  ninja -C "$dir" >/dev/null || { ninja -C "$dir" | tail -40; return 1; }
}

if build build; then
  run "C API" ./build/tests/test-c-api
  run "C++" ./build/tests/test-cpp
else
  failed=$((failed + 1))
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
  run "C API (ASan+UBSan)" ./build-asan/tests/test-c-api
  run "C++ (ASan+UBSan)" ./build-asan/tests/test-cpp
else
  failed=$((failed + 1))
fi

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
if build build-tsan -Db_sanitize=thread -Db_lundef=false; then
  # TSan defers asynchronous signals to its own safe points, so the real
  # SIGINT tests are left to the other builds.
  run "C API (TSan)" ./build-tsan/tests/test-c-api -sfe='*test_signal*' -tce='*A25*,*A26*,*A27*,*A28*'
  run "C++ (TSan)" ./build-tsan/tests/test-cpp -sfe='*test_signal*' -tce='*A25*,*A26*,*A27*,*A28*'
else
  failed=$((failed + 1))
fi

# Further suites (FFI, packaging, reliability...) add their runs here; each
# file is sourced and may use build, run and count.
for extra in scripts/tests.d/*.sh; do
  [ -e "$extra" ] || continue
  # shellcheck source=/dev/null
  . "$extra"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
