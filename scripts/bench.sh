#!/usr/bin/env bash
# Benchmarks uvrun against the runtimes people would pick instead (Python
# asyncio and uvloop, standalone asio, tokio's current-thread runtime, and
# raw libuv as the floor), in an optimized build. Never part of the tests.
#
# Writes bench/results/: summary.md (tables), ratios.png (chart),
# results.json, raw/ (every measurement), core.txt and cpp.txt (Google
# Benchmark micro-benchmarks); the README links summary.md and the chart.
# At its end scripts/bench-io.sh (io.md, W8-W12) and scripts/bench-proc-fs.sh
# (proc-fs.md, W13 and W14) and scripts/bench-loops.sh (loops.md, W16) run
# with their own budgets.
#
# Environment: BENCH_SAMPLES (repetitions, default 7), BENCH_SAMPLE_MS
# (minimum length of one repetition, default 50), BENCH_W4_RUNS (fresh
# processes for W4, default 5), BENCH_WAIT_IDLE=SECONDS (wait up to that
# long for a 1-minute load average below 0.7 before measuring).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
budget=540  # seconds of measuring; the whole run stays under 10 minutes

export BENCH_SAMPLES=${BENCH_SAMPLES:-7} BENCH_SAMPLE_MS=${BENCH_SAMPLE_MS:-50}
w4_runs=${BENCH_W4_RUNS:-5}
py=/usr/bin/python3  # Debian's: python3-uvloop and python3-matplotlib live there

scripts/deps.sh libbenchmark-dev libasio-dev python3 python3-uvloop python3-matplotlib hyperfine librust-tokio-dev
command -v cargo >/dev/null || scripts/deps.sh cargo

# ---- build -------------------------------------------------------------------
[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release bench/bench-core bench/bench-cpp bench/compare/cmp-uvrun-c \
  bench/compare/cmp-uvrun-cpp bench/compare/cmp-libuv bench/compare/cmp-asio bench/compare/cmp-bare-task >/dev/null
bin=$root/build-release/bench/compare

out=bench/results
raw=$out/raw
rm -rf "$raw"
mkdir -p "$raw"
: >"$raw/timed.jsonl"
: >"$raw/w4.jsonl"
: >"$raw/unavailable.tsv"
: >"$raw/failures.tsv"
unavailable() { printf '%s\t%s\n' "$1" "$2" >>"$raw/unavailable.tsv"; echo "not available: $1: $2" >&2; }
failed() { printf '%s\t%s\n' "$1" "$2" >>"$raw/failures.tsv"; echo "failed: $1: $2" >&2; }

# tokio: built offline from Debian's crate sources, in the build folder.
tokio_bin=
tk=build-release/bench/tokio
if scripts/build-crate.sh bench/compare/tokio "$tk" >"$raw/tokio-build.log" 2>&1; then
  tokio_bin=$root/$tk/target/release/cmp-tokio
else
  unavailable tokio "cargo could not build it offline from /usr/share/cargo/registry: $(grep -m1 -i 'error' "$raw/tokio-build.log" | cut -c1-200)"
fi

uvloop_ok=1
$py -c 'import uvloop' 2>/dev/null || { uvloop_ok=0; unavailable uvloop "python3-uvloop does not import"; }
[ -x "$bin/cmp-asio" ] || unavailable asio "asio.hpp (libasio-dev) not found at configure time"

# impl name -> command prefix
declare -A cmd=(
  [uvrun-c]="$bin/cmp-uvrun-c"
  [uvrun-cpp]="$bin/cmp-uvrun-cpp"
  [libuv]="$bin/cmp-libuv"
  [asyncio]="$py $root/bench/compare/asyncio_bench.py --impl asyncio"
)
[ -x "$bin/cmp-asio" ] && cmd[asio]="$bin/cmp-asio"
[ "$uvloop_ok" = 1 ] && cmd[uvloop]="$py $root/bench/compare/asyncio_bench.py --impl uvloop"
[ -n "$tokio_bin" ] && cmd[tokio]="$tokio_bin"
order=(uvrun-c uvrun-cpp libuv asio tokio asyncio uvloop)

# ---- wait for a quiet machine (optional) ----------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
if [ -n "${BENCH_WAIT_IDLE:-}" ]; then
  waited=0
  while awk -v l="$(load1)" 'BEGIN{exit !(l >= 0.7)}' && [ "$waited" -lt "$BENCH_WAIT_IDLE" ]; do
    sleep 15; waited=$((waited + 15))
  done
fi
start=$SECONDS
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
left() { echo $((budget - (SECONDS - start))); }

# ---- timed workloads (W1 W2 W3 W5 W6) ---------------------------------------
for impl in "${order[@]}"; do
  [ -n "${cmd[$impl]:-}" ] || continue
  t=$(left); [ "$t" -gt 30 ] || { failed "$impl" "skipped: time budget spent"; continue; }
  [ "$t" -gt 150 ] && t=150
  echo "timed workloads: $impl" >&2
  if ! timeout "$t" ${cmd[$impl]} >>"$raw/timed.jsonl" 2>"$raw/$impl.err"; then
    failed "$impl" "exit or timeout after ${t}s (see raw/$impl.err); results so far kept"
  fi
done

# W3.inline's reference point: a bare C++20 task from the same compiler.
timeout 60 "$bin/cmp-bare-task" w3 >>"$raw/timed.jsonl" 2>"$raw/bare-cpp.err" ||
  failed bare-cpp "exit or timeout (see raw/bare-cpp.err)"

# ---- W4: 100k sleeping tasks, one fresh process per repetition ---------------
for ((rep = 0; rep < w4_runs; rep++)); do
  for impl in "${order[@]}"; do
    [ -n "${cmd[$impl]:-}" ] || continue
    [ "$(left)" -gt 20 ] || break 2
    timeout 60 ${cmd[$impl]} w4 100000 >>"$raw/w4.jsonl" 2>>"$raw/$impl.err" || failed "W4.wall/$impl" "run $rep failed"
  done
done

# ---- W7: cold start of a no-op main (hyperfine) --------------------------------
hf=(hyperfine -N --style none --warmup 3 --runs 30 --export-json "$raw/w7.json")
for impl in "${order[@]}"; do
  [ -n "${cmd[$impl]:-}" ] || continue
  case $impl in
    asyncio) c="$py -c 'import asyncio; asyncio.run(asyncio.sleep(0))'" ;;
    uvloop) c="$py -c 'import asyncio, uvloop; uvloop.install(); asyncio.run(asyncio.sleep(0))'" ;;
    *) c="${cmd[$impl]} w7" ;;
  esac
  hf+=(-n "$impl" "$c")
