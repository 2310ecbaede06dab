#!/usr/bin/env bash
# check-format.sh [--fix]: every C and C++ source against .clang-format, with
# Debian's clang-format (installed through scripts/deps.sh). Prints the files
# that differ and "format: N passed, N failed", one per file. --fix rewrites
# those in place instead (only those: a rewritten file is rebuilt).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! scripts/deps.sh clang-format >/dev/null || ! command -v clang-format >/dev/null; then
  echo "format: cannot install clang-format"
  echo "format: 0 passed, 1 failed"
  exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- '*.c' '*.h' '*.cpp' '*.hpp')
else
  mapfile -t files < <(find core capi cpp tests examples bench bindings \
    \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) -not -path '*/node_modules/*' | sort)
fi
fix=0
[ "${1:-}" = --fix ] && fix=1
passed=0 failed=0 rewrote=0
for f in "${files[@]}"; do
  if clang-format "$f" | cmp -s - "$f"; then
    passed=$((passed + 1))
  elif [ $fix -eq 1 ]; then
    clang-format -i "$f"
    rewrote=$((rewrote + 1))
  else
    echo "not formatted: $f ($(clang-format "$f" | diff "$f" - | grep -c '^>') lines differ)"
    failed=$((failed + 1))
  fi
done
if [ $fix -eq 1 ]; then
  echo "format: rewrote $rewrote files"
  exit 0
fi
[ "$failed" -eq 0 ] || echo "format: scripts/check-format.sh --fix rewrites them"
echo "format: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
