# ffi.sh -- FFI and packaging (sourced by scripts/test.sh; uses its count and run_script).
# The library alone is built in build-ffi; then: exported symbols and soname,
# every public header compiled alone (C11 and C++20), the Python binding
# (unittest), the Node.js binding (node --test), and out-of-tree consumers
# against a `meson install`. A suite that cannot run counts as failed.

ffi_python() {
  local log rc ran bad
  log=$(mktemp)
  echo "== Python binding (unittest)"
  UVRUN_LIBRARY=$PWD/build-ffi/core/libuvrun.so timeout 300 \
    python3 -m unittest discover -s bindings/python/tests -v >"$log" 2>&1
  rc=$?
  ran=$(sed -n -E 's/^Ran ([0-9]+) tests? in .*/\1/p' "$log" | tail -1)
  bad=$(grep -cE '^(FAIL|ERROR): ' "$log")
  [[ "$ran" =~ ^[0-9]+$ ]] || ran=0
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  if [ $rc -ne 0 ]; then tail -60 "$log"; else tail -3 "$log"; fi
  count $((ran - bad < 0 ? 0 : ran - bad)) "$bad"
  rm -f "$log"
}

ffi_node() {
  local log rc p f
  log=$(mktemp)
  echo "== Node.js binding (node --test)"
  (cd bindings/node && npm ci --no-audit --no-fund --loglevel=error &&
   UVRUN_LIBRARY=$PWD/../../build-ffi/core/libuvrun.so timeout 300 node --test test/) >"$log" 2>&1
  rc=$?
  p=$(sed -n -E 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -1)
  f=$(sed -n -E 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -1)
  [[ "$p" =~ ^[0-9]+$ ]] || p=0
  [[ "$f" =~ ^[0-9]+$ ]] || f=0
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ $rc -ne 0 ]; then tail -60 "$log"; else grep -E '^# (tests|pass|fail)' "$log"; fi
  count "$p" "$f"
  rm -f "$log"
}

ffi_main() {
  local ver
  if ! scripts/deps.sh python3 nodejs pkg-config cmake binutils || ! command -v npm >/dev/null; then
    echo "== FFI: cannot install python3, nodejs/npm, pkg-config, cmake"
    count 0 1
    return
  fi
  ver=$(sed -n -E 's/^#define UVRUN_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' capi/include/uvrun.h | paste -sd.)
  # Only the library: the doctest suites are built and run above.
  if setup build-ffi --prefix=/opt/uvrun &&
     ninja -C build-ffi "core/libuvrun.so.$ver" core/libuvrun.a >/dev/null; then
    run_script "Exports and soname" tests/ffi/check_symbols.sh build-ffi/core/libuvrun.so
    run_script "Public headers alone (C11, C++20)" tests/ffi/header_test.sh
    ffi_python
    ffi_node
    run_script "Out-of-tree consumers (pkg-config, meson, CMake, Python, Node.js)" tests/ffi/consumers.sh build-ffi
  else
    echo "== FFI: building libuvrun in build-ffi failed"
    ninja -C build-ffi "core/libuvrun.so.$ver" core/libuvrun.a 2>&1 | tail -30
    count 0 1
  fi
}

ffi_main
