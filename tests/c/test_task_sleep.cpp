// uvrun_task_sleep: a task sleeping on its own timer behaves as one awaiting
// uvrun_sleep() -- wakes at the deadline, is cancelled at once (R51), is
// cancelled with what is left at shutdown (R54) -- without a future.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <chrono>
#include <cmath>
#include <string>

#include "support.h"

TEST_SUITE_BEGIN("tasks");

TEST_CASE("uvrun_task_sleep wakes the task at the deadline, with nothing to resume") {
  static double slept;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static double start;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      start = uvrun_loop_time(loop);
      return uvrun_task_sleep(task, 0.02);
    }
    slept = uvrun_loop_time(loop) - start;
    void *value = t::iv(1);
    CHECK(uvrun_task_resume(task, &value) == 0);
    CHECK(value == nullptr);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(slept >= 0.019);
  CHECK(slept < 1.0);
}

TEST_CASE("R35 uvrun_task_sleep of 0 or less yields: what was queued before runs first (asyncio.sleep(0))") {
  static std::string order;
  order.clear();
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      uvrun_task_unref(t::spawn(uvrun_task_loop(task), [](uvrun_task_t *, int) -> int {
        order += "b";
        return 0;
      }));
      order += "a";
      return uvrun_task_sleep(task, -1);
    }
    order += "c";
    return uvrun_task_resume(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(order == "abc");
}

TEST_CASE("R51 cancelling a sleeping task wakes it at once with the message") {
  static double woke_after;
  static bool saw_cancel;
  saw_cancel = false;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *child;
    static double start;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    switch (step) {
    case 0:
      child = t::spawn(loop, [](uvrun_task_t *c, int s) -> int {
        if (s == 0) return uvrun_task_sleep(c, 10);
        int rc = uvrun_task_resume(c, nullptr);
        saw_cancel = rc == UVRUN_E_CANCELLED && std::string(uvrun_errmsg()) == "stop";
        return rc;
      });
      return uvrun_task_yield(task);  // let the child start sleeping
    case 1:
      start = uvrun_loop_time(loop);
      CHECK(uvrun_task_cancel(child, "stop") == 1);
      CHECK(uvrun_task_cancel(child, "again") == 1);  // still pending: counted
      CHECK(uvrun_task_cancelling(child) == 2);
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(child)));
    default:
      woke_after = uvrun_loop_time(loop) - start;
      CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED);
      CHECK(uvrun_future_cancelled(uvrun_task_future(child)));
      uvrun_task_unref(child);
      return 0;
    }
  });
  CHECK(rc == 0);
  CHECK(saw_cancel);  // the first message: the second cancel came too late to change it
  CHECK(woke_after < 1.0);
}

TEST_CASE("R51 a task that cancels itself after it began to sleep, in the same step, wakes at once cancelled") {
  // As cancelling the sleep future it would otherwise await: the next step
  // resumes with CancelledError and the message.
  static double woke_after;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static double start;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      start = uvrun_loop_time(loop);
      int rc = uvrun_task_sleep(task, 10);
      CHECK(uvrun_task_cancel(task, "bye") == 1);
      CHECK(uvrun_task_cancel(task, "late") == 1);  // on its way in already: counted only
      return rc;
    }
    woke_after = uvrun_loop_time(loop) - start;
    CHECK(uvrun_task_cancelling(task) == 2);
    int rc = uvrun_task_resume(task, nullptr);
    CHECK(rc == UVRUN_E_CANCELLED);
    CHECK(std::string(uvrun_errmsg()) == "bye");
    CHECK(std::string(uvrun_error_message(uvrun_task_resume_error(task))) == "bye");
    return rc;
  });
  CHECK(rc == UVRUN_E_CANCELLED);
  CHECK(std::string(uvrun_errmsg()) == "bye");
  CHECK(woke_after < 1.0);
}

TEST_CASE("R51 a task that cancels its own sleep and then returns ends cancelled") {
  // The step never saw the cancellation: as a cancel right before a step
  // finishes, it cancels the task (asyncio's __step).
  int rc = t::run([](uvrun_task_t *task, int) -> int {
    CHECK(uvrun_task_sleep(task, 10) == UVRUN_SUSPEND);
    CHECK(uvrun_task_cancel(task, "bye") == 1);
    return uvrun_task_return(task, t::iv(7));
  });
  CHECK(rc == UVRUN_E_CANCELLED);
  CHECK(std::string(uvrun_errmsg()) == "bye");
}

