// Items of docs/semantics.md that need a test of their own: R1, R8, R14, R15, R21, R24,
// R28/R29, R60 and D4.
#include <doctest/doctest.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "runner_support.h"

TEST_SUITE_BEGIN("runner");

using namespace rt;

TEST_CASE("R1 one call runs a main task; a runner runs several on one loop") {
  void *result = nullptr;
  CHECK(t::run([](uvrun_task_t *task, int) { return uvrun_task_return(task, t::iv(1)); }, nullptr, &result) == 0);
  CHECK(t::vi(result) == 1);
  uvrun_runner_t *r;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *first = nullptr, *second = nullptr;
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          first = uvrun_task_loop(task);
          return finish(task);
        }) == 0);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          second = uvrun_task_loop(task);
          return finish(task);
        }) == 0);
  CHECK(first == second);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}

// Whether anything is left allocated is for LeakSanitizer to say: this
// suite runs in the ASan build too, which fails on any leak at exit.
TEST_CASE("R8 close releases the runner's context; a new runner starts from the caller's") {
  uvrun_contextvar_t *var;
  REQUIRE(uvrun_contextvar_new("v", 1, nullptr, &var) == 0);
  uvrun_token_t *tok;
  REQUIRE(uvrun_contextvar_set(var, t::iv(1), &tok) == 0);
  auto seen_then_set = [var](void **seen, intptr_t value) {
    return [var, seen, value](uvrun_task_t *task, int) {
      uvrun_contextvar_get(var, seen);
      uvrun_contextvar_set(var, t::iv(value), nullptr);
      return finish(task);
    };
  };
  void *first = nullptr, *second = nullptr, *fresh = nullptr;
  uvrun_runner_t *r;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  CHECK(runner_run(r, seen_then_set(&first, 2)) == 0);
  CHECK(runner_run(r, seen_then_set(&second, 3)) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  CHECK(runner_run(r, seen_then_set(&fresh, 4)) == 0);
  uvrun_runner_free(r);
  CHECK(t::vi(first) == 1);
  CHECK(t::vi(second) == 2);  // R31: kept across runs of one runner
  CHECK(t::vi(fresh) == 1);   // the closed runner's context is gone
  void *now = nullptr;
  uvrun_contextvar_get(var, &now);
  CHECK(t::vi(now) == 1);
  CHECK(uvrun_contextvar_reset(var, tok) == 0);
  uvrun_contextvar_free(var);
}

TEST_CASE("R14 D1 a rejected main task's state is released at once, never run") {
  uvrun_runner_t *r;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  REQUIRE(runner_run(r, [](uvrun_task_t *t, int) { return finish(t); }) == 0);  // initializes
  CHECK(uvrun_runner_close(r) == 0);
  static int freed, ran;
  freed = ran = 0;
  uvrun_task_opts_t o;
  uvrun_task_opts_init(&o);
  o.arg_free = [](void *) { freed++; };
  CHECK(uvrun_runner_run_task(
            r,
            [](uvrun_task_t *, void *) {
              ran++;
              return 0;
            },
            nullptr, &o, nullptr) == UVRUN_E_CLOSED);
  CHECK(freed == 1);
  CHECK(ran == 0);
  uvrun_runner_free(r);
}

TEST_CASE("R15 each runner owns a private loop, never libuv's default loop") {
  uvrun_runner_t *a, *b;
  REQUIRE(uvrun_runner_new(nullptr, &a) == 0);
  REQUIRE(uvrun_runner_new(nullptr, &b) == 0);
  uvrun_loop_t *la, *lb;
  REQUIRE(uvrun_runner_get_loop(a, &la) == 0);
  REQUIRE(uvrun_runner_get_loop(b, &lb) == 0);
  CHECK(la != lb);
  CHECK(uvrun_loop_get_uv(la) != uvrun_loop_get_uv(lb));
  CHECK(uvrun_loop_get_uv(la) != uv_default_loop());
  uvrun_runner_free(a);
  uvrun_runner_free(b);
  uv_loop_close(uv_default_loop());
}

TEST_CASE("R21 debug mode turned on while the loop runs applies from the next callback") {
  t::LogCapture log;
  uvrun_loop_t *loop;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  uvrun_loop_set_debug(loop, 0);
  uvrun_loop_set_slow_callback_duration(loop, 0.0);
  uvrun_loop_call_soon(
      loop, [](void *l) { uvrun_loop_set_debug(static_cast<uvrun_loop_t *>(l), 1); }, loop, nullptr);
  uvrun_future_t *f = uvrun_sleep_value(loop, 0.001, nullptr);
  CHECK(uvrun_loop_run_until_complete(loop, f, nullptr) == 0);
  uvrun_future_unref(f);
  // The callback that switched debug on was not timed; later ones were.
  CHECK(log.count("Executing <Handle") >= 1);
  CHECK(log.count("Executing") == log.count("Executing <Handle"));
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("R24 a NULL callback is rejected with the method's name") {
  uvrun_loop_t *loop;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  CHECK(uvrun_loop_call_soon(loop, nullptr, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "a callable object was expected by call_soon()");
  CHECK(uvrun_loop_call_at(loop, 0, nullptr, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "a callable object was expected by call_at()");
  CHECK(uvrun_loop_call_soon_threadsafe(loop, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "a callable object was expected by call_soon_threadsafe()");
  CHECK(uvrun_run_in_executor(loop, nullptr, nullptr) == nullptr);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("R28 R29 debug mode at a glance: slow callbacks, thread checks, creation sites, the Close log") {
  t::LogCapture log;
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  reports.install(&opts);
  uvrun_runner_t *r;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  int wrong_thread = 0;
  CHECK(runner_run(r, [&](uvrun_task_t *task, int step) {
          uvrun_loop_t *loop = uvrun_task_loop(task);
          if (step == 0) {
            uvrun_loop_set_slow_callback_duration(loop, 0.005);
            std::thread([&] {
              wrong_thread = uvrun_loop_call_soon(
                  loop, [](void *) {}, nullptr, nullptr);
            }).join();
            uvrun_task_opts_t o = UVRUN_TASK_OPTS_INIT;
            o.name = "failing";
            uvrun_task_t *child;
            uvrun_task_new(
                loop, [](uvrun_task_t *, void *) -> int { return UVRUN_E_TIMEDOUT; }, nullptr, &o, &child);
            uvrun_task_unref(child);  // never awaited: reported with its site
            auto t0 = std::chrono::steady_clock::now();
            while (since(t0) < 0.01) {
            }
            return uvrun_task_yield(task);
          }
          return finish(task);
        }) == 0);
  uvrun_runner_free(r);
  CHECK(wrong_thread == UVRUN_E_WRONG_THREAD);
  CHECK(log.count("Executing <Task") >= 1);
  CHECK(log.contains("Close <uvrun loop"));
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Task exception was never retrieved");
  CHECK(reports.list[0].task_name == "failing");
}

TEST_CASE("R60 each loop has its own executor: shutting one down leaves the other working") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  std::atomic<int> other_jobs{0};
  std::atomic<bool> first_closed{false};
  std::thread other([&] {
    uvrun_runner_t *r;
    REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
    // Keeps submitting jobs until the first runner has shut its executor down.
    CHECK(runner_run(r, [&](uvrun_task_t *task, int step) {
            if (step > 0 && uvrun_task_resume(task, nullptr) < 0) return -1;
            if (step > 0) other_jobs++;
            if (first_closed && step > 3) return finish(task);
            return uvrun_task_await(task, uvrun_run_in_executor(
                                              uvrun_task_loop(task), [](void *, void **) { return 0; }, nullptr));
          }) == 0);
    uvrun_runner_free(r);
  });
  CHECK(t::run([](uvrun_task_t *task, int step) {
          if (step == 0)
            return uvrun_task_await(task, uvrun_run_in_executor(
                                              uvrun_task_loop(task), [](void *, void **) { return 0; }, nullptr));
          return uvrun_task_resume(task, nullptr);
        }) == 0);
  first_closed = true;  // its executor is shut down and gone
  other.join();
  CHECK(other_jobs >= 4);
}

TEST_CASE("D4 R49 by default close waits for a slow cancellation without a deadline") {
  static bool cleaned;
  cleaned = false;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(t::run([](uvrun_task_t *task, int) {
          uvrun_task_unref(leftover(uvrun_task_loop(task), "slow-cleanup", [](uvrun_task_t *lo, int rc) -> int {
            static int phase;
            if (rc == UVRUN_E_CANCELLED && phase++ == 0) return uvrun_task_await(lo, uvrun_sleep(lo, 0.3));
            cleaned = true;
            return UVRUN_E_CANCELLED;
          }));
          return finish(task);
        }) == 0);
  CHECK(cleaned);
  CHECK(since(t0) >= 0.3);
}
