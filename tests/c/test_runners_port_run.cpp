// A port of CPython's Lib/test/test_asyncio/test_runners.py (3.14 text, read
// from kumaraditya303/cpython), test by test, through the C API, part 1:
// RunTests (A1-A12). Part 2, RunnerTests, is test_runners_port_runner.cpp,
// and its interrupt tests (A25-A28) test_runners_port_interrupt.cpp. Each
// TEST_CASE is named "A<n> <CPython test name> (<R it checks>)", numbered in
// the order of the CPython file, as docs/semantics.md lists them.
//
// CPython's fixture (BaseTest.tearDown) checks that every loop made through
// the policy is closed and ran shutdown_asyncgens (invariant I0). Here the
// `Fixture` loop factory (runner_support.h) plays that part where a test
// needs it: it registers a sentinel async finalizer whose aclose records
// that the shutdown step ran, and holds a future on the loop, which keeps
// the (closed) loop object readable after the runner freed it.
//
// Not ported:
// - A10 test_asyncio_run_without_uncancel (gh-95097): a duck-typed task
//   class without uncancel(), installed with loop.set_task_factory(). The C
//   API has no task factory and one task type, which always has uncancel.
// - The "coroutine ... was never awaited" RuntimeWarning half of A24
//   test_recursive_run: a C main task is a step function and an argument the
//   caller keeps, so a rejected one has nothing to destroy or warn about.
//   The RuntimeError half is ported.
// Ported with a native stand-in for Python-only machinery:
// - A9/A29 mock policy.set_event_loop: the current-loop slot is observed
//   with uvrun_get_current_loop() (two runners tell "set once at init" from
//   "set at every run").
// - A12 asyncio.EventLoop: there is one loop type; uvrun_loop_new as the
//   factory gives it without the current-loop side effect.
// - A15 a Mock loop: a real loop from the factory, checked by identity.
// - A19 an object with __await__: an awaitable that is not a step function,
//   i.e. a task's future handed to uvrun_runner_run_future().
// - A25-A28 _thread.interrupt_main(): a real SIGINT sent to a child process.
// - A28 patching signal.signal to raise: the runner cannot take SIGINT over
//   because the host owns it (R40 (b); R40 (c) cannot be provoked from C).
// - A30 a result with a counting __repr__: a result with a counting
//   destructor; the runner must hand the object over without touching it.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <chrono>
#include <string>
#include <vector>

#include "runner_support.h"

TEST_SUITE_BEGIN("runner");

using namespace rt;

// ---- RunTests -------------------------------------------------------------

TEST_CASE("A1 test_asyncio_run_return (R34, R36)") {
  void *result = nullptr;
  int rc = t::run(
      [](uvrun_task_t *task, int step) {
        if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
        return uvrun_task_return(task, t::iv(42));
      },
      nullptr, &result);
  CHECK(rc == 0);
  CHECK(t::vi(result) == 42);
}

TEST_CASE("A2 test_asyncio_run_raises (R37)") {
  int rc = t::run([](uvrun_task_t *task, int step) {
    if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
    return uvrun_task_raise(task, new_error(-EDOM, "spam"));
  });
  CHECK(rc == UVRUN_E_TASK_FAILED);
  t::TakenError err = t::take_error();
  CHECK(err.code == -EDOM);
  CHECK(err.message == "spam");
}

TEST_CASE("A3 test_asyncio_run_only_coro (R11, R13)") {
  // `1` and `lambda: None`: neither is a step function. A NULL step is the
  // C shape of "not an awaitable"; the loop is still made and shut down.
  Fixture fx;
  t::Options opts(fx);
  int rc = uvrun_run(nullptr, t::iv(1), &opts, nullptr);
  CHECK(rc == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("an awaitable is required") != std::string::npos);
  fx.check_teardown();
}

