// uvrun_run() and the runner through the C API, part 1: the runner's states,
// entry checks, loop factory and debug switch (R2-R20 of docs/semantics.md).
// Part 2 (contexts, results, errors) is test_runner_run.cpp, part 3
// (shutdown, threads, fork, X2) test_runner_close.cpp; the port of CPython's
// test_runners.py is test_runners_port_*.cpp.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runner_support.h"

TEST_SUITE_BEGIN("runner");

using namespace rt;

// ---- A. states --------------------------------------------------------------

TEST_CASE("R2 uvrun_runner_new only allocates: no loop, no factory call, no current loop") {
  Factory fx;
  uvrun_runner_t *r = fx.new_runner();
  CHECK(fx.calls == 0);
  CHECK(uvrun_get_current_loop() == nullptr);
  uvrun_runner_free(r);
  CHECK(fx.calls == 0);

  uvrun_runner_t *d = nullptr;  // the default path too
  REQUIRE(uvrun_runner_new(nullptr, &d) == 0);
  CHECK(uvrun_get_current_loop() == nullptr);
  uvrun_runner_free(d);
}

TEST_CASE("R3 get_loop initializes once; later calls return the same loop") {
  Factory fx;
  uvrun_runner_t *r = fx.new_runner();
  uvrun_loop_t *a = nullptr, *b = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &a) == 0);
  REQUIRE(uvrun_runner_get_loop(r, &b) == 0);
  CHECK(a == b);
  CHECK(a == fx.loop);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return finish(task); }) == 0);
  CHECK(fx.calls == 1);
  close_and_free(r);
}

TEST_CASE("R3 run, run_future and get_loop on a closed runner fail with Runner is closed") {
  uvrun_runner_t *r = new_runner();
  uvrun_loop_t *loop = loop_of(r);
  uvrun_future_t *fut = t::new_future(loop);
  CHECK(uvrun_runner_close(r) == 0);
  bool ran = false;
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          ran = true;
          return finish(task);
        }) == UVRUN_E_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(uvrun_runner_run_future(r, fut, nullptr) == UVRUN_E_CLOSED);  // takes fut's reference
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  CHECK(loop == nullptr);
  CHECK_FALSE(ran);
  uvrun_runner_free(r);
}

TEST_CASE("R4 init order: the factory's loop gets the debug option, then the caller's context is snapshotted") {
  Factory fx;
  fx.debug = 1;  // the factory makes a debug loop
  t::Options opts;
  opts.debug = UVRUN_DEBUG_OFF;  // applied after the factory: wins
  fx.install(&opts);
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r4", 1, t::iv(0), &var) == 0);
  uvrun_token_t *tok = nullptr;
  REQUIRE(uvrun_contextvar_set(var, t::iv(1), &tok) == 0);  // before init: seen
  uvrun_runner_t *r = new_runner(&opts);
  uvrun_loop_t *loop = loop_of(r);
  CHECK_FALSE(uvrun_loop_get_debug(loop));
  uvrun_token_t *tok2 = nullptr;
  REQUIRE(uvrun_contextvar_set(var, t::iv(2), &tok2) == 0);  // after init: not seen
  void *seen = nullptr;
  CHECK(runner_run(
            r,
            [&](uvrun_task_t *task, int) {
              void *v = nullptr;
              uvrun_contextvar_get(var, &v);
              return uvrun_task_return(task, v);
            },
            &seen) == 0);
  CHECK(t::vi(seen) == 1);
  close_and_free(r);
  uvrun_contextvar_reset(var, tok2);
  uvrun_contextvar_reset(var, tok);
  uvrun_contextvar_free(var);
}

TEST_CASE("R6 close on a never-initialized runner does nothing and keeps it usable") {
  Factory fx;
  uvrun_runner_t *r = fx.new_runner();
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.calls == 0);
  void *result = nullptr;
  CHECK(runner_run(
            r, [](uvrun_task_t *task, int) { return uvrun_task_return(task, t::iv(5)); }, &result) == 0);
  CHECK(t::vi(result) == 5);
  CHECK(fx.made == 1);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.loop_closed());
  uvrun_runner_free(r);
}