done
if [ "$(left)" -gt 40 ]; then
  timeout "$(left)" "${hf[@]}" >"$raw/hyperfine.txt" 2>&1 || failed W7 "hyperfine failed (see raw/hyperfine.txt)"
else
  failed W7 "skipped: time budget spent"
fi

# ---- Google Benchmark micro-benchmarks (uvrun and raw libuv) -----------------------
if [ "$(left)" -gt 60 ]; then
  gb=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.1)
  ./build-release/bench/bench-core "${gb[@]}" >"$out/core.txt" 2>/dev/null || true
  ./build-release/bench/bench-cpp "${gb[@]}" --benchmark_filter='-BM_sleeping' >"$out/cpp.txt" 2>/dev/null || true
fi

# ---- summary -----------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
  printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf 'machine\t%s, %s cores, %s, %s GiB RAM\n' "$(uname -m)" "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo)"
  printf 'load_start\t%s\n' "$load_start"
  printf 'load_end\t%s\n' "$load_end"
  if awk -v l="${load_start%% *}" 'BEGIN{exit !(l >= 0.7)}'; then
    printf 'load_note\t%s\n' "Measured on a busy machine (1-minute load ${load_start%% *} >= 0.7 at the start): treat ratios with care."
  fi
  printf 'samples\t%s\n' "$BENCH_SAMPLES"
  printf 'sample_ms\t%s\n' "$BENCH_SAMPLE_MS"
  printf 'version_uvrun\t%s\n' "$(awk '/#define UVRUN_VERSION_(MAJOR|MINOR|PATCH) /{v = v (v == "" ? "" : ".") $3} END{print v}' capi/include/uvrun.h)"
  printf 'version_libuv\t%s\n' "$(pkg-config --modversion libuv)"
  printf 'version_asio\t%s\n' "$(dpkg-query -W -f='${Version}' libasio-dev 2>/dev/null)"
  printf 'version_tokio\t%s\n' "$(dpkg-query -W -f='${Version}' librust-tokio-dev 2>/dev/null) ($(rustc --version 2>/dev/null | cut -d' ' -f1-2))"
  printf 'version_python\t%s\n' "$($py -c 'import platform; print(platform.python_version())')"
  printf 'version_uvloop\t%s\n' "$($py -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo none)"
  printf 'version_g++\t%s\n' "$(g++ -dumpfullversion)"
} >"$raw/meta.tsv"
$py bench/compare/aggregate.py "$out"
echo "wrote $out/summary.md and $out/ratios.png in $((SECONDS - start))s of measuring" >&2
cat "$out/summary.md"

# ---- I/O benchmarks (W8-W12), child processes and files (W13, W14), tasks
# from another thread (W15), then one loop per core (W16): their own scripts,
# budgets and results ------------------------------------------------------
scripts/bench-io.sh
scripts/bench-proc-fs.sh
scripts/bench-threads.sh
scripts/bench-loops.sh
