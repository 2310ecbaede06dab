#!/usr/bin/env bash
# The child-process and file benchmarks (W13, W14): uvrun's C and C++ APIs
# against what their users would pick instead, all in the same run. Called
# at the end of scripts/bench.sh; runnable alone. Never part of the tests.
# bench/io/README.md says what each program is and how a number is taken.
#
# Writes bench/results/raw/proc-fs.jsonl (every measurement and failure, the
# programs that are not available and why, the run's meta data),
# raw/proc-fs/ (each program's output, build logs) and
# bench/results/proc-fs.md.
#
# Environment (default):
#   BENCH_PF_ROUNDS (3)         rounds; the programs' order turns by one
#                               each round; the median is the result
#   BENCH_PF_BUDGET (1200)      seconds of measuring; runs that no longer fit
#                               are recorded as skipped
#   BENCH_PF_ONLY ("W13 W14")   the workloads to run
#   BENCH_PF_IMPLS (all)        only these, e.g. "uvrun uvrun-cpp libuv"
#   BENCH_PF_SPAWNS (10000)     W13: spawns of `true` in a run
#   BENCH_PF_CAT_BYTES (268435456)  W13: bytes through `cat`
#   BENCH_PF_SMALL_READS (100000)   W14: reads of the 4 KiB file in a run
#   BENCH_PF_BIG_BYTES (67108864)   W14: the big file's size
#   BENCH_PF_BIG_READS (5)      W14: reads of the big file in a run (its
#                               result is their median)
#   BENCH_PF_NICE (0)           niceness of the programs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=/usr/bin/python3 # Debian's: python3-uvloop lives there

rounds=${BENCH_PF_ROUNDS:-3}
budget=${BENCH_PF_BUDGET:-1200}
only=${BENCH_PF_ONLY:-W13 W14}
impls_wanted=${BENCH_PF_IMPLS:-}
spawns=${BENCH_PF_SPAWNS:-10000}
cat_bytes=${BENCH_PF_CAT_BYTES:-268435456}
small_reads=${BENCH_PF_SMALL_READS:-100000}
big_bytes=${BENCH_PF_BIG_BYTES:-67108864}
big_reads=${BENCH_PF_BIG_READS:-5}
niceness=${BENCH_PF_NICE:-0}

scripts/deps.sh python3 python3-uvloop jq librust-tokio-dev
command -v node >/dev/null || scripts/deps.sh nodejs # keep a node installed otherwise
command -v cargo >/dev/null || scripts/deps.sh cargo

source scripts/bench-io-lib.sh
open_record proc-fs

