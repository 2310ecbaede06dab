#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec ./build/examples/uvrun-demo
