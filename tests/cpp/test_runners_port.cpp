// A port of CPython's Lib/test/test_asyncio/test_runners.py (3.14) to the C++
// API: the same test list as tests/c/test_runners_port_*.cpp ("A<n> <CPython
// test name> (<R it checks>)"), with uvrun::run, uvrun::Runner, exceptions,
// coroutines and async generators where the C port has step functions.
//
// The `Fixture` loop factory plays CPython's TestPolicy fixture (invariant
// I0): it counts its calls, holds a future on the loop (keeping the closed
// loop object readable), and registers a sentinel async finalizer whose
// aclose records that the shutdown step ran.
//
// Not ported, as in the C port: A10 (a duck-typed task class without
// uncancel(); there is one task type). Native stand-ins: A3/A17 "not an
// awaitable" is a compile-time constraint here; A15's Mock loop is a real
// loop checked by identity; A25-A28 use a real SIGINT in a child process;
// A28 "signal.signal raises" is a host's own SIGINT handler (R40 (b)); A30's
// counting __repr__ is a result type that counts its copies.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigint_support.h"
#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {

struct Fixture {
  int made = 0;
  bool shutdown_ag_run = false;
  uvrun_loop_t *loop = nullptr;
  uvrun_future_t *keep = nullptr;
  uvrun_asyncgen_t *sentinel = nullptr;

  static int aclose(void *obj, uvrun_loop_t *loop, uvrun_future_t **out) {
    static_cast<Fixture *>(obj)->shutdown_ag_run = true;
    int rc = uvrun_future_new(loop, out);
    if (rc == 0) uvrun_future_set_result(*out, nullptr, nullptr);
    return rc;
  }
  // Options::loop_factory
  std::function<uvrun_loop_t *()> factory() {
    return [this] {
      uvrun_loop_t *l = nullptr;
      if (uvrun_loop_new(&l) < 0) throw uvrun::Error(UVRUN_E_NOMEM, "no loop");
      made++;
      loop = l;
      uvrun_future_unref(keep);
      uvrun_future_new(l, &keep);
      uvrun_asyncgen_register(l, this, "fixture_sentinel", aclose, &sentinel);
      return l;
    };
  }
  uvrun::Options options() {
    uvrun::Options o;
    o.loop_factory = factory();
    return o;
  }
  bool loop_closed() const { return keep != nullptr && uvrun_loop_is_closed(uvrun_future_loop(keep)); }
  void check_teardown() const {
    CHECK(made == 1);
    CHECK(loop_closed());
    CHECK(shutdown_ag_run);
  }
  ~Fixture() { uvrun_future_unref(keep); }
};

struct Spam : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct FancyExit : std::runtime_error {
  FancyExit() : std::runtime_error("FancyExit") {}
};

// R11: only awaitables run; anything else does not compile.
template <class A>
concept Runnable = requires(A a) {
  uvrun::run(std::move(a));
};
template <class A>
concept RunnerRunnable = requires(uvrun::Runner &r, A a) {
  r.run(std::move(a));
};

}  // namespace

// ---- RunTests -------------------------------------------------------------

TEST_CASE("A1 test_asyncio_run_return (R34, R36)") {
  auto main = []() -> uvrun::Task<int> {
    co_await uvrun::sleep(0s);
    co_return 42;
  };
  CHECK(uvrun::run(main()) == 42);
}

TEST_CASE("A2 test_asyncio_run_raises (R37)") {
  auto main = []() -> uvrun::Task<void> {
    co_await uvrun::sleep(0s);
    throw Spam("spam");
  };
  CHECK_THROWS_WITH_AS(uvrun::run(main()), "spam", Spam);
}

TEST_CASE("A3 test_asyncio_run_only_coro (R11)") {
  static_assert(Runnable<uvrun::Task<int>>);
  static_assert(!Runnable<int>);
  static_assert(!Runnable<int (*)()>);
}

