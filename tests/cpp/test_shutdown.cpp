// Shutdown as a C++ host sees it: the hook on each close step (X9), and the
// error a failed close keeps (R62).
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {

std::string line(const uvrun_shutdown_event_t &e) {
  return std::string(uvrun_shutdown_step_name(e.step)) + (e.end ? ":end(" : ":begin(") + std::to_string(e.count) + ")";
}

uvrun::Task<void> sleep_long() { co_await uvrun::sleep(30s); }

}  // namespace

TEST_CASE("X9 C++: Options::shutdown_hook sees the four steps of run()'s close, leftovers counted") {
  std::vector<std::string> seen;
  uvrun::Options opts;
  opts.shutdown_hook = [&](const uvrun_shutdown_event_t &e) { seen.push_back(line(e)); };
  auto main = []() -> uvrun::Task<int> {
    uvrun::create_task(sleep_long());
    co_return 3;
  };
  CHECK(uvrun::run(main(), opts) == 3);
  CHECK(seen == std::vector<std::string>{"cancel_tasks:begin(1)", "cancel_tasks:end(0)", "shutdown_asyncgens:begin(0)",
                                         "shutdown_asyncgens:end(0)", "shutdown_default_executor:begin(0)",
                                         "shutdown_default_executor:end(0)", "close_loop:begin(0)",
                                         "close_loop:end(0)"});
}

TEST_CASE("X9 C++: a Runner announces its close once; a throwing hook is logged and the close goes on") {
  int calls = 0;
  t::LogCapture log;
  {
    uvrun::Options opts;
    opts.shutdown_hook = [&](const uvrun_shutdown_event_t &) {
      calls++;
      throw std::runtime_error("hook failed");
    };
    uvrun::Runner runner(opts);
    auto main = []() -> uvrun::Task<int> { co_return 1; };
    CHECK(runner.run(main()) == 1);
    CHECK(calls == 0);
    runner.close();
    CHECK(calls == 8);
  }
  CHECK(calls == 8);
  CHECK(log.count("shutdown hook threw: hook failed") == 8);
}

TEST_CASE("R62 C++: an interrupt while closing is thrown; the main task's error is last_error_context()") {
  auto leftover = []() -> uvrun::Task<void> {
    try {
      co_await uvrun::sleep(30s);
    } catch (const uvrun::CancelledError &) {
      throw uvrun::KeyboardInterrupt();
    }
  };
  auto main = [&]() -> uvrun::Task<void> {
    uvrun::create_task(leftover());
    co_await uvrun::yield();  // the leftover is asleep
    throw std::runtime_error("main failed");
  };
  t::Reports reports;
  uvrun::Options opts;
  opts.exception_handler = [&](uvrun_loop_t *loop, const uvrun_exception_context_t &c) {
    reports.handler(loop, &c, &reports);
  };
  bool interrupted = false;
  try {
    uvrun::run(main(), opts);
  } catch (const uvrun::KeyboardInterrupt &) {
    interrupted = true;
  }
  CHECK(interrupted);
  std::exception_ptr other = uvrun::last_error_context();
  REQUIRE(other != nullptr);
  std::string what;
  try {
    std::rethrow_exception(other);
  } catch (const std::runtime_error &e) {
    what = e.what();
  }
  CHECK(what == "main failed");
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "the main task's error, superseded by an interrupt while closing the loop");
}

TEST_CASE("R62 C++: a run whose close succeeds leaves no error context") {
  auto main = []() -> uvrun::Task<void> {
    co_await uvrun::yield();
    throw std::runtime_error("alone");
  };
  CHECK_THROWS_AS(uvrun::run(main()), std::runtime_error);
  CHECK(uvrun::last_error_context() == nullptr);
}
