// uvrun-http-hello -- an HTTP/1.1 server on uvrun's C++ layer: GET / answers
// "hello", other paths 404, a request that does not parse 400 and close.
// Keep-alive and pipelining; requests are parsed by http-parser.
//
//   uvrun-http-hello [--host HOST] [--port PORT]
//
// Port 0 picks a free port. The first line on stdout is "listening on
// HOST:PORT". SIGINT and SIGTERM shut down gracefully: no new clients,
// requests in flight finish (for up to 5 s), idle connections close; then
// the process dies of the signal, as Unix tools do.
#include <signal.h>

#include <uvrun/uvrun.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>

#include "connection.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kGrace = 5s;

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
};

// Serves until SIGTERM (returns) or Ctrl-C (the runner cancels it: the
// cancellation is re-thrown once the server has shut down).
uvrun::Task<void> serve(const Config &config, bool &terminated) {
  uvrun::Server server = co_await uvrun::tcp::listen(config.host, config.port);
  http_hello::Connections connections;
  server.serve([&connections](uvrun::Stream stream) { return http_hello::handle(std::move(stream), connections); });
  std::printf("listening on %s:%d\n", config.host.c_str(), server.port());
  std::fflush(stdout);
  std::exception_ptr cancelled;
  try {
    co_await uvrun::wait_for_signal(SIGTERM);
    terminated = true;
  } catch (const uvrun::CancelledError &) {
    cancelled = std::current_exception();
  }
  connections.stop();
  co_await server.shutdown(kGrace);
  if (cancelled) std::rethrow_exception(cancelled);
}

int usage() {
  std::fprintf(stderr, "usage: uvrun-http-hello [--host HOST] [--port PORT]\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  Config config;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) return usage();
    if (std::strcmp(argv[i], "--host") == 0) {
      config.host = argv[++i];
    } else if (std::strcmp(argv[i], "--port") == 0) {
      char *end;
      long port = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) return usage();
      config.port = static_cast<int>(port);
    } else {
      return usage();
    }
  }
  bool terminated = false;
  try {
    uvrun::run(serve(config, terminated));
  } catch (const uvrun::KeyboardInterrupt &) {
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "uvrun-http-hello: %s\n", e.what());
    return 1;
  }
  if (terminated) {
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
  }
  return 0;
}