TEST_CASE("A4 test_asyncio_run_debug (R19, R20)") {
  t::Env env("UVRUN_DEBUG");
  t::LogCapture log;  // debug mode logs; keep it off stderr
  auto run_expect = [](int debug, bool expected) {
    t::Options opts;
    opts.debug = debug;
    CHECK((t::main_loop_debug(&opts) != 0) == expected);
  };
  env.unset();
  run_expect(UVRUN_DEBUG_OFF, false);
  run_expect(UVRUN_DEBUG_ON, true);
  env.set("1");  // mock.patch('asyncio.coroutines._is_debug_mode', lambda: True)
  run_expect(UVRUN_DEBUG_DEFAULT, true);
  run_expect(UVRUN_DEBUG_OFF, false);
  env.set("0");  // ... lambda: False
  run_expect(UVRUN_DEBUG_ON, true);
  run_expect(UVRUN_DEBUG_DEFAULT, false);
}

TEST_CASE("A5 test_asyncio_run_from_running_loop (R9)") {
  bool inner_ran = false;
  t::Lambda inner{[&](uvrun_task_t *task, int) {
    inner_ran = true;
    return uvrun_task_return(task, nullptr);
  }};
  std::string msg;
  int rc = t::run([&](uvrun_task_t *, int) {
    int rc2 = uvrun_run(t::Lambda::run, &inner, nullptr, nullptr);
    msg = uvrun_errmsg();
    return rc2;  // the error propagates out of main, as in Python
  });
  CHECK(rc == UVRUN_E_TASK_FAILED);
  CHECK(msg == "uvrun_run() cannot be called from a running event loop");
  t::TakenError err = t::take_error();
  CHECK(err.code == UVRUN_E_LOOP_RUNNING);
  CHECK(err.message.find("cannot be called from a running") != std::string::npos);
  CHECK_FALSE(inner_ran);
}

TEST_CASE("A6 test_asyncio_run_cancels_hanging_tasks (R54)") {
  uvrun_task_t *lo_task = nullptr;
  void *result = nullptr;
  auto t0 = std::chrono::steady_clock::now();
  // The leftover sleeps 5 s (CPython: 0.1 s) so "not awaited to completion"
  // shows in the time run() takes.
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        lo_task = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *lo, int step) {
          if (step == 0) return uvrun_task_await(lo, uvrun_sleep(lo, 5.0));
          return uvrun_task_resume(lo, nullptr);
        });
        return uvrun_task_return(task, t::iv(123));
      },
      nullptr, &result);
  CHECK(rc == 0);
  CHECK(t::vi(result) == 123);
  REQUIRE(lo_task != nullptr);
  CHECK(uvrun_future_done(uvrun_task_future(lo_task)));
  CHECK(uvrun_future_cancelled(uvrun_task_future(lo_task)));
  CHECK(since(t0) < 2.0);
  uvrun_task_unref(lo_task);
}

TEST_CASE("A7 test_asyncio_run_reports_hanging_tasks_errors (R50)") {
  t::Reports reports;
  t::Options opts(reports);
  uvrun_task_t *lo_task = nullptr;
  void *result = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        lo_task = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *lo, int step) {
          if (step == 0) return uvrun_task_await(lo, uvrun_sleep(lo, 0.1));
          if (uvrun_task_resume(lo, nullptr) == UVRUN_E_CANCELLED)
            return uvrun_task_raise(lo, new_error(-EDOM, "division by zero"));  // 1 / 0
          return uvrun_task_return(lo, nullptr);
        });
        return uvrun_task_return(task, t::iv(123));
      },
      &opts, &result);
  CHECK(rc == 0);
  CHECK(t::vi(result) == 123);
  REQUIRE(lo_task != nullptr);
  CHECK(uvrun_future_done(uvrun_task_future(lo_task)));
  REQUIRE(reports.list.size() == 1);
  const t::Report &r = reports.list[0];
  CHECK(r.message == "unhandled exception during uvrun_run() shutdown");
  CHECK(r.task_name == uvrun_task_name(lo_task));
  CHECK(r.code == -EDOM);
  CHECK(r.error_message == "division by zero");
  CHECK_FALSE(r.has_future);  // exactly message, exception, task
  CHECK(r.asyncgen.empty());
  uvrun_task_unref(lo_task);
}