TEST_CASE("R6 uvrun_runner_free on a CREATED runner frees it without building a loop") {
  Factory fx;
  uvrun_runner_t *r = fx.new_runner();
  uvrun_runner_free(r);
  CHECK(fx.calls == 0);
  uvrun_runner_free(nullptr);  // NULL-safe
}

TEST_CASE("R7 a close whose shutdown fails still leaves the runner CLOSED and the loop closed") {
  Factory fx;
  t::Reports reports;
  t::Options opts(fx, reports);
  uvrun_runner_t *r = new_runner(&opts);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) {
          leave_kbd_interrupt(uvrun_task_loop(task));
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == UVRUN_E_INTERRUPTED);
  CHECK(fx.loop_closed());
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  CHECK(uvrun_runner_close(r) == 0);  // idempotent
  uvrun_runner_free(r);
}

// ---- B. entry checks ----------------------------------------------------------

TEST_CASE("R12 the running-loop check comes first: closed and fresh runners both say running loop") {
  Factory fx;
  t::Options opts(fx);
  uvrun_runner_t *fresh = new_runner(&opts), *closed = new_runner();
  loop_of(closed);
  REQUIRE(uvrun_runner_close(closed) == 0);
  uvrun_runner_t *outer = new_runner();
  int rc_fresh = 0, rc_closed = 0, rc_null = 0;
  std::string msg_fresh, msg_closed;
  CHECK(runner_run(outer, [&](uvrun_task_t *task, int) {
          rc_fresh = runner_run(fresh, [](uvrun_task_t *t2, int) { return finish(t2); });
          msg_fresh = uvrun_errmsg();
          rc_closed = runner_run(closed, [](uvrun_task_t *t2, int) { return finish(t2); });
          msg_closed = uvrun_errmsg();
          rc_null = uvrun_runner_run(fresh, nullptr, nullptr, nullptr, nullptr);
          return finish(task);
        }) == 0);
  CHECK(rc_fresh == UVRUN_E_LOOP_RUNNING);
  CHECK(msg_fresh == "uvrun_runner_run() cannot be called from a running event loop");
  CHECK(rc_closed == UVRUN_E_LOOP_RUNNING);
  CHECK(msg_closed == "uvrun_runner_run() cannot be called from a running event loop");
  CHECK(rc_null == UVRUN_E_LOOP_RUNNING);
  CHECK(fx.calls == 0);  // rejected before lazy init
  close_and_free(outer);
  uvrun_runner_free(closed);
  uvrun_runner_free(fresh);
}

TEST_CASE("R12 lazy init comes before the argument check: a NULL step on a closed runner says Runner is closed") {
  uvrun_runner_t *r = new_runner();
  loop_of(r);
  REQUIRE(uvrun_runner_close(r) == 0);
  CHECK(uvrun_runner_run(r, nullptr, nullptr, nullptr, nullptr) == UVRUN_E_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  uvrun_runner_free(r);
}

TEST_CASE("R13 uvrun_run with a NULL step still builds the loop and shuts it down fully") {
  Factory fx;
  Gen gen;
  bool soon_ran = false;
  fx.on_loop = [&](uvrun_loop_t *loop) {
    gen.reg(loop, "sentinel");
    uvrun_loop_call_soon(
        loop, [](void *ud) { *static_cast<bool *>(ud) = true; }, &soon_ran, nullptr);
  };
  t::Options opts(fx);
  CHECK(uvrun_run(nullptr, nullptr, &opts, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("an awaitable is required") != std::string::npos);
  CHECK(fx.made == 1);
  CHECK(gen.closes == 1);  // shutdown_asyncgens ran
  CHECK(soon_ran);         // close iterated the loop
  CHECK(fx.loop_closed());
  CHECK(uvrun_get_current_loop() == nullptr);
}

TEST_CASE("R9 uvrun_run from inside a running loop creates nothing and leaves the step unrun") {
  Factory fx;
  t::Options opts(fx);
  bool inner_ran = false;
  int rc_inner = 0;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          t::Lambda inner{[&](uvrun_task_t *t2, int) {
            inner_ran = true;
            return finish(t2);
          }};
          rc_inner = uvrun_run(t::Lambda::run, &inner, &opts, nullptr);
          CHECK(std::string(uvrun_errmsg()) == "uvrun_run() cannot be called from a running event loop");
          return finish(task);
        }) == 0);
  CHECK(rc_inner == UVRUN_E_LOOP_RUNNING);
  CHECK(fx.calls == 0);
  CHECK_FALSE(inner_ran);
}

