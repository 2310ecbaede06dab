#!/usr/bin/env bash
# The I/O benchmarks (W8-W12): uvrun's example servers against the servers
# their users would pick instead, all in the same run, the server pinned to
# one core and the client to the other. Called at the end of
# scripts/bench.sh; runnable alone. Never part of the tests.
# bench/io/README.md says what each program is and how a number is taken.
#
# Writes bench/results/raw/io.jsonl (every measurement and failure, the
# peers that are not available and why, the run's meta data), raw/io/ (each
# client's and server's output, build logs) and bench/results/io.md.
#
# Environment (default):
#   BENCH_IO_ROUNDS (3)       rounds of each workload; the servers' order
#                             turns by one each round; the median is the result
#   BENCH_IO_BUDGET (720)     seconds of measuring; runs that no longer fit
#                             are recorded as skipped
#   BENCH_IO_ONLY ("W8 W9 W10 W11 W12")  the workloads to run
#   BENCH_IO_IMPLS (all)      only these servers, e.g. "uvrun redis libuv"
#   BENCH_IO_W8_N (50000), BENCH_IO_W8_N16 (500000)
#                             requests per redis-benchmark test at -P 1, -P 16
#   BENCH_IO_W8_TESTS ("ping_inline ping_mbulk set get")
#   BENCH_IO_W9_SECONDS (5)   wrk's duration
#   BENCH_IO_W10_BYTES (1073741824)
#   BENCH_IO_W11_N (20000)    ab's requests (each a new connection)
#   BENCH_IO_W12_CONNECTIONS (10000)
#   BENCH_IO_NICE (0)         niceness of servers and clients
#   BENCH_IO_SERVER_CPU (0), BENCH_IO_CLIENT_CPU (1)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=/usr/bin/python3 # Debian's: python3-uvloop lives there

rounds=${BENCH_IO_ROUNDS:-3}
budget=${BENCH_IO_BUDGET:-720}
only=${BENCH_IO_ONLY:-W8 W9 W10 W11 W12}
impls_wanted=${BENCH_IO_IMPLS:-}
w8_n=${BENCH_IO_W8_N:-50000}
w8_n16=${BENCH_IO_W8_N16:-500000}
w8_tests=${BENCH_IO_W8_TESTS:-ping_inline ping_mbulk set get}
w9_seconds=${BENCH_IO_W9_SECONDS:-5}
w10_bytes=${BENCH_IO_W10_BYTES:-1073741824}
w11_n=${BENCH_IO_W11_N:-20000}
w12_conns=${BENCH_IO_W12_CONNECTIONS:-10000}
niceness=${BENCH_IO_NICE:-0}
server_cpu=${BENCH_IO_SERVER_CPU:-0}
client_cpu=${BENCH_IO_CLIENT_CPU:-1}

scripts/deps.sh python3 python3-uvloop jq redis-server redis-tools wrk apache2-utils \
  librust-tokio-dev librust-hyper-dev
command -v node >/dev/null || scripts/deps.sh nodejs # keep a node installed otherwise
command -v cargo >/dev/null || scripts/deps.sh cargo

source scripts/bench-io-lib.sh
open_record io