namespace {
// `fidget`: an async generator that yields 1, then sleeps 1 s, forever. Its
// frame is "gone" once an exception went through it.
struct Fidget {
  uvrun_asyncgen_t *gen = nullptr;
  bool frame_alive = false;  // ag_frame is not None
  bool running = false;      // ag_running
  bool aclosed = false;
};
int fidget_aclose(void *obj, uvrun_loop_t *loop, uvrun_future_t **out) {
  auto *g = static_cast<Fidget *>(obj);
  g->aclosed = true;
  g->frame_alive = false;
  g->gen = nullptr;
  int rc = uvrun_future_new(loop, out);
  if (rc == 0) uvrun_future_set_result(*out, nullptr, nullptr);
  return rc;
}
}  // namespace

TEST_CASE("A8 test_asyncio_run_closes_gens_after_hanging_tasks_errors (R47, R55)") {
  Fidget spinner;
  uvrun_task_t *lazyboy = nullptr;
  t::Reports reports;  // loop.call_exception_handler = mock.Mock()
  t::Options opts(reports);
  const int FANCY_EXIT = -20090;
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        lazyboy = t::spawn(uvrun_task_loop(task), [&](uvrun_task_t *spin, int step) {
          if (step == 0) {
            // async for ...: the first iteration registers the generator,
            // which yields 1 and then awaits sleep(1) inside its frame.
            REQUIRE(uvrun_asyncgen_register(uvrun_task_loop(spin), &spinner, "fidget", fidget_aclose, &spinner.gen) ==
                    0);
            spinner.frame_alive = true;
            spinner.running = true;
            return uvrun_task_await(spin, uvrun_sleep(spin, 1.0));
          }
          int r = uvrun_task_resume(spin, nullptr);
          if (r == UVRUN_E_CANCELLED) {
            // The CancelledError goes through the generator's frame and
            // finishes it; spin() catches it and divides by zero.
            spinner.running = false;
            spinner.frame_alive = false;
            uvrun_asyncgen_unregister(spinner.gen);
            spinner.gen = nullptr;
            return uvrun_task_raise(spin, new_error(-EDOM, "division by zero"));
          }
          return uvrun_task_await(spin, uvrun_sleep(spin, 1.0));
        });
        return uvrun_task_raise(task, new_error(FANCY_EXIT, "FancyExit"));
      },
      &opts);
  CHECK(rc == UVRUN_E_TASK_FAILED);
  CHECK(t::take_error().code == FANCY_EXIT);
  REQUIRE(lazyboy != nullptr);
  CHECK(uvrun_future_done(uvrun_task_future(lazyboy)));
  CHECK_FALSE(spinner.frame_alive);
  CHECK_FALSE(spinner.running);
  CHECK_FALSE(spinner.aclosed);  // it finished while its task unwound
  uvrun_task_unref(lazyboy);
}

TEST_CASE("A9 test_asyncio_run_set_event_loop (R16)") {
  uvrun_loop_t *current = nullptr, *running = nullptr;
  void *result = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) {
        if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
        current = uvrun_get_current_loop();
        running = uvrun_get_running_loop();
        return uvrun_task_return(task, t::iv(42));
      },
      nullptr, &result);
  CHECK(rc == 0);
  CHECK(t::vi(result) == 42);
  CHECK(running != nullptr);
  CHECK(current == running);  // set_event_loop was called
  CHECK(uvrun_get_current_loop() == nullptr);
}

TEST_CASE("A11 test_asyncio_run_loop_factory (R17)") {
  Fixture fx;
  t::Options opts(fx);
  uvrun_loop_t *seen = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        seen = uvrun_get_running_loop();
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(seen == fx.loop);
  fx.check_teardown();  // factory.assert_called_once_with()
}

TEST_CASE("A12 test_loop_factory_default_event_loop (R17, R18)") {
  t::Options opts;
  opts.loop_factory = [](void *, uvrun_loop_t **out) { return uvrun_loop_new(out); };
  bool running = false;
  bool current_set = true;
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        running = uvrun_get_running_loop() != nullptr;
        current_set = uvrun_get_current_loop() != nullptr;
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(running);
  CHECK_FALSE(current_set);  // a factory path never sets the current loop
}
