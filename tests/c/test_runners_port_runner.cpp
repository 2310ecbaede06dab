// The port of CPython's test_runners.py through the C API, part 2:
// RunnerTests (A13-A24, A29, A30) but for the interrupt tests. What is
// ported how, and the `Fixture` loop factory: test_runners_port_run.cpp.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <chrono>
#include <string>
#include <vector>

#include "runner_support.h"

TEST_SUITE_BEGIN("runner");

using namespace rt;

// ---- RunnerTests ----------------------------------------------------------

TEST_CASE("A13 test_non_debug (R20)") {
  t::Options opts;
  opts.debug = UVRUN_DEBUG_OFF;
  CHECK_FALSE(runner_loop_debug(&opts));
}

TEST_CASE("A14 test_debug (R20)") {
  t::LogCapture log;
  t::Options opts;
  opts.debug = UVRUN_DEBUG_ON;
  CHECK(runner_loop_debug(&opts));
}

TEST_CASE("A15 test_custom_factory (R5, R17)") {
  Fixture fx;
  uvrun_runner_t *r = fx.new_runner();
  CHECK(loop_of(r) == fx.loop);
  CHECK(loop_of(r) == fx.loop);  // again
  close_and_free(r);
  fx.check_teardown();
}

TEST_CASE("A16 test_run (R3, R7, R61)") {
  static const char done[] = "done";
  Fixture fx;
  uvrun_runner_t *r = fx.new_runner();
  void *result = nullptr;
  int rc = runner_run(
      r,
      [](uvrun_task_t *task, int step) {
        if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
        return uvrun_task_return(task, const_cast<char *>(done));
      },
      &result);
  CHECK(rc == 0);
  CHECK(result == done);
  CHECK(loop_of(r) == fx.loop);
  CHECK(uvrun_runner_close(r) == 0);  // leaving the with block
  check_closed(r);
  CHECK(fx.loop_closed());
  uvrun_runner_free(r);
  fx.check_teardown();
}

