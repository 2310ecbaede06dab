# checks.sh -- checks on the sources themselves (sourced by scripts/test.sh;
# uses its run_script): docs/semantics.md against the ids the tests name, and
# the formatting against .clang-format.
run_script "docs/semantics.md against the tests" python3 scripts/check-semantics.py
run_script "Formatting (.clang-format)" scripts/check-format.sh
