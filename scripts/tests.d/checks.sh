# checks.sh -- checks on the sources themselves (sourced by scripts/test.sh;
# uses its run_script): docs/semantics.md against the ids the tests name,
# the formatting against .clang-format, and the whole programs the
# documentation shows, built against the plain build and run.
run_script "docs/semantics.md against the tests" python3 scripts/check-semantics.py
run_script "Formatting (.clang-format)" scripts/check-format.sh
run_script "The documentation's programs (README.md, docs/), built and run" python3 scripts/check-doc-examples.py build
