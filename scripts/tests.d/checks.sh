# checks.sh -- checks on the sources themselves (sourced by scripts/test.sh;
# uses its run_script): docs/semantics.md against the ids the tests name.
run_script "docs/semantics.md against the tests" python3 scripts/check-semantics.py
