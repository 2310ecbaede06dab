#!/usr/bin/env bash
# check_symbols.sh LIB.so: fails when the shared library exports a defined
# symbol whose name does not start with uvrun_ (the version node UVRUN_<n>
# that the version script adds is not a symbol of ours and is skipped), or
# when it has no soname of the form libuvrun.so.<major>.
set -uo pipefail
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 == "A" && $3 ~ /^UVRUN_[0-9]+$/ { next } $3 !~ /^uvrun_/ { print $3 }')
n=$(nm -D --defined-only "$lib" | grep -c ' uvrun_')
passed=0 failed=0
if [ -n "$bad" ] || [ "$n" -lt 50 ]; then
  echo "FAIL exports: $n uvrun_* symbols; foreign: ${bad:-none}"; failed=$((failed + 1))
else
  echo "ok exports: $n symbols, all uvrun_*"; passed=$((passed + 1))
fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
major=$(sed -n 's/^#define UVRUN_VERSION_MAJOR \([0-9]*\).*/\1/p' "$(dirname "$0")/../../capi/include/uvrun.h")
if [ "$soname" = "libuvrun.so.$major" ]; then
  echo "ok soname $soname"; passed=$((passed + 1))
else
  echo "FAIL soname '$soname', want libuvrun.so.$major"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
