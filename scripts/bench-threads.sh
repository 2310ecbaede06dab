#!/usr/bin/env bash
# Tasks handed to a loop in another thread (W15): uvrun's C and C++ APIs
# against what their users would pick instead, all in the same run. Called
# at the end of scripts/bench.sh; runnable alone. Never part of the tests.
# bench/threads/README.md says what each program is and how a number is
# taken.
#
# Writes bench/results/raw/threads.jsonl (every measurement and failure, the
# programs that are not available and why, the run's meta data),
# raw/threads/ (each program's output, build logs) and
# bench/results/threads.md.
#
# Environment (default):
#   BENCH_TH_ROUNDS (3)          rounds; the programs' order turns by one
#                                each round; the median is the result
#   BENCH_TH_BUDGET (600)        seconds of measuring; runs that no longer
#                                fit are recorded as skipped
#   BENCH_TH_IMPLS (all)         only these, e.g. "uvrun uvrun-cpp asio"
#   BENCH_TH_ROUNDTRIPS (100000) W15a: submit-and-wait round trips in a run
#   BENCH_TH_BURST (100000)      W15b: submissions in a burst
#   BENCH_TH_NICE (0)            niceness of the programs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=/usr/bin/python3 # Debian's: python3-uvloop lives there

rounds=${BENCH_TH_ROUNDS:-3}
budget=${BENCH_TH_BUDGET:-600}
impls_wanted=${BENCH_TH_IMPLS:-}
roundtrips=${BENCH_TH_ROUNDTRIPS:-100000}
burst=${BENCH_TH_BURST:-100000}
niceness=${BENCH_TH_NICE:-0}

scripts/deps.sh python3 python3-uvloop jq libasio-dev librust-tokio-dev
command -v cargo >/dev/null || scripts/deps.sh cargo

source scripts/bench-io-lib.sh
open_record threads

# ---- build -------------------------------------------------------------------
[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
# The folder came after this build folder was configured.
[ -d build-release/bench/threads ] || meson setup --reconfigure build-release >/dev/null

impls=(uvrun uvrun-cpp asio tokio asyncio uvloop)
d=bench/threads
native threads uvrun "$d/threads-uvrun" "$d/threads_uvrun.c"
native threads uvrun-cpp "$d/threads-uvrun-cpp" "$d/threads_uvrun.cpp"
native threads asio "$d/threads-asio" "$d/threads_asio.cpp"
crate threads tokio "$d/tokio"
script threads asyncio "$d/threads_asyncio.py" $py --impl asyncio
script threads uvloop "$d/threads_asyncio.py" $py --impl uvloop

# ---- workloads -----------------------------------------------------------------
start=$SECONDS

# One run of a program: $1 impl, $2 round, $3 mode, $4 count. Records its
# value (roundtrip: the median and the p99) or why it failed.
run() {
  local impl=$1 round=$2 mode=$3 count=$4 f rc=0 value p99
  f=$logs/W15-$mode-$impl-r$round.txt
  local c=("W15a round trip, median" "W15a round trip, p99")
  [ "$mode" = roundtrip ] || c=("W15b burst")
  if [ "$(left)" -lt 10 ]; then
    failed W15 "${c[0]}" "$impl" "$round" "skipped: time budget spent"
    return
  fi
  echo "W15 $mode round $round: $impl" >&2
  eval "timeout $(limit 300) nice -n $niceness ${cmd[threads/$impl]} $mode $count" >"$f" 2>"$f.err" || rc=$?
  value=$(jq -r '.value' "$f" 2>/dev/null || true)
  p99=$(jq -r '.p99' "$f" 2>/dev/null || true)
  if [ "$rc" -ne 0 ]; then
    failed W15 "${c[0]}" "$impl" "$round" "exit $rc$([ "$rc" = 124 ] && echo ' (timeout)'): $(tail -c 200 "$f.err" | tr '\n' ' ')"
  elif ! is_number "$value"; then
    failed W15 "${c[0]}" "$impl" "$round" "no value in the program's output"
  elif [ "$mode" = burst ]; then
    measured W15 "${c[0]}" "$impl" "$round" submissions/s "$value"
  else
    measured W15 "${c[0]}" "$impl" "$round" µs "$value"
    if is_number "$p99"; then measured W15 "${c[1]}" "$impl" "$round" µs "$p99"; fi
  fi
}

meta start
record --arg machine "$(machine)" --arg uvrun "$(uvrun_version)" \
  --arg asio "$(dpkg-query -W -f='${Version}' libasio-dev 2>/dev/null || echo none)" \
  --arg python "$($py -c 'import platform; print(platform.python_version())')" \
  --arg uvloop "$($py -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo none)" \
  --arg tokio "$(dpkg-query -W -f='${Version}' librust-tokio-dev 2>/dev/null || echo none)" \
  --arg rustc "$(rustc --version 2>/dev/null | cut -d' ' -f2 || echo none)" \
  --arg gxx "$(g++ -dumpfullversion)" \
  --arg knobs "rounds=$rounds budget=${budget}s; W15 $roundtrips round trips, bursts of $burst; nice $niceness${impls_wanted:+; only $impls_wanted}" \
  '{meta: "versions", machine: $machine, uvrun: $uvrun, asio: $asio, python: $python, uvloop: $uvloop,
    tokio: $tokio, rustc: $rustc, "g++": $gxx, knobs: $knobs}'

# Rounds outermost: a budget spent early costs the last rounds. Each round
# runs every available program in an order turned by one.
n=${#impls[@]}
for ((round = 1; round <= rounds; round++)); do
  for ((i = 0; i < n; i++)); do
    impl=${impls[(i + round - 1) % n]}
    [ -n "${cmd[threads/$impl]:-}" ] || continue
    run "$impl" "$round" roundtrip "$roundtrips"
    run "$impl" "$round" burst "$burst"
  done
done
meta end

$py bench/io/aggregate_io.py "$out" threads
echo "wrote $out/threads.md in $((SECONDS - start))s of measuring" >&2