TEST_CASE("A4 test_asyncio_run_debug (R19, R20)") {
  t::Env env("UVRUN_DEBUG");
  t::LogCapture log;
  auto debug_of = [](std::optional<bool> debug) {
    uvrun::Options o;
    o.debug = debug;
    auto main = []() -> uvrun::Task<bool> { co_return uvrun_loop_get_debug(uvrun::running_loop()) != 0; };
    return uvrun::run(main(), o);
  };
  env.unset();
  CHECK_FALSE(debug_of(false));
  CHECK(debug_of(true));
  env.set("1");
  CHECK(debug_of(std::nullopt));
  CHECK_FALSE(debug_of(false));
  env.set("0");
  CHECK(debug_of(true));
  CHECK_FALSE(debug_of(std::nullopt));
}

TEST_CASE("A5 test_asyncio_run_from_running_loop (R9, D1, R26)") {
  t::LogCapture log;
  static bool inner_ran = false;
  auto inner = []() -> uvrun::Task<void> {
    inner_ran = true;
    co_return;
  };
  auto main = [inner]() -> uvrun::Task<void> {
    uvrun::run(inner());
    co_return;
  };
  uvrun::Options debug;
  debug.debug = true;
  try {
    uvrun::run(main(), debug);
    FAIL("no exception");
  } catch (const uvrun::RuntimeError &e) {
    CHECK(e.code() == UVRUN_E_LOOP_RUNNING);
    CHECK(std::string(e.what()) == "uvrun_run() cannot be called from a running event loop");
  }
  CHECK_FALSE(inner_ran);
  CHECK(log.contains("was never awaited"));  // D1: the rejected one is destroyed, with a warning
}

TEST_CASE("A6 test_asyncio_run_cancels_hanging_tasks (R54)") {
  uvrun::TaskHandle<void> leftover;
  auto main = [&]() -> uvrun::Task<int> {
    leftover = uvrun::create_task([]() -> uvrun::Task<void> { co_await uvrun::sleep(5s); }());
    co_return 123;
  };
  auto t0 = std::chrono::steady_clock::now();
  CHECK(uvrun::run(main()) == 123);
  CHECK(leftover.done());
  CHECK(leftover.cancelled());
  CHECK(t::since(t0) < 2.0);
}

TEST_CASE("A7 test_asyncio_run_reports_hanging_tasks_errors (R50)") {
  std::vector<std::string> messages;
  std::string task_name, error_message;
  uvrun::Options o;
  o.exception_handler = [&](uvrun_loop_t *, const uvrun_exception_context_t &ctx) {
    messages.push_back(ctx.message);
    if (ctx.task) task_name = uvrun_task_name(ctx.task);
    if (ctx.error) error_message = uvrun_error_message(ctx.error);
    CHECK(ctx.future == nullptr);  // exactly message, exception, task
  };
  uvrun::TaskHandle<void> leftover;
  auto main = [&]() -> uvrun::Task<int> {
    leftover = uvrun::create_task(
        []() -> uvrun::Task<void> {
          try {
            co_await uvrun::sleep(100ms);
          } catch (const uvrun::CancelledError &) {
            throw std::domain_error("division by zero");  // 1 / 0
          }
        }(),
        "leftover");
    co_return 123;
  };
  CHECK(uvrun::run(main(), o) == 123);
  CHECK(leftover.done());
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == "unhandled exception during uvrun_run() shutdown");
  CHECK(task_name == "leftover");
  CHECK(error_message == "division by zero");
}

TEST_CASE("A8 test_asyncio_run_closes_gens_after_hanging_tasks_errors (R47, R55)") {
  static bool aclosed = false;
  auto fidget = []() -> uvrun::AsyncGenerator<int> {
    for (;;) {
      bool closing = false;
      try {
        co_yield 1;
      } catch (const uvrun::GeneratorExit &) {
        closing = true;
      }
      if (closing) {
        aclosed = true;
        co_return;
      }
      co_await uvrun::sleep(1s);
    }
  };
  std::optional<uvrun::AsyncGenerator<int>> spinner;
  uvrun::TaskHandle<void> lazyboy;
  uvrun::Options o;
  o.exception_handler = [](uvrun_loop_t *, const uvrun_exception_context_t &) {};  // mock.Mock()
  auto main = [&]() -> uvrun::Task<void> {
    spinner.emplace(fidget());
    lazyboy = uvrun::create_task([](uvrun::AsyncGenerator<int> &gen) -> uvrun::Task<void> {
      try {
        while (co_await gen.next()) {
        }
      } catch (const uvrun::CancelledError &) {
        throw std::domain_error("division by zero");
      }
    }(*spinner));
    throw FancyExit();
    co_return;
  };
  CHECK_THROWS_AS(uvrun::run(main(), o), FancyExit);
  CHECK(lazyboy.done());
  CHECK(spinner->done());  // its frame finished while its task unwound
  CHECK_FALSE(aclosed);
}

