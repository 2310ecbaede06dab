// The comparison workloads written against uvrun's C++ layer. Usage as
// uvrun_c (see bench/compare/README.md).
#include <uvrun/uvrun.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "harness.h"

using namespace std::chrono_literals;

namespace {

constexpr const char *kImpl = "uvrun-cpp";
constexpr long kSpawn = 100000;

uvrun::Task<void> noop() { co_return; }
uvrun::Task<int> leaf(int i) { co_return i; }

uvrun::Task<void> spawn_all(long n) {
  std::vector<uvrun::TaskHandle<int>> tasks;
  tasks.reserve(n);
  for (long i = 0; i < n; i++) tasks.push_back(uvrun::create_task(leaf(1)));
  long sum = 0;
  for (auto &t : tasks) sum += co_await t;
  if (sum != n) std::abort();
}

uvrun::Task<long> inline_awaits(long n) {
  long sum = 0;
  for (long i = 0; i < n; i++) sum += co_await leaf(1);
  co_return sum;
}

uvrun::Task<void> yielder(long n) {
  for (long i = 0; i < n; i++) co_await uvrun::yield();
}

uvrun::Task<void> pingpong(long n) {
  auto other = uvrun::create_task(yielder(n));
  for (long i = 0; i < n; i++) co_await uvrun::yield();
  co_await other;
}

uvrun::Task<void> executor_round_trips(long n) {
  for (long i = 0; i < n; i++) co_await uvrun::to_thread([] {});
}

// A named coroutine, as asio's program has (a lambda's frame would also
// keep the closure pointer: 8 bytes more, with GCC).
uvrun::Task<void> sleeper() { co_await uvrun::sleep(10ms); }

uvrun::Task<void> sleepers(long n) {
  std::vector<uvrun::TaskHandle<void>> tasks;
  tasks.reserve(n);
  for (long i = 0; i < n; i++) tasks.push_back(uvrun::create_task(sleeper()));
  for (auto &t : tasks) co_await t;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc > 1 && std::strcmp(argv[1], "w7") == 0) {
    uvrun::run(noop());
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "w4") == 0) {
    long n = argc > 2 ? std::atol(argv[2]) : kSpawn;
    long before = bh_peak_rss();
    double t0 = bh_now_ns();
    uvrun::run(sleepers(n));
    bh_report_w4(kImpl, n, bh_now_ns() - t0, before);
    return 0;
  }
  uvrun::Runner runner;
  if (bh_wanted(argc, argv, "w1")) {
    bh_measure_fn("W1.fresh", kImpl, 1, [](long iters) {
      for (long i = 0; i < iters; i++) uvrun::run(noop());
    });
    bh_measure_fn("W1.reused", kImpl, 1, [&](long iters) {
      for (long i = 0; i < iters; i++) runner.run(noop());
    });
  }
  if (bh_wanted(argc, argv, "w2"))
    bh_measure_fn("W2.spawn", kImpl, kSpawn, [&](long iters) {
      for (long i = 0; i < iters; i++) runner.run(spawn_all(kSpawn));
    });
  if (bh_wanted(argc, argv, "w3")) {
    bh_measure_fn("W3.inline", kImpl, 1, [&](long iters) {
      if (runner.run(inline_awaits(iters)) != iters) std::abort();
    });
    bh_measure_fn("W3.yield", kImpl, 2, [&](long iters) { runner.run(pingpong(iters)); });
  }
  if (bh_wanted(argc, argv, "w5"))
    bh_measure_fn("W5.executor", kImpl, 1, [&](long iters) { runner.run(executor_round_trips(iters)); });
  // W6: the C++ layer has no call_soon_threadsafe wrapper; C++ code calls
  // uvrun_loop_call_soon_threadsafe (measured as uvrun-c).
  return 0;
}
