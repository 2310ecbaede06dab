#!/usr/bin/env bash
# Checks each RESP server of W8 that is built: starts it on port 0, reads the
# port from its first line, asks redis-cli for PING, SET, GET (a value, a
# missing key, a value with a NUL byte), sends a split and pipelined batch,
# and stops it. One line per server.
#
#   bench/io/resp/check.sh [BUILD_DIR]     (default: build-release)
set -uo pipefail
cd "$(dirname "$0")/../../.."
build=${1:-build-release}
here=bench/io/resp
py=/usr/bin/python3
command -v redis-cli >/dev/null || { echo "redis-cli not found (scripts/deps.sh redis-tools)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A cmd=(
  [uvrun]="$build/examples/uvrun-resp-server"
  [libuv]="$build/$here/resp-libuv"
  [asio]="$build/$here/resp-asio"
  [tokio]="$build/$here/tokio/target/release/resp-tokio"
  [asyncio]="$py $here/resp_asyncio.py --impl asyncio"
  [uvloop]="$py $here/resp_asyncio.py --impl uvloop"
  [node]="node $here/resp_node.js"
)

# What redis-cli answers must be what we expect; else the first difference.
expect() {
  local want=$1 got
  shift
  got=$(timeout 5 redis-cli -p "$port" "$@" 2>&1)
  [ "$got" = "$want" ] || { echo "redis-cli $*: got '$got', want '$want'"; return 1; }
}

# A command split across two reads waits for its end; what follows it in the
# same read (a pipeline, an inline PING) is answered in order.
split_and_pipelined() {
  $py - "$port" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$2\r\nx")
time.sleep(0.1)
s.sendall(b"y\r\n*2\r\n$3\r\nGET\r\n$1\r\np\r\nPING\r\n")
want, got = b"+OK\r\n$2\r\nxy\r\n+PONG\r\n", b""
while len(got) < len(want) and (chunk := s.recv(100)):
    got += chunk
sys.exit(0 if got == want else f"split and pipelined: got {got!r}, want {want!r}")
EOF
}

check() {
  expect PONG ping && expect OK set k v && expect v get k && expect '' get missing &&
    { printf 'a\0b' | expect OK -x set bin; } && expect '"a\x00b"' --no-raw get bin && split_and_pipelined 2>&1
}

status=0
for impl in uvrun libuv asio tokio asyncio uvloop node; do
  read -r prog _ <<<"${cmd[$impl]}"
  if ! command -v "$prog" >/dev/null; then
    echo "$impl: not available ($prog not found)"
    continue
  fi
  if [ "$impl" = uvloop ] && ! $py -c 'import uvloop' 2>/dev/null; then
    echo "$impl: not available (python3-uvloop does not import)"
    continue
  fi
  ${cmd[$impl]} --host 127.0.0.1 --port 0 >"$tmp/$impl.out" 2>"$tmp/$impl.err" &
  pid=$!
  port=
  for _ in $(seq 50); do
    port=$(sed -n '1s/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/$impl.out")
    [ -n "$port" ] || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "$impl: FAILED: no 'listening on 127.0.0.1:PORT' line ($(head -c 200 "$tmp/$impl.out" "$tmp/$impl.err" | tr '\n' ' '))"
    status=1
  elif result=$(check); then
    echo "$impl: ok (port $port)"
  else
    echo "$impl: FAILED: $result"
    status=1
  fi
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
exit $status
