# examples.sh -- the example servers and tools driven by real clients
# (sourced by scripts/test.sh; uses its count and run_script). Runs what the
# plain build put in build/examples/. A suite that cannot run counts as failed.

if scripts/deps.sh redis-tools netcat-openbsd curl; then
  run_script "example: uvrun-resp-server with redis-cli, redis-benchmark, nc" \
    timeout 900 python3 tests/examples/resp_server_test.py build/examples/uvrun-resp-server
  run_script "example: uvrun-http-hello with curl" \
    timeout 600 python3 tests/examples/http_hello_test.py build/examples/uvrun-http-hello
else
  echo "examples: cannot install redis-tools, netcat-openbsd, curl"
  count 0 2
fi
run_script "example: uvrun-run-many with coreutils" \
  timeout 300 tests/examples/run_many_test.sh build/examples/uvrun-run-many