TEST_CASE("R51 uncancel after a sleep was cancelled still delivers the cancellation, as a cancelled future") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *child;
    switch (step) {
    case 0:
      child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int s) -> int {
        if (s == 0) return uvrun_task_sleep(c, 10);
        return uvrun_task_resume(c, nullptr);
      });
      return uvrun_task_yield(task);
    case 1:
      CHECK(uvrun_task_cancel(child, nullptr) == 1);
      CHECK(uvrun_task_uncancel(child) == 0);
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(child)));
    default:
      CHECK(uvrun_future_cancelled(uvrun_task_future(child)));
      uvrun_task_unref(child);
      return uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED ? 0 : -1;
    }
  });
  CHECK(rc == 0);
}

TEST_CASE("R51 a task that swallows a cancelled sleep can sleep again and wakes on time") {
  // The cancelled timer stays queued until it reaches the top of the heap
  // (an earlier timer keeps it below): the second sleep must not reuse it.
  static double second;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static double start;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    switch (step) {
    case 0:
      REQUIRE(uvrun_loop_call_later(
                  loop, 0.01, [](void *) {}, nullptr, nullptr) == 0);
      uvrun_task_cancel(task, nullptr);
      return uvrun_task_sleep(task, 0.05);
    case 1:
      CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED);
      CHECK(uvrun_task_uncancel(task) == 0);
      start = uvrun_loop_time(loop);
      return uvrun_task_sleep(task, 0.2);  // outlives the first deadline
    case 2:
      second = uvrun_loop_time(loop) - start;
      CHECK(uvrun_task_resume(task, nullptr) == 0);
      return uvrun_task_sleep(task, 0.001);  // and a third, after a normal wake-up
    default: return uvrun_task_resume(task, nullptr);
    }
  });
  CHECK(rc == 0);
  CHECK(second >= 0.19);  // not woken by the cancelled sleep's deadline
  CHECK(second < 2.0);
}

TEST_CASE("R54 a task left sleeping is cancelled at shutdown, not waited for") {
  static uvrun_task_t *sleeper;
  auto start = std::chrono::steady_clock::now();
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    if (step > 0) return 0;  // it is sleeping now
    sleeper = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int s) -> int {
      if (s == 0) return uvrun_task_sleep(c, 30);
      return uvrun_task_resume(c, nullptr);
    });
    return uvrun_task_yield(task);
  });
  CHECK(rc == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(uvrun_future_cancelled(uvrun_task_future(sleeper)));
  uvrun_task_unref(sleeper);
}

TEST_CASE("uvrun_task_sleep misuse: NULL, NaN, a second wait in one step, finishing instead of suspending") {
  CHECK(uvrun_task_sleep(nullptr, 1) == UVRUN_E_INVAL);
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_loop_stats_t stats{};
    stats.size = sizeof stats;
    switch (step) {
    case 0: {
      uvrun_task_t *child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int) -> int {
        CHECK(uvrun_task_sleep(c, NAN) == UVRUN_E_INVAL);
        CHECK(std::string(uvrun_errmsg()) == "sleep needs a number of seconds, not NaN");
        CHECK(uvrun_task_sleep(c, 5) == UVRUN_SUSPEND);
        CHECK(uvrun_task_sleep(c, 5) == UVRUN_E_INVALID_STATE);
        CHECK(uvrun_task_yield(c) == UVRUN_E_INVALID_STATE);
        uvrun_future_t *f = nullptr;
        REQUIRE(uvrun_future_new(uvrun_task_loop(c), &f) == 0);
        CHECK(uvrun_task_await(c, f) == UVRUN_E_INVALID_STATE);  // f released
        return 0;                                                // finishes instead of suspending: the sleep is dropped
      });
      return uvrun_task_await(task, uvrun_task_future(child));
    }
    case 1: return uvrun_task_yield(task);  // the cancelled timer leaves the heap
    default:
      REQUIRE(uvrun_loop_stats(uvrun_task_loop(task), &stats) == 0);
      CHECK(stats.timers == 0);
      return uvrun_task_resume(task, nullptr);
    }
  });
  CHECK(rc == 0);
}
