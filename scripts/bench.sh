#!/usr/bin/env bash
# Runs the benchmarks (never part of the tests) in an optimized build and
# writes bench/results/core.txt: uvrun and raw libuv, measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh libbenchmark-dev
[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release >/dev/null
mkdir -p bench/results
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  ./build-release/bench/bench-core --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 2>/dev/null
} | tee bench/results/core.txt
