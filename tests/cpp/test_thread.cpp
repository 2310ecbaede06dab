// submit_threadsafe(), ThreadFuture<T> and BackgroundRunner (H1-H4): values
// and exceptions across threads, waits, cancellation, awaiting from another
// loop, and a runner stopped with work still running.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {

uvrun::Task<std::string> greet(std::string name) {
  co_await uvrun::sleep(1ms);
  co_return "hello " + name;
}

uvrun::Task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

uvrun::Task<void> sleep_then(std::atomic<bool> *started, std::atomic<bool> *cancelled, double seconds) {
  started->store(true);
  try {
    co_await uvrun::sleep(std::chrono::duration<double>(seconds));
  } catch (const uvrun::CancelledError &) {
    cancelled->store(true);
    throw;
  }
}

struct Boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

TEST_CASE("H1: a task submitted to a background runner gives its value to another thread") {
  uvrun::BackgroundRunner bg;
  auto f = bg.submit(greet("world"));
  CHECK(f.get() == "hello world");
  CHECK(f.done());
  auto g = uvrun::submit_threadsafe(bg.loop(), boxed(7));
  std::unique_ptr<int> p = g.get();  // move-only results move out
  REQUIRE(p != nullptr);
  CHECK(*p == 7);
}

TEST_CASE("H2: an exception thrown on the loop's thread arrives as the same object") {
  uvrun::BackgroundRunner bg;
  static const std::exception *thrown = nullptr;
  auto f = bg.submit([]() -> uvrun::Task<int> {
    try {
      throw Boom("kaput");
    } catch (const Boom &e) {
      thrown = &e;
      throw;
    }
    co_return 0;
  }());
  try {
    f.get();
    FAIL("get() did not throw");
  } catch (const Boom &e) {
    CHECK(std::string(e.what()) == "kaput");
    CHECK(&e == thrown);
  }
}

TEST_CASE("H2: wait_for times out while the task runs; cancel() stops the task on its loop") {
  uvrun::BackgroundRunner bg;
  std::atomic<bool> started{false}, cancelled{false};
  auto f = bg.submit(sleep_then(&started, &cancelled, 100));
  CHECK_FALSE(f.wait_for(10ms));
  while (!started) std::this_thread::sleep_for(1ms);
  CHECK(f.cancel());
  CHECK(f.cancelled());
  CHECK_THROWS_AS(f.get(), uvrun::CancelledError);
  for (int i = 0; i < 5000 && !cancelled; i++) std::this_thread::sleep_for(1ms);
  CHECK(cancelled);
  CHECK_FALSE(f.cancel());
}

TEST_CASE("H2: waiting on the loop's own thread throws instead of hanging; awaiting works") {
  auto main = []() -> uvrun::Task<std::string> {
    auto f = uvrun::submit_threadsafe(uvrun_get_running_loop(), greet("self"));
    CHECK_THROWS_AS(f.wait(), uvrun::RuntimeError);
    co_return co_await f;
  };
  CHECK(uvrun::run(main()) == "hello self");
}

TEST_CASE("H2: a task on another loop awaits a background task while its own loop runs on") {
  uvrun::BackgroundRunner bg;
  auto main = [&]() -> uvrun::Task<int> {
    int ticks = 0;
    auto ticker = uvrun::create_task([](int *n) -> uvrun::Task<void> {
      for (;;) {
        ++*n;
        co_await uvrun::sleep(5ms);
      }
    }(&ticks));
    std::string s = co_await bg.submit([]() -> uvrun::Task<std::string> {
      co_await uvrun::sleep(100ms);
      co_return "done";
    }());
    CHECK(s == "done");
    ticker.cancel();
    co_return ticks;
  };
  CHECK(uvrun::run(main()) >= 5);
}

TEST_CASE("H2: a done callback runs once, on the completing thread") {
  uvrun::BackgroundRunner bg;
  std::atomic<int> calls{0};
  std::atomic<bool> same_thread{true};
  auto me = std::this_thread::get_id();
  auto f = bg.submit(greet("cb"));
  f.add_done_callback([&] {
    same_thread = std::this_thread::get_id() == me;
    calls++;
  });
  f.wait();
  for (int i = 0; i < 5000 && calls == 0; i++) std::this_thread::sleep_for(1ms);
  CHECK(calls == 1);
  f.add_done_callback([&] { calls++; });  // done: runs at once, here
  CHECK(calls == 2);
}

TEST_CASE("H3 H4: stopping a background runner cancels what still runs; later submissions throw") {
  std::atomic<bool> started{false}, cancelled{false};
  uvrun::BackgroundRunner bg;
  auto f = bg.submit(sleep_then(&started, &cancelled, 100));
  while (!started) std::this_thread::sleep_for(1ms);
  bg.stop();
  bg.stop();  // idempotent
  CHECK(cancelled);
  CHECK(f.cancelled());
  CHECK_THROWS_AS(bg.submit(greet("late")), uvrun::RuntimeError);
}

TEST_CASE("H2: an empty ThreadFuture throws InvalidStateError") {
  uvrun::ThreadFuture<int> f;
  CHECK_FALSE(f);
  CHECK_THROWS_AS(f.done(), uvrun::InvalidStateError);
  CHECK_THROWS_AS(f.get(), uvrun::InvalidStateError);
}