# ---- build -------------------------------------------------------------------
[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
# The folders came after this build folder was configured.
[ -d build-release/bench/io/proc ] || meson setup --reconfigure build-release >/dev/null

impls=(uvrun uvrun-cpp libuv tokio asyncio uvloop node)
# Every program takes the same arguments (bench/io/oneshot.h).
for kind in proc files; do
  d=bench/io/$kind
  native $kind uvrun "$d/$kind-uvrun" "$d/${kind}_uvrun.c"
  native $kind uvrun-cpp "$d/$kind-uvrun-cpp" "$d/${kind}_uvrun.cpp"
  native $kind libuv "$d/$kind-libuv" "$d/${kind}_libuv.c"
  crate $kind tokio "$d/tokio"
  script $kind asyncio "$d/${kind}_asyncio.py" $py --impl asyncio
  script $kind uvloop "$d/${kind}_asyncio.py" $py --impl uvloop
  script $kind node "$d/${kind}_node.js" node
done

# W14's files, on the disk of the tree (read from the page cache after the
# first read, as a program's hot files are).
data=$root/build-release/bench/io/files/data
mkdir -p "$data"
small=$data/small-4KiB big=$data/big
head -c 4096 /dev/urandom >"$small"
head -c "$big_bytes" /dev/urandom >"$big"

# ---- workloads -----------------------------------------------------------------
start=$SECONDS

# One run of a program: $1 workload, $2 case, $3 kind, $4 impl, $5 round,
# $6 unit, then the program's arguments. Records its value or why it failed.
run() {
  local w=$1 c=$2 kind=$3 impl=$4 round=$5 unit=$6 f rc=0 value
  shift 6
  f=$logs/$w-${c// /_}-$impl-r$round.txt
  if [ "$(left)" -lt 10 ]; then
    failed "$w" "$c" "$impl" "$round" "skipped: time budget spent"
    return 1
  fi
  echo "$w $c round $round: $impl" >&2
  eval "timeout $(limit 300) nice -n $niceness ${cmd[$kind/$impl]} $(printf '%q ' "$@")" >"$f" 2>"$f.err" || rc=$?
  value=$(jq -r '.value' "$f" 2>/dev/null || true)
  if [ "$rc" -ne 0 ]; then
    failed "$w" "$c" "$impl" "$round" "exit $rc$([ "$rc" = 124 ] && echo ' (timeout)'): $(tail -c 200 "$f.err" | tr '\n' ' ')"
  elif is_number "$value"; then
    measured "$w" "$c" "$impl" "$round" "$unit" "$value"
    return 0
  else
    failed "$w" "$c" "$impl" "$round" "no value in the program's output"
  fi
  return 1
}

w13() { # impl round
  local v
  if run W13 "spawn true" proc "$1" "$2" spawns/s spawn "$spawns"; then
    v=$(jq -r '.value' "$logs/W13-spawn_true-$1-r$2.txt")
    measured W13 "µs per spawn of true" "$1" "$2" µs "$(awk -v v="$v" 'BEGIN {printf "%.1f", 1e6 / v}')"
  fi
  run W13 "cat round trip, $(numfmt --to=iec-i --suffix=B "$cat_bytes")" proc "$1" "$2" MB/s cat "$cat_bytes" || true
}

w14() {
  run W14 "read_file 4KiB" files "$1" "$2" reads/s small "$small" "$small_reads" || true
  run W14 "read_file $(numfmt --to=iec-i --suffix=B "$big_bytes")" files "$1" "$2" MB/s big "$big" "$big_reads" || true
}

# One round of a workload over every available program of a kind, the order
# turned by one each round.
run_workload() { # workload kind function round
  local w=$1 kind=$2 fn=$3 round=$4 i n=${#impls[@]} impl
  [[ " $only " == *" $w "* ]] || return 0
  for ((i = 0; i < n; i++)); do
    impl=${impls[(i + round - 1) % n]}
    [ -z "${cmd[$kind/$impl]:-}" ] || "$fn" "$impl" "$round"
  done
}

meta start
record --arg machine "$(machine)" --arg uvrun "$(uvrun_version)" \
  --arg libuv "$(pkg-config --modversion libuv)" \
  --arg node "$(node --version 2>/dev/null || echo none)" \
  --arg python "$($py -c 'import platform; print(platform.python_version())')" \
  --arg uvloop "$($py -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo none)" \
  --arg tokio "$(dpkg-query -W -f='${Version}' librust-tokio-dev 2>/dev/null || echo none)" \
  --arg rustc "$(rustc --version 2>/dev/null | cut -d' ' -f2 || echo none)" \
  --arg gxx "$(g++ -dumpfullversion)" \
  --arg knobs "rounds=$rounds budget=${budget}s; W13 $spawns spawns, $cat_bytes bytes through cat; W14 $small_reads reads of 4096 bytes, $big_reads reads of $big_bytes bytes a run; nice $niceness${impls_wanted:+; only $impls_wanted}" \
  '{meta: "versions", machine: $machine, uvrun: $uvrun, libuv: $libuv, node: $node, python: $python,
    uvloop: $uvloop, tokio: $tokio, rustc: $rustc, "g++": $gxx, knobs: $knobs}'

# Rounds outermost: a budget spent early costs the last rounds, not the last
# workloads.
for ((round = 1; round <= rounds; round++)); do
  run_workload W13 proc w13 "$round"
  run_workload W14 files w14 "$round"
done
meta end
rm -rf "$data"

$py bench/io/aggregate_io.py "$out" proc-fs
echo "wrote $out/proc-fs.md in $((SECONDS - start))s of measuring" >&2
