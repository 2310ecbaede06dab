// W15 on standalone asio (usage in bench_threads.h): an io_context run on a
// thread of its own (kept alive by a work guard); this thread starts a
// coroutine returning an int with co_spawn(ctx, ..., use_future) and blocks
// on the std::future's get().
#include <asio.hpp>

#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include "bench_threads.h"

namespace {

constexpr const char *kImpl = "asio";

asio::awaitable<int> answer() { co_return 42; }

std::future<int> submit(asio::io_context &io) { return asio::co_spawn(io, answer(), asio::use_future); }

void check(int value) {
  if (value != 42) throw std::runtime_error("a coroutine gave " + std::to_string(value) + ", not 42");
}

void roundtrip(asio::io_context &io, std::uint64_t n) {
  std::vector<double> trips(n);
  double start = oneshot_now();
  for (double &trip : trips) {
    double t0 = oneshot_now();
    check(submit(io).get());
    trip = oneshot_now() - t0;
  }
  threads_report_roundtrip(kImpl, trips.data(), n, oneshot_now() - start);
}

void burst(asio::io_context &io, std::uint64_t n) {
  std::vector<std::future<int>> futures;
  futures.reserve(n);
  double start = oneshot_now();
  for (std::uint64_t i = 0; i < n; i++) futures.push_back(submit(io));
  for (auto &f : futures) check(f.get());
  threads_report_burst(kImpl, n, oneshot_now() - start);
}

}  // namespace

int main(int argc, char **argv) {
  const char *mode;
  std::uint64_t n;
  if (int rc = threads_parse_args(argc, argv, "threads-asio", &mode, &n)) return rc;
  asio::io_context io(1);  // one thread runs it
  auto work = asio::make_work_guard(io);
  std::thread loop([&io] { io.run(); });
  int status = 0;
  try {
    if (mode[0] == 'r') roundtrip(io, n);
    else burst(io, n);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "threads-asio %s: %s\n", mode, e.what());
    status = 1;
  }
  work.reset();
  loop.join();
  return status;
}