TEST_CASE("A9 test_asyncio_run_set_event_loop (R16)") {
  auto main = []() -> uvrun::Task<bool> {
    co_await uvrun::sleep(0s);
    co_return uvrun_get_current_loop() == uvrun::running_loop();
  };
  CHECK(uvrun::run(main()));
  CHECK(uvrun_get_current_loop() == nullptr);
}

TEST_CASE("A11 test_asyncio_run_loop_factory (R17)") {
  Fixture fx;
  auto main = []() -> uvrun::Task<uvrun_loop_t *> { co_return uvrun::running_loop(); };
  CHECK(uvrun::run(main(), fx.options()) == fx.loop);
  fx.check_teardown();
}

TEST_CASE("A12 test_loop_factory_default_event_loop (R17, R18)") {
  uvrun::Options o;
  o.loop_factory = [] {
    uvrun_loop_t *l = nullptr;
    uvrun_loop_new(&l);
    return l;
  };
  auto main = []() -> uvrun::Task<bool> { co_return uvrun_get_current_loop() == nullptr; };
  CHECK(uvrun::run(main(), o));  // a factory path never sets the current loop
}

// ---- RunnerTests ----------------------------------------------------------

TEST_CASE("A13 test_non_debug (R20)") {
  uvrun::Options o;
  o.debug = false;
  uvrun::Runner runner(o);
  CHECK_FALSE(uvrun_loop_get_debug(runner.get_loop()));
}

TEST_CASE("A14 test_debug (R20)") {
  t::LogCapture log;
  uvrun::Options o;
  o.debug = true;
  uvrun::Runner runner(o);
  CHECK(uvrun_loop_get_debug(runner.get_loop()));
  runner.close();
}

TEST_CASE("A15 test_custom_factory (R5, R17)") {
  Fixture fx;
  {
    uvrun::Runner runner(fx.options());
    CHECK(runner.get_loop() == fx.loop);
    CHECK(runner.get_loop() == fx.loop);
  }
  fx.check_teardown();
}

TEST_CASE("A16 test_run (R3, R7, R61)") {
  Fixture fx;
  {
    uvrun::Runner runner(fx.options());
    auto f = []() -> uvrun::Task<std::string> {
      co_await uvrun::sleep(0s);
      co_return "done";
    };
    CHECK(runner.run(f()) == "done");
    CHECK(runner.get_loop() == fx.loop);
    runner.close();
    CHECK_THROWS_WITH_AS(runner.get_loop(), "Runner is closed", uvrun::RuntimeError);
    CHECK(fx.loop_closed());
  }
  fx.check_teardown();
}

TEST_CASE("A17 test_run_non_coro (R11)") {
  static_assert(RunnerRunnable<uvrun::Task<int>>);
  static_assert(!RunnerRunnable<int>);
}

TEST_CASE("A18 test_run_future (R11)") {
  // A future is awaitable, not a coroutine: Runner.run wraps it (3.14).
  uvrun::Runner runner;
  uvrun::Future<std::string> fut(runner.get_loop());
  fut.set_result("done");
  auto wrap = [](uvrun::Future<std::string> f) -> uvrun::Task<std::string> { co_return co_await f; };
  CHECK(runner.run(wrap(fut)) == "done");
}

TEST_CASE("A19 test_run_awaitable (R11)") {
  uvrun::Runner runner;
  auto inner = []() -> uvrun::Task<std::string> { co_return "done"; };
  auto wrap = [inner]() -> uvrun::Task<std::string> { co_return co_await uvrun::create_task(inner()); };
  CHECK(runner.run(wrap()) == "done");
}

