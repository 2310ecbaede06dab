#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, run the demos (C,
# then the same job in C++). Ctrl-C interrupts the one running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
./build/examples/uvrun-demo
echo
exec ./build/examples/uvrun-demo-cpp
