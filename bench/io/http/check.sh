#!/usr/bin/env bash
# Checks every HTTP hello server that is built (the peers here and
# uvrun-http-hello) against the contract of scripts/bench-io.sh: it starts
# each on port 0, reads the port from its first line, then GET / answers
# hello, two requests share a connection (curl's reuse and a pipelined pair),
# HTTP/1.0 and Connection: close end the connection, other paths are 404, a
# bad request is answered 400, wrk and ab see no errors, SIGTERM ends it.
# One line per server: "ok NAME ..." with wrk's and ab's rough req/s, or
# "FAIL NAME: what".
#
#   bench/io/http/check.sh [BUILD_DIR]   (default build-release)
set -uo pipefail
cd "$(dirname "$0")/../../.."
build=${1:-build-release}
here=bench/io/http
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A cmd=(
  [uvrun]="$build/examples/uvrun-http-hello"
  [libuv]="$build/$here/http-libuv"
  [asio]="$build/$here/http-asio"
  [tokio]="$build/$here/tokio/target/release/http-tokio"
  [asyncio]="$py $here/http_asyncio.py --impl asyncio"
  [uvloop]="$py $here/http_asyncio.py --impl uvloop"
  [node]="node $here/http_node.js"
)
order=(uvrun libuv asio tokio asyncio uvloop node)

# Sends raw bytes and prints what comes back until the server closes
# (fails after 3 s if it does not).
raw() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "$2" >&3 && cat <&3' _ "$port" "$1"
}

# Runs the checks against the server on $port; prints the numbers or fails
# with what went wrong.
check() {
  local url=http://127.0.0.1:$port/ got
  got=$(curl -s "$url") && [ "$got" = hello ] || { echo "GET / gave '$got'"; return 1; }
  got=$(curl -sv "$url" "$url" 2>"$tmp/curl.err")
  [ "$got" = hellohello ] && grep -q 'Re-using existing connection' "$tmp/curl.err" ||
    { echo "curl URL URL gave '$got' without reusing the connection"; return 1; }
  got=$(curl -s -o /dev/null -w '%{http_code}' "${url}missing")
  [ "$got" = 404 ] || { echo "GET /missing gave $got"; return 1; }
  got=$(curl -s --http1.0 "$url") && [ "$got" = hello ] || { echo "curl --http1.0 gave '$got'"; return 1; }
  got=$(raw 'GET / HTTP/1.0\r\n\r\n') && [[ $got == *hello ]] ||
    { echo "HTTP/1.0 without keep-alive: no hello and close (got '$got')"; return 1; }
  got=$(raw 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n') &&
    [ "$(grep -o 'HTTP/1.1 200' <<<"$got" | wc -l)" = 2 ] ||
    { echo "pipelined GET, GET+close: not two 200s and close (got '$got')"; return 1; }
  got=$(raw 'NOT HTTP\r\n\r\n') && [[ $got == "HTTP/1.1 400"* ]] || { echo "bad request: no 400 and close (got '$got')"; return 1; }
  nice wrk -t1 -c64 -d2s --latency "$url" >"$tmp/wrk" 2>&1 || { echo "wrk failed: $(tail -1 "$tmp/wrk")"; return 1; }
  if grep -E -q 'Socket errors|Non-2xx' "$tmp/wrk"; then
    echo "wrk: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk" | tr -s ' ' | tr '\n' ' ')"
    return 1
  fi
  nice ab -q -c 50 -n 2000 "$url" >"$tmp/ab" 2>&1 || { echo "ab failed: $(tail -1 "$tmp/ab")"; return 1; }
  grep -q '^Failed requests: *0$' "$tmp/ab" && ! grep -q 'Non-2xx' "$tmp/ab" ||
    { echo "ab: $(grep -E '^Failed|Non-2xx' "$tmp/ab" | tr -s ' ' | tr '\n' ' ')"; return 1; }
  printf 'wrk %s req/s p99 %s, ab %s req/s\n' "$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$tmp/wrk")" \
    "$(awk '$1 == "99%" {print $2}' "$tmp/wrk")" "$(awk '/^Requests per second/ {printf "%.0f", $4}' "$tmp/ab")"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for name in "${order[@]}"; do
  read -r -a argv <<<"${cmd[$name]}"
  if [[ ${argv[0]} == */* ]] && [ ! -x "${argv[0]}" ]; then
    echo "skip $name: ${argv[0]} is not built"
    continue
  fi
  nice -n 10 "${argv[@]}" --host 127.0.0.1 --port 0 >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 50); do [ -s "$tmp/out" ] && break; sleep 0.1; done
  port=$(sed -n '1s/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/out")
  if [ -z "$port" ]; then
    result="FAIL $name: first line '$(head -1 "$tmp/out")' $(head -1 "$tmp/err")"
  elif why=$(check); then
    result="ok   $name: $why"
  else
    result="FAIL $name: $why"
  fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    result="FAIL $name: SIGTERM did not end it (${result})"
  fi
  wait "$pid" 2>/dev/null
  [ "$(wc -l <"$tmp/out")" -le 1 ] || result="FAIL $name: printed more than its first line (${result})"
  echo "$result"
done