TEST_CASE("A20 test_explicit_close (R3, R7, R61)") {
  Fixture fx;
  {
    uvrun::Runner runner(fx.options());
    runner.get_loop();
    runner.close();
    CHECK_THROWS_WITH_AS(runner.get_loop(), "Runner is closed", uvrun::RuntimeError);
    CHECK(fx.loop_closed());
  }
  fx.check_teardown();
}

TEST_CASE("A21 test_double_close (R6)") {
  Fixture fx;
  {
    uvrun::Runner runner(fx.options());
    runner.get_loop();
    runner.close();
    CHECK(fx.loop_closed());
    runner.close();  // a no-op
    CHECK(fx.made == 1);
  }
  fx.check_teardown();
}

TEST_CASE("A22 test_second_with_block_raises (R7)") {
  std::vector<int> ret;
  auto f = [&](int arg) -> uvrun::Task<void> {
    ret.push_back(arg);
    co_return;
  };
  uvrun::Runner runner;
  runner.run(f(1));
  runner.close();
  CHECK_THROWS_WITH_AS(runner.run(f(2)), "Runner is closed", uvrun::RuntimeError);
  CHECK(ret == std::vector<int>{1});
}

namespace {
uvrun::ContextVar<int> cvar("cvar", -1);
}

TEST_CASE("A23 test_run_keeps_context (R31)") {
  auto f = [](int val) -> uvrun::Task<int> {
    int old = cvar.get();
    co_await uvrun::sleep(0s);
    cvar.set(val);
    co_return old;
  };
  auto get_context = []() -> uvrun::Task<uvrun::Context> { co_return uvrun::Context::copy_current(); };
  uvrun::Runner runner;
  CHECK(runner.run(f(1)) == -1);
  CHECK(runner.run(f(2)) == 1);
  uvrun::Context ctx = runner.run(get_context());
  CHECK(ctx.get(cvar) == 2);
}

TEST_CASE("A24 test_recursive_run (R10, D1, R26)") {
  t::LogCapture log;
  static bool g_ran = false;
  auto g = []() -> uvrun::Task<void> {
    g_ran = true;
    co_return;
  };
  uvrun::Options o;
  o.debug = true;
  uvrun::Runner runner(o);
  auto f = [&runner, g]() -> uvrun::Task<void> {
    runner.run(g());
    co_return;
  };
  CHECK_THROWS_WITH_AS(runner.run(f()), "uvrun_runner_run() cannot be called from a running event loop",
                       uvrun::RuntimeError);
  CHECK_FALSE(g_ran);
  // RuntimeWarning: coroutine 'g' was never awaited -- with where it was made.
  CHECK(log.count("was never awaited") == 1);
  CHECK(log.contains("test_runners_port.cpp"));
}

