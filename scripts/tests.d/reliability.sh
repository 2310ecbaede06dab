# Reliability suite (docs/reliability.md): allocation-failure injection,
# libFuzzer, torture tests, valgrind. Sourced by scripts/test.sh, which gives
# build, run and count. A part that cannot run counts as failed. Budget: about
# 10 minutes on 2 cores. Writes the figures the tools print into
# build-rel/reliability-figures.md (never by hand); with UVRUN_UPDATE_DOCS=1
# into docs/reliability-figures.md, to be committed with the change that
# moves them.

rel_figures=$(mktemp)
rel_fuzz_seconds=${UVRUN_FUZZ_SECONDS:-60}

rel_figure() { echo "$*" >>"$rel_figures"; }

# run_logged NAME FILE CMD...: as run, and keeps the output in FILE.
rel_run() {
  local name=$1 out=$2
  shift 2
  run "$name" bash -c '"$@" 2>&1 | tee "$0"; exit "${PIPESTATUS[0]}"' "$out" "$@"
}

if ! scripts/deps.sh clang libclang-rt-14-dev valgrind; then
  echo "reliability: cannot install clang, libclang-rt-14-dev, valgrind"
  count 0 1
fi

# ---- torture tests, regressions and the corpus replay: plain and ASan ----
rel_oom_log=$(mktemp)
rel_torture_log=$(mktemp)
if build build-rel; then
  rel_run "reliability: torture + regressions" "$rel_torture_log" ./build-rel/tests/reliability/test-reliability
  run "reliability: allocation-failure regressions" ./build-rel/tests/reliability/test-reliability-oom -tc='regression*'
  if ./build-rel/tests/reliability/fuzz-replay tests/reliability/corpus; then count 1 0; else count 0 1; fi
else
  count 0 1
fi
if build build-rel-asan -Db_sanitize=address,undefined -Db_lundef=false; then
  run "reliability: torture + regressions (ASan+UBSan)" ./build-rel-asan/tests/reliability/test-reliability
  # The sweep itself runs here, where every point is also checked by ASan,
  # UBSan and LeakSanitizer.
  rel_run "reliability: allocation-failure injection (ASan+UBSan)" "$rel_oom_log" \
    ./build-rel-asan/tests/reliability/test-reliability-oom
  if ./build-rel-asan/tests/reliability/fuzz-replay tests/reliability/corpus; then count 1 0; else count 0 1; fi
else
  count 0 1
fi

# ---- libFuzzer: a bounded run from the corpus ----
rel_fuzz_log=$(mktemp)
rel_fuzz_dir=$(mktemp -d)
if command -v clang >/dev/null && CC=clang CXX=clang++ setup build-fuzz \
    -Db_sanitize=address,undefined -Db_lundef=false; then
  if ninja -C build-fuzz tests/reliability/fuzz-uvrun >/dev/null; then
    cp tests/reliability/corpus/* "$rel_fuzz_dir"/
    echo "== reliability: libFuzzer for ${rel_fuzz_seconds} s"
    ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/tests/reliability/fuzz-uvrun -max_total_time="$rel_fuzz_seconds" \
      -max_len=512 -timeout=20 -print_final_stats=1 -artifact_prefix="$rel_fuzz_dir/crash-" \
      "$rel_fuzz_dir" >"$rel_fuzz_log" 2>&1
    rel_rc=$?
    tail -4 "$rel_fuzz_log"
    if [ $rel_rc -eq 0 ]; then
      count 1 0
    else
      grep -E "ERROR|SUMMARY|fuzz:" "$rel_fuzz_log" | head -20
      ls "$rel_fuzz_dir"/crash-* 2>/dev/null
      count 0 1
    fi
    rel_execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$rel_fuzz_log" | tail -1)
    rel_cov=$(grep -oE 'cov: [0-9]+' "$rel_fuzz_log" | tail -1 | cut -d' ' -f2)
    rel_figure "fuzz: executions=${rel_execs:-0} seconds=${rel_fuzz_seconds} coverage_edges=${rel_cov:-0}" \
      "corpus_seeds=$(ls tests/reliability/corpus | wc -l) result=$([ $rel_rc -eq 0 ] && echo clean || echo FAILED)"
  else
    count 0 1
  fi
else
  count 0 1
fi

# ---- valgrind memcheck over the C API suite ----
# Tests that fork children are left out: valgrind would trace the children
# too (slow, and its --error-exitcode would replace their exit codes), and
# under it a child can lower no descriptor limit; the ASan build runs them.
# Those are test_signal_*.cpp, the cases named below, and the I/O cases that
# run in a child with its own /etc/hosts or descriptor limit, or fork one
# (P5's waitpid). The 1 GiB write and the 100 MiB communicate are left to the
# other builds too (minutes under valgrind).
if [ -x build/tests/test-c-api ]; then
  rel_t0=$(date +%s)
  run "C API (valgrind memcheck)" timeout 900 valgrind -q --error-exitcode=99 --child-silent-after-fork=yes \
    --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    ./build/tests/test-c-api -sfe='*test_signal*' -tce='R68 a child forked*,A25 *,A26 *,A27 *,A28 *,*1 GiB*,*100 MiB*,P5: the program*,*Happy Eyeballs*,*unknown host*,*out of descriptors*,*two attempts*,T1: a name is looked up*,T4:*,V1: a name listens*'
  rel_figure "valgrind: test-c-api memcheck seconds=$(( $(date +%s) - rel_t0 ))"
else
  echo "reliability: build/tests/test-c-api missing for valgrind"
  count 0 1
fi

# ---- figures ----
rel_figures_out=build-rel/reliability-figures.md
[ -d build-rel ] || rel_figures_out=/dev/stdout
[ "${UVRUN_UPDATE_DOCS:-0}" = 1 ] && rel_figures_out=docs/reliability-figures.md
grep -h '^oom-figures:' "$rel_oom_log" | sed 's/^oom-figures: /oom: /' >>"$rel_figures"
grep -h '^torture-figures:' "$rel_torture_log" | sed 's/^torture-figures: /torture: /' >>"$rel_figures"
{
  echo "# Reliability figures"
  echo
  echo "Generated by scripts/tests.d/reliability.sh on $(date -u +%Y-%m-%dT%H:%MZ) ($(nproc) cores);"
  echo "do not edit. What each line means: [reliability.md](reliability.md)."
  echo
  echo '```'
  cat "$rel_figures"
  echo '```'
} >"$rel_figures_out"
echo "reliability figures: $rel_figures_out"
rm -rf "$rel_figures" "$rel_oom_log" "$rel_torture_log" "$rel_fuzz_log" "$rel_fuzz_dir"
