#!/bin/bash
# run_many_test.sh -- drives uvrun-run-many with coreutils: many lines, a
# timeout, failures, 100 MiB of output, a missing program, -j's limit and
# Ctrl-C. Prints "ok"/"FAIL" per check and the counts (scripts/test.sh reads them).
#   run_many_test.sh build/examples/uvrun-run-many
RUN=${1:?usage: run_many_test.sh PATH-TO-uvrun-run-many}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0
check() { # name, command...
  local name=$1
  shift
  if "$@"; then
    echo "ok $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}
now() { date +%s.%N; }
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x < hi) }'; }

echo 'yes | head -n 100000' | "$RUN" >"$TMP/out" 2>"$TMP/err"
check "every line of yes | head -n 100000, prefixed" \
  test "$(grep -c '^\[1\] y$' "$TMP/out")" = 100000 -a "$(wc -l <"$TMP/out")" = 100000
check "its summary says exit 0" grep -q '^\[1\] exit 0 in ' "$TMP/err"

t0=$(now)
echo 'sleep 5' | "$RUN" -t 0.5 >"$TMP/out" 2>"$TMP/err"
code=$?
check "sleep 5 with -t 0.5 is timed out and reported" grep -q '^\[1\] timed out (signal 15) in 0\.[5-9]' "$TMP/err"
check "... within the timeout and grace, exit 1" between "$(echo "$(now) - $t0" | bc)" 0.5 3 -a $code = 1

printf 'false\nnosuchprogram-uvrun\ntrue\n' | "$RUN" >"$TMP/out" 2>"$TMP/err"
code=$?
check "false reports status 1" grep -q '^\[1\] exit 1 in .*: false$' "$TMP/err"
check "a missing program reports status 127 (sh's)" grep -q '^\[2\] exit 127 in ' "$TMP/err"
check "its message is prefixed" grep -q '^\[2\] sh: .*nosuchprogram-uvrun: not found' "$TMP/err"
check "the run exits 1, with a total line" test $code = 1 -a "$(tail -n 1 "$TMP/err" | cut -d, -f1-2)" = "3 commands, 2 failed"

echo "head -c 104857600 /dev/zero | tr '\\0' a | fold -w 100" | "$RUN" 2>"$TMP/err" | wc -lc >"$TMP/count"
check "100 MiB of output: 1048576 lines of '[1] ' and 100 bytes" \
  test "$(awk '{ print $1, $2 }' "$TMP/count")" = "1048576 $((1048576 * 105))"

echo 'seq 1 1000000' | "$RUN" 2>"$TMP/err" | head -n 2 >"$TMP/out"
check "a stdout closed early (| head -n 2) still runs the command to its end" \
  test "$(cat "$TMP/out")" = "$(printf '[1] 1\n[1] 2')" -a -n "$(grep '^\[1\] exit 0 in ' "$TMP/err")"

t0=$(now)
printf 'sleep 0.5\nsleep 0.5\nsleep 0.5\nsleep 0.5\n' | "$RUN" -j 2 >"$TMP/out" 2>"$TMP/err"
check "-j 2 runs 4 sleeps of 0.5 s two at a time (1 s, not 0.5 or 2)" between "$(echo "$(now) - $t0" | bc)" 0.95 1.9

# Ctrl-C: job control on, so the background run does not ignore SIGINT.
set -m
printf '%s\n' 'trap "echo last words; exit 3" TERM; echo started; while :; do sleep 0.05; done' 'sleep 31.25' \
  | "$RUN" -j 2 >"$TMP/out" 2>"$TMP/err" &
set +m
for _ in $(seq 100); do # until the first command has set its trap
  grep -q started "$TMP/out" && break
  sleep 0.1
done
pid=$(pgrep -n -f "^$RUN")
kill -INT "$pid"
wait %1 2>/dev/null
code=$?
check "Ctrl-C exits 130" test $code = 130
check "... the running command's last output is printed" grep -q '^\[1\] last words$' "$TMP/out"
check "... and its earlier output" grep -q '^\[1\] started$' "$TMP/out"
check "... the summary says interrupted" grep -q 'interrupted$' "$TMP/err"
check "... no child is left" test -z "$(pgrep -f 'sleep 31.25')"

"$RUN" -j 0 </dev/null 2>"$TMP/err"
check "bad usage (-j 0) exits 2 with a message" test $? = 2 -a -n "$(grep 'usage: uvrun-run-many' "$TMP/err")"
"$RUN" --bogus </dev/null 2>/dev/null
check "bad usage (an unknown argument) exits 2" test $? = 2
echo "$passed passed, $failed failed"
[ $failed = 0 ]