TEST_CASE("A17 test_run_non_coro (R11, R12)") {
  Fixture fx;
  uvrun_runner_t *r = fx.new_runner();
  CHECK(uvrun_runner_run(r, nullptr, t::iv(123), nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("an awaitable is required") != std::string::npos);
  CHECK(fx.made == 1);  // 3.14 order: lazy init first
  CHECK(uvrun_runner_run_future(r, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("an awaitable is required") != std::string::npos);
  close_and_free(r);
  fx.check_teardown();
}

TEST_CASE("A18 test_run_future (R11)") {
  static const char done[] = "done";
  uvrun_runner_t *r = new_runner();
  uvrun_loop_t *loop = loop_of(r);
  uvrun_future_t *fut = t::new_future(loop);
  REQUIRE(uvrun_future_set_result(fut, const_cast<char *>(done), nullptr) == 0);
  void *result = nullptr;
  CHECK(uvrun_runner_run_future(r, fut, &result) == 0);  // takes the reference
  CHECK(result == done);
  close_and_free(r);
}

TEST_CASE("A19 test_run_awaitable (R11)") {
  // MyAwaitable: something awaitable that is not the main coroutine itself.
  // Here a task's future, which the runner wraps in a main task awaiting it.
  static const char done[] = "done";
  uvrun_runner_t *r = new_runner();
  uvrun_loop_t *loop = loop_of(r);
  uvrun_task_t *inner =
      t::spawn(loop, [](uvrun_task_t *task, int) { return uvrun_task_return(task, const_cast<char *>(done)); });
  REQUIRE(inner != nullptr);
  void *result = nullptr;
  CHECK(uvrun_runner_run_future(r, uvrun_task_future(inner), &result) == 0);
  CHECK(result == done);
  close_and_free(r);
}

TEST_CASE("A20 test_explicit_close (R3, R7, R61)") {
  Fixture fx;
  uvrun_runner_t *r = fx.new_runner();
  loop_of(r);
  CHECK(uvrun_runner_close(r) == 0);
  check_closed(r);
  CHECK(fx.loop_closed());
  uvrun_runner_free(r);
  fx.check_teardown();
}

TEST_CASE("A21 test_double_close (R6)") {
  Fixture fx;
  uvrun_runner_t *r = fx.new_runner();
  loop_of(r);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.loop_closed());
  CHECK(uvrun_runner_close(r) == 0);  // the second call is a no-op
  CHECK(fx.loop_closed());
  CHECK(fx.made == 1);
  uvrun_runner_free(r);
  fx.check_teardown();
}

TEST_CASE("A22 test_second_with_block_raises (R7)") {
  std::vector<int> ret;
  auto f = [&](int arg) {
    return [&ret, arg](uvrun_task_t *task, int) {
      ret.push_back(arg);
      return uvrun_task_return(task, nullptr);
    };
  };
  uvrun_runner_t *r = new_runner();
  loop_of(r);  // with runner:
  CHECK(runner_run(r, f(1)) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  // The second `with runner:` fails in __enter__; its body never runs.
  check_closed(r);
  CHECK(runner_run(r, f(2)) == UVRUN_E_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(ret == std::vector<int>{1});
  uvrun_runner_free(r);
}

TEST_CASE("A23 test_run_keeps_context (R31)") {
  uvrun_contextvar_t *cvar = nullptr;
  REQUIRE(uvrun_contextvar_new("cvar", 1, t::iv(-1), &cvar) == 0);
  auto f = [&](intptr_t val) {
    return [cvar, val](uvrun_task_t *task, int step) {
      void *old = nullptr;
      if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
      uvrun_contextvar_get(cvar, &old);
      uvrun_contextvar_set(cvar, t::iv(val), nullptr);
      return uvrun_task_return(task, old);
    };
  };
  uvrun_runner_t *r = new_runner();
  void *result = nullptr;
  CHECK(runner_run(r, f(1), &result) == 0);
  CHECK(t::vi(result) == -1);
  CHECK(runner_run(r, f(2), &result) == 0);
  CHECK(t::vi(result) == 1);
  // get_context(): return contextvars.copy_context()
  uvrun_context_t *ctx = nullptr;
  CHECK(runner_run(
            r,
            [](uvrun_task_t *task, int) {
              uvrun_context_t *copy = nullptr;
              int rc = uvrun_context_copy_current(&copy);
              if (rc < 0) return rc;
              return uvrun_task_return(task, copy);
            },
            reinterpret_cast<void **>(&ctx)) == 0);
  REQUIRE(ctx != nullptr);
  void *v = nullptr;
  CHECK(uvrun_context_get(ctx, cvar, &v) == 0);
  CHECK(t::vi(v) == 2);
  close_and_free(r);
  uvrun_context_free(ctx);
  uvrun_contextvar_free(cvar);
}

TEST_CASE("A24 test_recursive_run (R10)") {
  bool g_ran = false;
  t::Lambda g{[&](uvrun_task_t *task, int) {
    g_ran = true;
    return uvrun_task_return(task, nullptr);
  }};
  uvrun_runner_t *r = new_runner();
  std::string msg;
  int rc = runner_run(r, [&](uvrun_task_t *, int) {
    int inner = uvrun_runner_run(r, t::Lambda::run, &g, nullptr, nullptr);
    msg = uvrun_errmsg();
    return inner;
  });
  CHECK(rc == UVRUN_E_TASK_FAILED);
  t::TakenError err = t::take_error();
  CHECK(err.code == UVRUN_E_LOOP_RUNNING);
  CHECK(err.message == "uvrun_runner_run() cannot be called from a running event loop");
  CHECK(msg == "uvrun_runner_run() cannot be called from a running event loop");
  CHECK_FALSE(g_ran);
  close_and_free(r);
}

TEST_CASE("A29 test_set_event_loop_called_once (R16)") {
  // The current loop is set once, at lazy init, not at every run(): with a
  // second runner initialized in between, the first runner's runs leave the
  // second's loop current.
  auto noop = [](uvrun_task_t *task, int) { return uvrun_task_return(task, nullptr); };
  uvrun_runner_t *a = new_runner(), *b = new_runner();
  CHECK(runner_run(a, noop) == 0);
  CHECK(uvrun_get_current_loop() == loop_of(a));
  uvrun_loop_t *lb = loop_of(b);
  CHECK(uvrun_get_current_loop() == lb);
  CHECK(runner_run(a, noop) == 0);
  CHECK(runner_run(a, noop) == 0);
  CHECK(uvrun_get_current_loop() == lb);
  CHECK(uvrun_runner_close(b) == 0);
  CHECK(uvrun_get_current_loop() == nullptr);
  CHECK(uvrun_runner_close(a) == 0);
  CHECK(uvrun_get_current_loop() == nullptr);
  uvrun_runner_free(a);
  uvrun_runner_free(b);
}

namespace {
struct MyResult {
  int *destroyed;
};
void my_result_free(void *p) {
  auto *res = static_cast<MyResult *>(p);
  (*res->destroyed)++;
  delete res;
}
}  // namespace

TEST_CASE("A30 test_no_repr_is_call_on_the_task_result (R36)") {
  int destroyed = 0;
  MyResult *made = nullptr;
  uvrun_runner_t *r = new_runner();
  void *result = nullptr;
  CHECK(runner_run(
            r,
            [&](uvrun_task_t *task, int) {
              made = new MyResult{&destroyed};
              return uvrun_task_return_owned(task, made, my_result_free);
            },
            &result) == 0);
  close_and_free(r);
  CHECK(result == made);  // the same object, handed over
  CHECK(destroyed == 0);  // never touched by the runner
  my_result_free(result);
  CHECK(destroyed == 1);
}
