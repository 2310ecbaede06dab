// to_thread() and run_in_executor(): blocking work on the loop's pool (D8),
// exceptions across threads (D10), the caller's context in the worker (X7).
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "counted.h"
#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

TEST_CASE("D8 to_thread runs the callable on a worker thread and gives its result") {
  auto main = []() -> uvrun::Task<bool> {
    std::thread::id loop_thread = std::this_thread::get_id();
    auto [id, sum] =
        co_await uvrun::to_thread([](int a, int b) { return std::pair(std::this_thread::get_id(), a + b); }, 40, 2);
    CHECK(sum == 42);
    co_return id != loop_thread;
  };
  CHECK(uvrun::run(main()));
}

TEST_CASE("D8 to_thread takes move-only arguments and results") {
  auto main = []() -> uvrun::Task<int> {
    auto p = co_await uvrun::to_thread([](std::unique_ptr<int> in) { return std::make_unique<int>(*in * 2); },
                                       std::make_unique<int>(21));
    co_return *p;
  };
  CHECK(uvrun::run(main()) == 42);
}

TEST_CASE("D10 an exception thrown in the worker arrives as the same object") {
  static const std::exception *thrown;
  auto main = []() -> uvrun::Task<std::string> {
    try {
      co_await uvrun::run_in_executor([]() -> int {
        try {
          throw std::invalid_argument("bad input");
        } catch (const std::invalid_argument &e) {
          thrown = &e;
          throw;
        }
      });
    } catch (const std::invalid_argument &e) {
      CHECK(&e == thrown);
      co_return e.what();
    }
    co_return "missed";
  };
  CHECK(uvrun::run(main()) == "bad input");
}

namespace {
uvrun::ContextVar<std::string> user("user");
}

TEST_CASE("X7 the caller's context travels into the worker; its writes stay there") {
  auto main = []() -> uvrun::Task<std::string> {
    user.set("alice");
    std::string seen = co_await uvrun::to_thread([] {
      std::string v = user.get();
      user.set("mallory");  // in the worker's copy
      return v;
    });
    co_return seen + " " + user.get();
  };
  CHECK(uvrun::run(main()) == "alice alice");
}

TEST_CASE("R51 cancelling an awaiting task leaves the job to finish; values destroyed once") {
  t::Counted::reset_counts();
  std::atomic<bool> release{false}, finished{false};
  {
    auto main = [&]() -> uvrun::Task<std::string> {
      // Parameters, not captures: the closure is gone once the task starts.
      auto waiter = uvrun::create_task([](std::atomic<bool> &go, std::atomic<bool> &done) -> uvrun::Task<int> {
        t::Counted c = co_await uvrun::to_thread([&go, &done] {
          while (!go) std::this_thread::sleep_for(1ms);
          done = true;
          return t::Counted(5);
        });
        co_return c.value;
      }(release, finished));
      co_await uvrun::sleep(5ms);
      waiter.cancel();
      try {
        co_await waiter;
      } catch (const uvrun::CancelledError &) {
        release = true;  // the worker goes on after its awaiter left
        co_return "cancelled";
      }
      co_return "not cancelled";
    };
    CHECK(uvrun::run(main()) == "cancelled");  // run() waits for the pool (R58)
  }
  CHECK(finished);
  CHECK(t::Counted::made > 0);
  CHECK(t::Counted::alive() == 0);
}

TEST_CASE("R58 run_in_executor after the executor shut down raises RuntimeError") {
  uvrun::Runner runner;
  auto use_pool = []() -> uvrun::Task<int> { co_return co_await uvrun::to_thread([] { return 1; }); };
  CHECK(runner.run(use_pool()) == 1);
  REQUIRE(uvrun_loop_shutdown_default_executor(runner.get_loop(), 5.0) == 0);
  try {
    runner.run(use_pool());
    FAIL("no exception");
  } catch (const uvrun::RuntimeError &e) {
    CHECK(e.code() == UVRUN_E_EXECUTOR_SHUTDOWN);
    CHECK(std::string(e.what()) == "Executor shutdown has been called");
  }
}

TEST_CASE("R58 R59 co_await shutdown_default_executor() lets queued jobs finish, then to_thread throws") {
  uvrun::Options opts;
  opts.executor_max_workers = 1;
  std::atomic<int> done{0};
  auto main = [&]() -> uvrun::Task<int> {
    for (int i = 0; i < 3; i++) {
      // Started now, not awaited: the shutdown is what waits for them.
      (void)uvrun::to_thread([&] {
        std::this_thread::sleep_for(10ms);
        ++done;
      });
    }
    co_await uvrun::shutdown_default_executor();
    int at_resume = done.load();
    try {
      co_await uvrun::to_thread([] { return 0; });
    } catch (const uvrun::RuntimeError &e) {
      CHECK(e.code() == UVRUN_E_EXECUTOR_SHUTDOWN);
    }
    co_return at_resume;
  };
  CHECK(uvrun::run(main(), opts) == 3);
}

TEST_CASE("R58 co_await shutdown_default_executor(timeout) warns after the timeout and goes on") {
  t::LogCapture log;
  std::atomic<bool> finished{false};
  auto main = [&]() -> uvrun::Task<bool> {
    (void)uvrun::to_thread([&] {
      std::this_thread::sleep_for(300ms);
      finished = true;
    });
    co_await uvrun::shutdown_default_executor(50ms);
    co_return finished.load();
  };
  CHECK_FALSE(uvrun::run(main()));
  CHECK(finished);  // the runner's close waited for it again
  CHECK(log.contains("The executor did not finishing joining its threads within 0.05 seconds."));
}

TEST_CASE("R58 shutdown_default_executor() with a negative timeout or without a running loop throws") {
  auto main = []() -> uvrun::Task<void> { co_await uvrun::shutdown_default_executor(-1s); };
  try {
    uvrun::run(main());
    FAIL("no exception");
  } catch (const uvrun::Error &e) {
    CHECK(e.code() == UVRUN_E_INVAL);
  }
  CHECK_THROWS_AS(uvrun::shutdown_default_executor(), uvrun::RuntimeError);
}
