// loops.cpp -- opening and shutting down one loop's server, and doing it on
// every loop. Loop 1 runs its steps directly; the others get them through
// submit_threadsafe and are awaited without blocking loop 1.
#include "loops.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <utility>

using namespace std::chrono_literals;

namespace http_hello {

namespace {

constexpr auto kGrace = 5s;

// Listens and serves on the running loop; the port it got.
uvrun::Task<int> open(LoopServer &self, std::string host, int port, bool reuse_port) {
  uvrun::ServerOptions options;
  options.reuse_port = reuse_port;
  self.server = co_await uvrun::tcp::listen(host, port, options);
  self.server.serve(
      [&connections = self.connections](uvrun::Stream stream) { return handle(std::move(stream), connections); });
  co_return self.server.port();
}

// No new clients, idle connections closed, requests in flight finish (for
// up to kGrace); the server is let go on its own loop.
uvrun::Task<void> shut_down(LoopServer &self) {
  self.connections.stop();
  co_await self.server.shutdown(kGrace);
  self.server = uvrun::Server();
}

}  // namespace

Loops::Loops(int n) : servers_(n) {
  for (int i = 1; i < n; i++) runners_.push_back(std::make_unique<uvrun::BackgroundRunner>());
}

uvrun::Task<void> Loops::serve(std::string host, int port, bool &terminated) {
  // With one loop nobody else may bind the port, as before there were loops.
  bool shared = !runners_.empty();
  port = co_await open(servers_[0], host, port, shared);
  for (size_t i = 0; i < runners_.size(); i++) co_await runners_[i]->submit(open(servers_[i + 1], host, port, true));
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  std::exception_ptr cancelled;
  try {
    co_await uvrun::wait_for_signal(SIGTERM);
    terminated = true;
  } catch (const uvrun::CancelledError &) {
    cancelled = std::current_exception();
  }
  co_await shut_down_all();
  if (cancelled) std::rethrow_exception(cancelled);
}

// Every loop shuts down at once: the whole takes one grace period.
uvrun::Task<void> Loops::shut_down_all() {
  std::vector<uvrun::ThreadFuture<void>> others;
  for (size_t i = 0; i < runners_.size(); i++) others.push_back(runners_[i]->submit(shut_down(servers_[i + 1])));
  co_await shut_down(servers_[0]);
  for (auto &other : others) co_await other;
}

void Loops::stop() {
  for (auto &runner : runners_) runner->stop();
}

std::vector<unsigned long> Loops::requests() const {
  std::vector<unsigned long> counts;
  for (const LoopServer &s : servers_) counts.push_back(s.connections.requests());
  return counts;
}

}  // namespace http_hello
