# semantics.sh -- docs/semantics.md against the tests (sourced by
# scripts/test.sh; uses its count): every id a test names has an item, every
# item is named by a test. Needs only python3.
echo "== docs/semantics.md against the tests"
if sem_log=$(python3 scripts/check-semantics.py); then
  tail -1 <<<"$sem_log"
else
  grep -E '^FAIL|^semantics:' <<<"$sem_log"
fi
sem_line=$(grep -E '^semantics: [0-9]+ passed, [0-9]+ failed' <<<"$sem_log")
if [ -n "$sem_line" ]; then
  count "$(sed -E 's/^semantics: ([0-9]+) passed.*/\1/' <<<"$sem_line")" \
        "$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$sem_line")"
else
  count 0 1
fi