TEST_CASE("A25 test_interrupt_call_soon (R41, R42)") {
  auto res = t::in_child(
      [] {
        signal(SIGINT, SIG_DFL);
        static bool saw_cancel = false;
        auto coro = []() -> uvrun::Task<void> {
          t::child_ready();
          try {
            for (;;) co_await uvrun::yield();
          } catch (const uvrun::CancelledError &) {
            saw_cancel = true;
          }
          throw uvrun::CancelledError();  // a new instance still counts
        };
        uvrun::Runner runner;
        try {
          runner.run(coro());
          CHILD_EXPECT(false, 2);
        } catch (const uvrun::KeyboardInterrupt &) {
        }
        CHILD_EXPECT(saw_cancel, 3);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  t::check_child(res);
}

TEST_CASE("A26 test_interrupt_wait (R41, R42)") {
  auto res = t::in_child(
      [] {
        signal(SIGINT, SIG_DFL);
        uvrun::Runner runner;
        uvrun::Future<void> fut(runner.get_loop());
        static bool saw_cancel = false;
        auto coro = [fut]() -> uvrun::Task<void> {
          t::child_ready();
          try {
            co_await fut;
          } catch (const uvrun::CancelledError &) {
            saw_cancel = true;
            throw;
          }
        };
        try {
          runner.run(coro());
          CHILD_EXPECT(false, 2);
        } catch (const uvrun::KeyboardInterrupt &) {
        }
        CHILD_EXPECT(saw_cancel, 3);
        CHILD_EXPECT(fut.cancelled(), 4);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  t::check_child(res);
}

TEST_CASE("A27 test_interrupt_cancelled_task (R42)") {
  auto res = t::in_child(
      [] {
        signal(SIGINT, SIG_DFL);
        static int cancels_seen = -1;
        auto subtask = [](uvrun::TaskHandle<> main_task) -> uvrun::Task<void> {
          t::child_ready();
          while (main_task.cancelling() < 1) co_await uvrun::yield();  // Ctrl-C got through
          main_task.cancel();
          cancels_seen = main_task.cancelling();
        };
        auto coro = [subtask]() -> uvrun::Task<void> {
          uvrun::create_task(subtask(uvrun::current_task()));
          co_await uvrun::sleep(10s);
        };
        uvrun::Runner runner;
        try {
          runner.run(coro());
          CHILD_EXPECT(false, 2);
        } catch (const uvrun::CancelledError &) {
        }
        CHILD_EXPECT(cancels_seen == 2, 3);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  t::check_child(res);
}

TEST_CASE("A28 test_signal_install_not_supported_ok (R40)") {
  auto res = t::in_child(
      [] {
        t::sigint_handler(t::host_sigint_handler);
        auto coro = []() -> uvrun::Task<int> {
          t::child_ready();
          for (int i = 0; t::host_sigints == 0 && i < 1000; i++) co_await uvrun::sleep(5ms);
          co_return 42;
        };
        uvrun::Runner runner;
        CHILD_EXPECT(runner.run(coro()) == 42, 2);
        CHILD_EXPECT(t::host_sigints == 1, 3);
        CHILD_EXPECT(t::sigint_now().sa_handler == t::host_sigint_handler, 4);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  t::check_child(res);
}

TEST_CASE("A29 test_set_event_loop_called_once (R16)") {
  auto noop = []() -> uvrun::Task<void> { co_return; };
  uvrun::Runner a, b;
  a.run(noop());
  CHECK(uvrun_get_current_loop() == a.get_loop());
  uvrun_loop_t *lb = b.get_loop();
  CHECK(uvrun_get_current_loop() == lb);
  a.run(noop());
  a.run(noop());
  CHECK(uvrun_get_current_loop() == lb);
  b.close();
  CHECK(uvrun_get_current_loop() == nullptr);
}

namespace {
struct MyResult {
  static inline int copies = 0;
  static inline int destroyed = 0;
  MyResult() = default;
  MyResult(const MyResult &) { copies++; }
  MyResult(MyResult &&) noexcept = default;
  ~MyResult() { destroyed++; }
};
}  // namespace

TEST_CASE("A30 test_no_repr_is_call_on_the_task_result (R36)") {
  auto coro = []() -> uvrun::Task<MyResult> { co_return MyResult(); };
  MyResult::copies = MyResult::destroyed = 0;
  {
    uvrun::Runner runner;
    MyResult r = runner.run(coro());
    CHECK(MyResult::copies == 0);  // handed over by moves, never copied
  }
  CHECK(MyResult::copies == 0);
  CHECK(MyResult::destroyed > 0);
}

// ---- R26 on its own -------------------------------------------------------

namespace {
uvrun::Task<int> never_started() { co_return 1; }
}  // namespace

TEST_CASE("R26 a Task destroyed unstarted warns in debug mode, naming where it was made") {
  t::Env env("UVRUN_DEBUG");
  t::LogCapture log;
  env.set("1");  // no loop runs: the environment decides
  { auto unused = never_started(); }
  REQUIRE(log.count("was never awaited") == 1);
  CHECK(log.contains("never_started"));
  CHECK(log.contains("test_runners_port.cpp"));
  env.unset();
  { auto unused = never_started(); }
  CHECK(log.count("was never awaited") == 1);  // debug off: silent
  env.set("1");
  CHECK(uvrun::run([]() -> uvrun::Task<int> { co_return co_await never_started(); }()) == 1);
  CHECK(log.count("was never awaited") == 1);  // awaited: silent
}
