// loops.hpp -- the server on N loops: loop 1 is the main thread's, loops
// 2..N run on background runners; each loop has its own listening socket on
// the same port (reuse_port), so the kernel spreads new connections.
#pragma once

#include <uvrun/uvrun.hpp>

#include <memory>
#include <string>
#include <vector>

#include "connection.hpp"

namespace http_hello {

// One loop's server; touched only on that loop's thread while it runs.
struct LoopServer {
  uvrun::Server server;
  Connections connections;
};

class Loops {
 public:
  // Starts the runners of loops 2..n (idle until serve()).
  explicit Loops(int n);
  Loops(const Loops &) = delete;
  Loops &operator=(const Loops &) = delete;

  // Runs on loop 1 (the main thread's uvrun::run): every loop listens, then
  // "listening on HOST:PORT" goes out; serves until SIGTERM (sets
  // `terminated` and returns) or Ctrl-C (the runner cancels it: the
  // cancellation is re-thrown once every loop's server has shut down).
  uvrun::Task<void> serve(std::string host, int port, bool &terminated);

  // Ends loops 2..n and joins their threads (idempotent); then requests()
  // may be read from this thread.
  void stop();
  std::vector<unsigned long> requests() const;

 private:
  uvrun::Task<void> shut_down_all();

  std::vector<LoopServer> servers_;  // [0] is loop 1's
  // Loops 2..n; destroyed first, so each server goes before its loop.
  std::vector<std::unique_ptr<uvrun::BackgroundRunner>> runners_;
};

}  // namespace http_hello
