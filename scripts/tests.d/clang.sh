# clang.sh -- the C and C++ suites built with clang (sourced by
# scripts/test.sh; uses its setup, run_areas and count). GCC builds everything else; this
# keeps the headers and the core honest for the other compiler Debian ships
# (clang 14 there: no __builtin_source_location, so the C++ layer's own
# fallback is what compiles).
if scripts/deps.sh clang && CC=clang CXX=clang++ setup build-clang &&
    ninja -C build-clang suites >/dev/null; then
  run_areas "C API (clang)" ./build-clang/tests/test-c-api
  run_areas "C++ (clang)" ./build-clang/tests/test-cpp
else
  echo "clang: could not install clang or build the suites with it"
  count 0 1
fi
