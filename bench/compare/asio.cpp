// Standalone asio with C++20 coroutines: the comparison workloads written as
// an asio user would. Usage as uvrun_c (see bench/compare/README.md).
#include <asio.hpp>

#include <chrono>
#include <cstring>
#include <limits>
#include <thread>

#include "harness.h"

using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr const char *kImpl = "asio";
constexpr long kSpawn = 100000;
constexpr long kBurst = 100000;

awaitable<void> noop() { co_return; }
awaitable<int> leaf(int i) { co_return i; }

// Runs `main` on `io` to the end (a reused io_context, like a Runner).
template <class F>
void run_on(asio::io_context &io, F main) {
  io.restart();
  asio::co_spawn(io, std::move(main), asio::detached);
  io.run();
}

// W2: spawn n coroutines; the main one waits until all completed (asio has
// no join handle: a counter and a timer used as an event).
awaitable<void> spawn_all(long n) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  long left = n, sum = 0;
  for (long i = 0; i < n; i++)
    asio::co_spawn(ex, leaf(1), [&](std::exception_ptr, int v) {
      sum += v;
      if (--left == 0) all_done.cancel();
    });
  asio::error_code ec;
  co_await all_done.async_wait(asio::redirect_error(use_awaitable, ec));
  if (sum != n) std::abort();
}

awaitable<void> inline_awaits(long n, long &out) {
  long sum = 0;
  for (long i = 0; i < n; i++) sum += co_await leaf(1);
  out = sum;
}

// asio's yield: post the coroutine's continuation to its own executor.
awaitable<void> yielder(long n) {
  auto ex = co_await asio::this_coro::executor;
  for (long i = 0; i < n; i++) co_await asio::post(ex, use_awaitable);
}

// W5: hop to the thread pool and back, n times in sequence.
awaitable<void> executor_round_trips(asio::thread_pool &pool, long n) {
  for (long i = 0; i < n; i++) co_await asio::post(pool, use_awaitable);
}

awaitable<void> sleeper() {
  asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
  co_await t.async_wait(use_awaitable);
}

awaitable<void> sleepers(long n) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  long left = n;
  for (long i = 0; i < n; i++)
    asio::co_spawn(ex, sleeper(), [&](std::exception_ptr) {
      if (--left == 0) all_done.cancel();
    });
  asio::error_code ec;
  co_await all_done.async_wait(asio::redirect_error(use_awaitable, ec));
}

}  // namespace

int main(int argc, char **argv) {
  if (argc > 1 && std::strcmp(argv[1], "w7") == 0) {
    asio::io_context io(1);
    asio::co_spawn(io, noop(), asio::detached);
    io.run();
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "w4") == 0) {
    long n = argc > 2 ? std::atol(argv[2]) : kSpawn;
    long before = bh_peak_rss();
    double t0 = bh_now_ns();
    {
      asio::io_context io(1);
      asio::co_spawn(io, sleepers(n), asio::detached);
      io.run();
    }
    bh_report_w4(kImpl, n, bh_now_ns() - t0, before);
    return 0;
  }
  asio::io_context io(1);
  if (bh_wanted(argc, argv, "w1")) {
    bh_measure_fn("W1.fresh", kImpl, 1, [](long iters) {
      for (long i = 0; i < iters; i++) {
        asio::io_context fresh(1);
        asio::co_spawn(fresh, noop(), asio::detached);
        fresh.run();
      }
    });
    bh_measure_fn("W1.reused", kImpl, 1, [&](long iters) {
      for (long i = 0; i < iters; i++) run_on(io, noop());
    });
  }
  if (bh_wanted(argc, argv, "w2"))
    bh_measure_fn("W2.spawn", kImpl, kSpawn, [&](long iters) {
      for (long i = 0; i < iters; i++) run_on(io, spawn_all(kSpawn));
    });
  if (bh_wanted(argc, argv, "w3")) {
    bh_measure_fn("W3.inline", kImpl, 1, [&](long iters) {
      long out = 0;
      run_on(io, inline_awaits(iters, out));
      if (out != iters) std::abort();
    });
    bh_measure_fn("W3.yield", kImpl, 2, [&](long iters) {
      io.restart();
      asio::co_spawn(io, yielder(iters), asio::detached);
      asio::co_spawn(io, yielder(iters), asio::detached);
      io.run();
    });
  }
  if (bh_wanted(argc, argv, "w5")) {
    asio::thread_pool pool;
    bh_measure_fn("W5.executor", kImpl, 1, [&](long iters) { run_on(io, executor_round_trips(pool, iters)); });
    pool.join();
  }
  if (bh_wanted(argc, argv, "w6")) {
    bh_measure_fn("W6.threadsafe", kImpl, kBurst, [&](long iters) {
      for (long i = 0; i < iters; i++) {
        io.restart();
        auto guard = asio::make_work_guard(io);
        long seen = 0;
        std::thread producer([&] {
          for (long k = 0; k < kBurst; k++)
            asio::post(io, [&] {
              if (++seen == kBurst) guard.reset();
            });
        });
        io.run();
        producer.join();
      }
    });
  }
  return 0;
}
