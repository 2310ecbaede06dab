#!/usr/bin/env bash
# W16, one loop per core: uvrun-http-hello with --loops 1 and --loops 2
# under wrk, in the same run. Runnable alone; never part of the tests.
# bench/io/README.md says how a number is taken and models the scaling.
#
# Writes bench/results/raw/loops.jsonl (every measurement and failure, the
# run's meta data), raw/loops/ (wrk's and the server's output) and
# bench/results/loops.md.
#
# Environment (default):
#   BENCH_LOOPS_ROUNDS (3)     rounds; the order of the two servers turns
#                              each round; the median is the result
#   BENCH_LOOPS_SECONDS (10)   wrk's duration
#   BENCH_LOOPS_BUDGET (300)   seconds of measuring; runs that no longer fit
#                              are recorded as skipped
#   BENCH_LOOPS_NICE (0)       niceness of server and client
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=/usr/bin/python3

rounds=${BENCH_LOOPS_ROUNDS:-3}
seconds=${BENCH_LOOPS_SECONDS:-10}
budget=${BENCH_LOOPS_BUDGET:-300}
niceness=${BENCH_LOOPS_NICE:-0}
impls_wanted=

scripts/deps.sh python3 jq wrk

source scripts/bench-io-lib.sh
open_record loops

[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
native http uvrun examples/uvrun-http-hello examples/http_hello/main.cpp
[ -n "${cmd[http/uvrun]:-}" ] || exit 1
declare -A loops_of=([uvrun]=1 [uvrun-2loops]=2)
srv_pid=

start=$SECONDS

# One measured run: a fresh server with --loops N, a 2 s warm-up, then wrk.
# Server and client are not pinned: the point is two loops on two cores.
w16() { # impl round
  local impl=$1 round=$2 f=$logs/W16-$1-r$2 line port=""
  if [ "$(left)" -lt $((seconds + 10)) ]; then
    failed W16 "" "$impl" "$round" "skipped: time budget spent"
    return 0
  fi
  echo "W16 round $round: --loops ${loops_of[$impl]}" >&2
  (eval "exec nice -n $niceness ${cmd[http/uvrun]} --host 127.0.0.1 --port 0 --loops ${loops_of[$impl]}") \
    >"$f.server.out" 2>"$f.server.err" &
  srv_pid=$!
  for _ in $(seq 200); do
    line=$(grep -m1 '^listening on ' "$f.server.out" || true)
    [ -z "$line" ] || { port=${line##*:}; break; }
    alive || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    failed W16 "" "$impl" "$round" "the server did not listen: $(tail -c 200 "$f.server.err" | tr '\n' ' ')"
  else
    nice -n "$niceness" wrk -t2 -c64 -d2s "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    if ! timeout "$(limit $((seconds + 30)))" nice -n "$niceness" \
      wrk -t2 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$port/" >"$f.txt" 2>&1; then
      failed W16 "" "$impl" "$round" "wrk failed: $(tail -c 200 "$f.txt" | tr '\n' ' ')"
    else
      record_wrk W16 "$impl" "$round" "$f.txt"
    fi
  fi
  # A graceful stop takes at most the server's 5 s grace.
  kill -TERM "$srv_pid" 2>/dev/null || true
  for _ in $(seq 70); do alive || break; sleep 0.1; done
  kill -KILL "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
}

meta start
record --arg machine "$(machine)" --arg uvrun "$(uvrun_version)" \
  --arg libuv "$(pkg-config --modversion libuv)" \
  --arg wrk "$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)" \
  --arg knobs "rounds=$rounds budget=${budget}s; wrk -t2 -c64 -d${seconds}s after a 2 s warm-up; server and client unpinned; nice $niceness" \
  '{meta: "versions", machine: $machine, uvrun: $uvrun, libuv: $libuv, wrk: $wrk, knobs: $knobs}'
impls=(uvrun uvrun-2loops)
for ((round = 1; round <= rounds; round++)); do
  for ((i = 0; i < 2; i++)); do w16 "${impls[(i + round - 1) % 2]}" "$round"; done
done
meta end

$py bench/io/aggregate_io.py "$out" loops
echo "wrote $out/loops.md in $((SECONDS - start))s of measuring" >&2
