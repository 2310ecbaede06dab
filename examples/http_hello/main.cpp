// uvrun-http-hello -- an HTTP/1.1 server on uvrun's C++ layer: GET / answers
// "hello", other paths 404, a request that does not parse 400 and close.
// Keep-alive and pipelining; requests are parsed by http-parser.
//
//   uvrun-http-hello [--host HOST] [--port PORT] [--loops N]
//
// Port 0 picks a free port. --loops N (1..64, default 1) serves on N loops
// on N threads, each with its own listening socket on the port. The first
// line on stdout is "listening on HOST:PORT", once every loop listens.
// SIGINT and SIGTERM shut down gracefully: no new clients, requests in
// flight finish (for up to 5 s), idle connections close; with more than one
// loop a line on stderr then says how many requests each loop answered;
// then the process dies of the signal, as Unix tools do.
#include <signal.h>

#include <uvrun/uvrun.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "loops.hpp"

namespace {

constexpr long kMaxLoops = 64;

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  int loops = 1;
};

int usage() {
  std::fprintf(stderr, "usage: uvrun-http-hello [--host HOST] [--port PORT] [--loops N (1..%ld)]\n", kMaxLoops);
  return 2;
}

// The whole of text as a number in [min, max], or false.
bool parse_number(const char *text, long min, long max, int &out) {
  char *end;
  long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || n < min || n > max) return false;
  out = static_cast<int>(n);
  return true;
}

void print_requests(const std::vector<unsigned long> &counts) {
  std::string line = "uvrun-http-hello: requests answered per loop:";
  for (unsigned long n : counts) line += " " + std::to_string(n);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

int main(int argc, char **argv) {
  Config config;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) return usage();
    const char *value = argv[++i];
    if (std::strcmp(argv[i - 1], "--host") == 0) {
      config.host = value;
    } else if (std::strcmp(argv[i - 1], "--port") == 0) {
      if (!parse_number(value, 0, 65535, config.port)) return usage();
    } else if (std::strcmp(argv[i - 1], "--loops") == 0) {
      if (!parse_number(value, 1, kMaxLoops, config.loops)) return usage();
    } else {
      return usage();
    }
  }
  int signum = 0;
  try {
    http_hello::Loops loops(config.loops);
    bool terminated = false;
    try {
      uvrun::run(loops.serve(config.host, config.port, terminated));
    } catch (const uvrun::KeyboardInterrupt &) {
      signum = SIGINT;
    }
    if (terminated) signum = SIGTERM;
    loops.stop();  // no thread is left when the signal ends the process
    if (config.loops > 1) print_requests(loops.requests());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "uvrun-http-hello: %s\n", e.what());
    return 1;
  }
  if (signum != 0) {
    signal(signum, SIG_DFL);
    raise(signum);
  }
  return 0;
}
