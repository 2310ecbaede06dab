#!/usr/bin/env bash
# Quick start, step 2: build and run every test -- the plain build, then the
# whole suite under ASan+UBSan (with LeakSanitizer) and under TSan, each in its
# own build directory, then the suites of scripts/tests.d. Warnings are errors
# in every build. Ends with "N passed, N failed" counting test cases over all
# runs.
#
# --quick: only the plain build's C and C++ suites, for iteration.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
scripts/deps.sh || exit 1

passed=0
failed=0
# run NAME CMD...: runs a doctest binary and adds up its test cases.
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

# run_areas NAME BINARY [doctest filters...]: runs a doctest binary once per
# test suite (area) it lists, so a failure names its area, then the test
# cases that belong to no area, if any.
run_areas() {
  local name=$1 bin=$2 areas area
  shift 2
  areas=$("$bin" --list-test-suites --no-version 2>/dev/null | sed -n -E 's/^([a-z][a-z0-9_+-]*)$/\1/p')
  if [ -z "$areas" ]; then
    run "$name" "$bin" "$@"
    return
  fi
  for area in $areas; do
    run "$name: $area" "$bin" --test-suite="$area" "$@"
  done
  if ! "$bin" --count --no-version --test-suite-exclude="$(paste -sd, <<<"$areas")" "$@" 2>/dev/null |
      grep -qE 'passing the current filters: 0$'; then
    run "$name: in no area" "$bin" --test-suite-exclude="$(paste -sd, <<<"$areas")" "$@"
  fi
}

# count PASSED FAILED: adds a suite's own counts (for runners other than doctest).
count() {
  passed=$((passed + $1))
  failed=$((failed + $2))
}

# run_script NAME CMD...: a script whose last count line is "N passed, N
# failed" (possibly after a "name: " prefix); a script that fails without
# saying how many counts as one failure.
run_script() {
  local name=$1 log rc line p f
  shift
  log=$(mktemp)
  echo "== $name"
  "$@" >"$log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then grep -v '^ok ' "$log" | tail -60; else tail -1 "$log"; fi
  line=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  p=$(sed -E 's/^(.*: )?([0-9]+) passed.*/\2/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  [[ "$p" =~ ^[0-9]+$ ]] || p=0
  [[ "$f" =~ ^[0-9]+$ ]] || f=0
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  count "$p" "$f"
  rm -f "$log"
}

setup() {  # setup DIR [meson options...]: warnings are errors
  local dir=$1
  shift
  if [ ! -d "$dir" ]; then
    meson setup "$dir" --werror "$@" >/dev/null
  else
    meson configure "$dir" -Dwerror=true >/dev/null
  fi
}

build() {  # build DIR [meson options...]: sets DIR up and builds everything
  local dir=$1
  setup "$@" || return 1
  ninja -C "$dir" >/dev/null || { ninja -C "$dir" | tail -40; return 1; }
}

if [ $quick -eq 1 ]; then
  if setup build && { ninja -C build suites >/dev/null || { ninja -C build suites | tail -40; false; }; }; then
    run_areas "C API" ./build/tests/test-c-api
    run_areas "C++" ./build/tests/test-cpp
  else
    failed=$((failed + 1))
  fi
  echo "quick: ${SECONDS} s"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

if build build; then
  run_areas "C API" ./build/tests/test-c-api
  run_areas "C++" ./build/tests/test-cpp
else
  failed=$((failed + 1))
fi
echo "== the plain build and its suites (what --quick runs, and a full build more): ${SECONDS} s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
  run_areas "C API (ASan+UBSan)" ./build-asan/tests/test-c-api
  run_areas "C++ (ASan+UBSan)" ./build-asan/tests/test-cpp
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

# Further suites (FFI, packaging, reliability, checks...) add their runs here;
# each file is sourced and may use setup, build, run, run_areas, run_script and count.
for extra in scripts/tests.d/*.sh; do
  [ -e "$extra" ] || continue
  # shellcheck source=/dev/null
  . "$extra"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