// ---- C. loop factory -------------------------------------------------------------

TEST_CASE("R17 the loop factory is called exactly once per runner, with its data") {
  Factory fx;
  uvrun_runner_t *r = fx.new_runner();
  uvrun_loop_t *seen = nullptr;
  for (int i = 0; i < 3; i++)
    CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
            seen = uvrun_get_running_loop();
            return finish(task);
          }) == 0);
  uvrun_loop_t *loop = loop_of(r);
  CHECK(fx.calls == 1);
  CHECK(fx.seen_ud == &fx);
  CHECK(seen == fx.loop);
  CHECK(loop == fx.loop);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.loop_closed());  // the runner owns and closes the factory's loop
  uvrun_runner_free(r);
}

TEST_CASE("R17 a failing loop factory leaves the runner CREATED and a later call retries") {
  Factory fx;
  fx.fail_calls = 1;
  fx.fail_code = -EMFILE;
  t::Options opts(fx);
  uvrun_runner_t *r = new_runner(&opts);
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == -EMFILE);
  CHECK(loop == nullptr);
  CHECK(fx.made == 0);
  CHECK(uvrun_runner_close(r) == 0);            // still CREATED: close is a no-op
  CHECK(uvrun_runner_get_loop(r, &loop) == 0);  // and it is not CLOSED
  CHECK(fx.calls == 2);
  CHECK(loop == fx.loop);
  close_and_free(r);

  fx.fail_calls = 1;  // through uvrun_run: the error comes back as is
  fx.calls = 0;
  bool ran = false;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              ran = true;
              return finish(task);
            },
            &opts) == -EMFILE);
  CHECK_FALSE(ran);
  CHECK(fx.calls == 1);
}

TEST_CASE("R17 R20 debug DEFAULT leaves the factory loop's debug setting alone") {
  t::Env env("UVRUN_DEBUG");
  env.unset();
  t::LogCapture log;
  for (int fdebug : {0, 1}) {
    Factory fx;
    fx.debug = fdebug;
    t::Options opts(fx);
    CHECK(runner_loop_debug(&opts) == fdebug);
  }
}

// ---- D. debug switch ---------------------------------------------------------------

TEST_CASE("R19 UVRUN_DEBUG is read at loop construction: 1, true, yes turn debug on; unset, empty, 0 do not") {
  t::Env env("UVRUN_DEBUG");
  t::LogCapture log;
  struct Case {
    const char *value;
    int debug;
  };
  for (Case c : {Case{"1", 1}, Case{"true", 1}, Case{"yes", 1}, Case{"", 0}, Case{"0", 0}}) {
    CAPTURE(c.value);
    env.set(c.value);
    CHECK(runner_loop_debug(nullptr) == c.debug);
  }
  env.unset();
  CHECK(runner_loop_debug(nullptr) == 0);

  // Read when the loop is made, not when the runner is: set it in between.
  uvrun_runner_t *r = new_runner();
  env.set("1");
  uvrun_loop_t *loop = loop_of(r);
  CHECK(uvrun_loop_get_debug(loop) == 1);
  env.unset();  // and later changes do not touch a made loop
  CHECK(runner_run(r, [](uvrun_task_t *task, int) {
          return uvrun_task_return(task, t::iv(uvrun_loop_get_debug(uvrun_task_loop(task))));
        }) == 0);
  CHECK(uvrun_loop_get_debug(loop) == 1);
  close_and_free(r);
}

TEST_CASE("R20 debug ON and OFF override UVRUN_DEBUG; an invalid value is rejected") {
  t::Env env("UVRUN_DEBUG");
  t::LogCapture log;
  env.set("yes");
  t::Options opts;
  opts.debug = UVRUN_DEBUG_OFF;
  CHECK(t::main_loop_debug(&opts) == 0);
  env.unset();
  opts.debug = UVRUN_DEBUG_ON;
  CHECK(t::main_loop_debug(&opts) == 1);
  opts.debug = 7;
  uvrun_runner_t *r = nullptr;
  CHECK(uvrun_runner_new(&opts, &r) == UVRUN_E_INVAL);
  CHECK(r == nullptr);
}