# ---- build -------------------------------------------------------------------
[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
# A peer's folder that came after this build folder was configured.
for d in resp http; do
  if [ -f "bench/io/$d/meson.build" ] && [ ! -d "build-release/bench/io/$d" ]; then
    meson setup --reconfigure build-release >/dev/null
    break
  fi
done

resp_impls=(uvrun redis libuv asio tokio asyncio uvloop node)
http_impls=(uvrun libuv asio tokio asyncio uvloop node)
bulk_impls=(uvrun libuv)

native resp uvrun examples/uvrun-resp-server examples/resp_server/main.c
native http uvrun examples/uvrun-http-hello examples/http_hello/main.cpp
if wanted redis; then
  if command -v redis-server >/dev/null; then cmd[resp/redis]=redis-server; else unavailable resp redis "redis-server is not installed"; fi
fi
# The peers: the same names in both folders (notes in bench/io/README.md).
for kind in resp http; do
  d=bench/io/$kind
  native $kind libuv "$d/$kind-libuv" "$d/${kind}_libuv.c"
  native $kind asio "$d/$kind-asio" "$d/${kind}_asio.cpp"
  crate $kind tokio "$d/tokio"
  script $kind asyncio "$d/${kind}_asyncio.py" $py --impl asyncio
  script $kind uvloop "$d/${kind}_asyncio.py" $py --impl uvloop
  script $kind node "$d/${kind}_node.js" node
done

native bulk uvrun bench/io/bulk-uvrun bench/io/bulk_uvrun.c
native bulk libuv bench/io/bulk-libuv bench/io/bulk_libuv.c
for impl in "${bulk_impls[@]}"; do
  [ -z "${cmd[bulk/$impl]:-}" ] || cmd[bulk/$impl]+=" sink"
done

# ---- servers -------------------------------------------------------------------
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
on_server="prlimit --nofile=$nofile:$nofile nice -n $niceness taskset -c $server_cpu"
on_client=(prlimit --nofile="$nofile:$nofile" nice -n "$niceness" taskset -c "$client_cpu")

srv_pid=
srv_port=
free_port() { $py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts kind/impl with its output in $logs/$3.*; sets srv_pid and srv_port.
# Fails (the reason in $why) when it does not come up within 20 s.
start_server() {
  local log=$logs/$3.server.out line
  if [ "$1/$2" = resp/redis ]; then
    # redis-server prints no "listening" line: pick its port, then wait for it.
    srv_port=$(free_port)
    (eval "exec $on_server redis-server --port $srv_port --bind 127.0.0.1 --save '' --appendonly no \
      --maxclients $((w12_conns + 100))") >"$log" 2>"$logs/$3.server.err" &
    srv_pid=$!
    for _ in $(seq 200); do
      port_open "$srv_port" && return 0
      alive || break
      sleep 0.1
    done
  else
    (eval "exec $on_server ${cmd[$1/$2]} --host 127.0.0.1 --port 0") >"$log" 2>"$logs/$3.server.err" &
    srv_pid=$!
    for _ in $(seq 200); do
      line=$(grep -m1 '^listening on ' "$log" || true)
      if [ -n "$line" ]; then
        srv_port=${line##*:}
        return 0
      fi
      alive || break
      sleep 0.1
    done
  fi
  if alive; then why="the server did not listen within 20 s"; else why="the server exited"; fi
  why+=": $(tail -c 200 "$logs/$3.server.err" | tr '\n' ' ')"
  return 1
}

stop_server() {
  [ -n "$srv_pid" ] || return 0
  kill -TERM "$srv_pid" 2>/dev/null || true
  for _ in $(seq 60); do alive || break; sleep 0.1; done
  kill -KILL "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  srv_pid=
}

# ---- results -------------------------------------------------------------------
start=$SECONDS
# Each client run: $1 workload, $2 case, $3 impl, $4 round, $5 output file;
# then the command. 0 when it exited well and the server still runs. A
# server that dies ends the client at once (redis-benchmark would retry for
# ever). W10's sink ends by itself: w10 checks how.
client() {
  local w=$1 c=$2 impl=$3 round=$4 file=$5 rc=0 pid
  shift 5
  if [ "$w" != W10 ] && ! alive; then
    failed "$w" "$c" "$impl" "$round" "the server died before this run"
    return 1
  fi
  "$@" >"$file" 2>"$file.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && { [ "$w" = W10 ] || alive; }; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    failed "$w" "$c" "$impl" "$round" "the server died during the run (see raw/io/$w-$impl-r$round.server.err)"
    return 1
  fi
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    failed "$w" "$c" "$impl" "$round" "client exit $rc$([ "$rc" = 124 ] && echo ' (timeout)'): $(tail -c 200 "$file.err" | tr '\n' ' ')"
    return 1
  fi
  if [ "$w" != W10 ] && ! alive; then
    failed "$w" "$c" "$impl" "$round" "the server died (see raw/io/$w-$impl-r$round.server.err)"
    return 1
  fi
}

# ---- workloads -----------------------------------------------------------------
w8() { # impl round
  local p n t tag rps name
  for p in 1 16; do
    n=$([ "$p" = 1 ] && echo "$w8_n" || echo "$w8_n16")
    for t in $w8_tests; do
      tag=W8-$t-P$p-$1-r$2
      client W8 "${t^^} -P$p" "$1" "$2" "$logs/$tag.txt" timeout "$(limit 120)" "${on_client[@]}" \
        redis-benchmark -h 127.0.0.1 -p "$srv_port" -c 50 -n "$n" -t "$t" -P "$p" --csv || {
        alive && continue || return 0
      }
      read -r name rps < <(awk -F'"' '$2 != "test" && NF > 4 {print $2, $4; exit}' "$logs/$tag.txt") || true
      if is_number "${rps:-}"; then measured W8 "$name -P$p" "$1" "$2" req/s "$rps"
      else failed W8 "${t^^} -P$p" "$1" "$2" "no CSV result in redis-benchmark's output"; fi
    done
  done
}

w9() {
  local f=$logs/W9-$1-r$2.txt
  client W9 "" "$1" "$2" "$f" timeout "$(limit $((w9_seconds + 30)))" "${on_client[@]}" \
    wrk -t1 -c64 -d"${w9_seconds}s" --latency "http://127.0.0.1:$srv_port/" || return 0
  record_wrk W9 "$1" "$2" "$f"
}

w10() { # the "server" is the sink: it exits by itself once it has answered
  local f=$logs/W10-$1-r$2.txt c mbs sink_rc=0
  c=$(numfmt --to=iec-i --suffix=B "$w10_bytes")
  client W10 "$c" "$1" "$2" "$f" timeout "$(limit 300)" \
    bash -c "exec ${on_client[*]} ${cmd[bulk/$1]% sink} source --host 127.0.0.1 --port $srv_port --bytes $w10_bytes" ||
    return 0
  wait "$srv_pid" || sink_rc=$?
  srv_pid=
  mbs=$(jq -r '.mb_s' "$f" 2>/dev/null || true)
  if [ "$sink_rc" != 0 ]; then failed W10 "$c" "$1" "$2" "the sink exited with status $sink_rc"
  elif is_number "$mbs"; then measured W10 "$c" "$1" "$2" MB/s "$mbs"
  else failed W10 "$c" "$1" "$2" "no mb_s in the source's output"; fi
}

w11() {
  local f=$logs/W11-$1-r$2.txt rps bad
  client W11 "ab -c 50" "$1" "$2" "$f" timeout "$(limit 120)" "${on_client[@]}" \
    ab -q -c 50 -n "$w11_n" "http://127.0.0.1:$srv_port/" || return 0
  bad=$(awk '/^Failed requests:/ {f = $3} /^Non-2xx responses:/ {n = $3} END {print f + n}' "$f")
  rps=$(awk '/^Requests per second:/ {print $4}' "$f")
  if [ "${bad:-1}" != 0 ]; then failed W11 "ab -c 50" "$1" "$2" "$bad failed or non-2xx requests"
  elif is_number "${rps:-}"; then measured W11 "ab -c 50" "$1" "$2" conn/s "$rps"
  else failed W11 "ab -c 50" "$1" "$2" "no 'Requests per second' in ab's output"; fi
}

w12() {
  local f=$logs/W12-$1-r$2.txt kib
  client W12 "$w12_conns idle" "$1" "$2" "$f" timeout "$(limit 180)" "${on_client[@]}" \
    $py bench/io/idle_clients.py --port "$srv_port" --pid "$srv_pid" --connections "$w12_conns" || return 0
  kib=$(jq -r '.kib_per_conn' "$f" 2>/dev/null || true)
  if is_number "$kib"; then measured W12 "$w12_conns idle" "$1" "$2" KiB/conn "$kib"
  else failed W12 "$w12_conns idle" "$1" "$2" "no kib_per_conn in idle_clients.py's output"; fi
}

# Unmeasured load before the first measured run of a fresh server, the same
# for every one: a JIT (Node's V8) compiles its hot paths in the first
# seconds, and every server's allocator and caches warm up.
warm_up() { # kind
  case $1 in
    resp) "${on_client[@]}" redis-benchmark -h 127.0.0.1 -p "$srv_port" -c 50 -n 20000 -t ping_mbulk,set,get -q ;;
    http) "${on_client[@]}" wrk -t1 -c64 -d2s "http://127.0.0.1:$srv_port/" ;;
  esac >/dev/null 2>&1 || true
}

# One round of a workload over every available server of a kind, the order
# turned by one each round.
run_workload() { # workload kind function round impls...
  local w=$1 kind=$2 fn=$3 round=$4 i n impl
  shift 4
  [[ " $only " == *" $w "* ]] || return 0
  n=$#
  local impls=("$@")
  for ((i = 0; i < n; i++)); do
    impl=${impls[(i + round - 1) % n]}
    [ -n "${cmd[$kind/$impl]:-}" ] || continue
    if [ "$(left)" -lt 10 ]; then
      failed "$w" "" "$impl" "$round" "skipped: time budget spent"
      continue
    fi
    echo "$w round $round: $impl" >&2
    if start_server "$kind" "$impl" "$w-$impl-r$round"; then
      [ "$w" = W12 ] || warm_up "$kind"
      "$fn" "$impl" "$round"
    else
      failed "$w" "" "$impl" "$round" "$why"
    fi
    stop_server
  done
}

meta start
record --arg machine "$(machine)" --arg uvrun "$(uvrun_version)" \
  --arg libuv "$(pkg-config --modversion libuv)" \
  --arg redis "$(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-)" \
  --arg wrk "$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)" \
  --arg ab "$(ab -V | head -1 | grep -o 'Version [^ ]*' | cut -d' ' -f2)" \
  --arg node "$(node --version 2>/dev/null || echo none)" \
  --arg python "$($py -c 'import platform; print(platform.python_version())')" \
  --arg uvloop "$($py -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo none)" \
  --arg asio "$(dpkg-query -W -f='${Version}' libasio-dev 2>/dev/null || echo none)" \
  --arg tokio "$(dpkg-query -W -f='${Version}' librust-tokio-dev 2>/dev/null || echo none)" \
  --arg hyper "$(dpkg-query -W -f='${Version}' librust-hyper-dev 2>/dev/null || echo none)" \
  --arg rustc "$(rustc --version 2>/dev/null | cut -d' ' -f2 || echo none)" \
  --arg gxx "$(g++ -dumpfullversion)" \
  --arg knobs "rounds=$rounds budget=${budget}s W8 -n $w8_n (-P 1), $w8_n16 (-P 16) tests '$w8_tests'; W9 ${w9_seconds}s; W10 $w10_bytes bytes; W11 -n $w11_n; W12 $w12_conns connections; nice $niceness; server cpu $server_cpu, client cpu $client_cpu${impls_wanted:+; only $impls_wanted}" \
  '{meta: "versions", machine: $machine, uvrun: $uvrun, libuv: $libuv, "redis-server": $redis, wrk: $wrk, ab: $ab,
    node: $node, python: $python, uvloop: $uvloop, asio: $asio, tokio: $tokio, hyper: $hyper, rustc: $rustc,
    "g++": $gxx, knobs: $knobs}'

# Rounds outermost: a budget spent early costs the last rounds, not the last
# workloads.
for ((round = 1; round <= rounds; round++)); do
  run_workload W8 resp w8 "$round" "${resp_impls[@]}"
  run_workload W9 http w9 "$round" "${http_impls[@]}"
  run_workload W10 bulk w10 "$round" "${bulk_impls[@]}"
  run_workload W11 http w11 "$round" "${http_impls[@]}"
  run_workload W12 resp w12 "$round" "${resp_impls[@]}"
done
meta end

$py bench/io/aggregate_io.py "$out"
echo "wrote $out/io.md in $((SECONDS - start))s of measuring" >&2
