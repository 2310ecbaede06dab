# Sourced by scripts/bench-io.sh (W8-W12), scripts/bench-proc-fs.sh (W13,
# W14) and scripts/bench-loops.sh (W16): how every implementation is found or built, and the record of
# a run, one JSON object a line in $jsonl (bench/io/aggregate_io.py reads it).
# The caller sets root, py, niceness, impls_wanted, and budget before
# calling left, and calls open_record first.

declare -A cmd=() # kind/impl -> the command that runs it (shell words)

# A fresh record: bench/results/raw/NAME.jsonl, and raw/NAME/ for the logs.
open_record() { # name
  out=bench/results
  raw=$out/raw
  logs=$raw/$1
  jsonl=$raw/$1.jsonl
  rm -rf "$logs" "$jsonl"
  mkdir -p "$logs"
  : >"$jsonl"
}

record() { jq -nc "$@" >>"$jsonl"; }
wanted() { [ -z "$impls_wanted" ] || [[ " $impls_wanted " == *" $1 "* ]]; }
unavailable() {
  record --arg kind "$1" --arg impl "$2" --arg why "$3" '{kind: $kind, impl: $impl, unavailable: $why}'
  echo "not available: $1/$2: $3" >&2
}
first_error() { grep -m1 -iE 'error|unknown target' "$1" | cut -c1-200; }

native() { # kind impl ninja-target source
  wanted "$2" || return 0
  [ -f "$4" ] || { unavailable "$1" "$2" "$4 is not in this tree"; return 0; }
  if ! nice -n "$niceness" ninja -C build-release "$3" >"$logs/build-$1-$2.log" 2>&1; then
    unavailable "$1" "$2" "did not build: $(first_error "$logs/build-$1-$2.log")"
    return 0
  fi
  cmd[$1/$2]=$(printf %q "$root/build-release/$3")
}

crate() { # kind impl crate-folder
  local copy=build-release/$3 exe
  wanted "$2" || return 0
  [ -f "$3/Cargo.toml" ] || { unavailable "$1" "$2" "$3/Cargo.toml is not in this tree"; return 0; }
  if ! nice -n "$niceness" scripts/build-crate.sh "$3" "$copy" >"$logs/build-$1-$2.log" 2>&1; then
    unavailable "$1" "$2" "cargo could not build it offline from /usr/share/cargo/registry: $(first_error "$logs/build-$1-$2.log")"
    return 0
  fi
  exe=$(find "$copy/target/release" -maxdepth 1 -type f -perm -u+x | head -1)
  [ -n "$exe" ] || { unavailable "$1" "$2" "cargo built no executable"; return 0; }
  cmd[$1/$2]=$(printf %q "$root/$exe")
}

script() { # kind impl file interpreter [args after the file...]
  local kind=$1 impl=$2 file=$3 interp=$4
  shift 4
  wanted "$impl" || return 0
  [ -f "$file" ] || { unavailable "$kind" "$impl" "$file is not in this tree"; return 0; }
  command -v "$interp" >/dev/null || { unavailable "$kind" "$impl" "$interp is not installed"; return 0; }
  if [ "$impl" = uvloop ] && ! $py -c 'import uvloop' 2>/dev/null; then
    unavailable "$kind" "$impl" "python3-uvloop does not import"
    return 0
  fi
  cmd[$kind/$impl]="$(printf '%q ' "$interp" "$root/$file" "$@")"
}

# The measuring budget: start it with start=$SECONDS.
left() { echo $((budget - (SECONDS - start))); }
# A run's time limit: its own, or what is left of the budget.
limit() { local l; l=$(left); echo $(($1 < l ? $1 : (l > 1 ? l : 1))); }

measured() { # workload case impl round unit value
  record --arg w "$1" --arg c "$2" --arg i "$3" --argjson r "$4" --arg u "$5" --argjson v "$6" \
    '{workload: $w, case: $c, impl: $i, round: $r, unit: $u, value: $v}'
}
failed() { # workload case impl round why
  record --arg w "$1" --arg c "$2" --arg i "$3" --argjson r "$4" --arg why "$5" \
    '{workload: $w, case: $c, impl: $i, round: $r, failed: $why}'
  echo "failed: $1 $2 $3 round $4: $5" >&2
}
# Whether the server $srv_pid runs (not a zombie). Builtins only: the
# drivers poll this while a client runs.
alive() {
  local stat
  [ -n "$srv_pid" ] && read -r stat 2>/dev/null <"/proc/$srv_pid/stat" || return 1
  stat=${stat##*) } # the state follows the command's name in brackets
  [[ $stat != [ZX]* ]]
}

# Records wrk's requests/s and p99 from its --latency output; a socket
# error or a non-2xx answer makes the run a failure.
record_wrk() { # workload impl round file
  local rps p99
  if grep -qE 'Non-2xx|Socket errors' "$4"; then
    failed "$1" "" "$2" "$3" "$(grep -E 'Non-2xx|Socket errors' "$4" | tr -s ' \n' ' ')"
    return 0
  fi
  # "99%  1.23ms": to milliseconds.
  read -r rps p99 < <(awk '$1 == "Requests/sec:" {rps = $2}
    $1 == "99%" {v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u);
      p99 = sprintf("%.3f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v)}
    END {print rps, p99}' "$4") || true
  if is_number "${rps:-}" && is_number "${p99:-}"; then
    measured "$1" "requests/s" "$2" "$3" req/s "$rps"
    measured "$1" "p99 latency" "$2" "$3" ms "$p99"
  else
    failed "$1" "" "$2" "$3" "no Requests/sec or 99% line in wrk's output"
  fi
}
is_number() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }

meta() { # when: start or end
  record --arg when "$1" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{meta: $when, date: $date, load: $load}'
}
machine() { echo "$(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"; }
uvrun_version() { awk '/#define UVRUN_VERSION_(MAJOR|MINOR|PATCH) /{v = v (v == "" ? "" : ".") $3} END{print v}' capi/include/uvrun.h; }
