// Misuse of the C API, tasks and futures used wrongly, the executor after
// its shutdown began (R58), and the allocator set too late.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "misuse_support.h"

TEST_SUITE_BEGIN("misuse");

using namespace misuse;

// ---- executor -------------------------------------------------------------------------------------

namespace {
int job_sleep(void *, void **) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return 0;
}
}  // namespace

TEST_CASE("R58 run_in_executor after the executor shutdown started fails with 'Executor shutdown has been called'") {
  int late_rc = 1;
  std::string late_msg;
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_future_t *job = uvrun_run_in_executor(loop, job_sleep, nullptr);  // keeps the shutdown waiting
    REQUIRE(job != nullptr);
    uvrun_future_unref(job);
    // A leftover task that, once cancelled (R47 step 1), starts a task no
    // snapshot knows about; that one calls the executor during step 3.
    uvrun_task_t *leftover = t::spawn(
        loop,
        [&](uvrun_task_t *t, int step) -> int {
          if (step == 0) return uvrun_task_await(t, uvrun_sleep(t, 10.0));
          uvrun_task_t *late = t::spawn(
              uvrun_task_loop(t),
              [&](uvrun_task_t *l, int s) -> int {
                if (s == 0) return uvrun_task_await(l, uvrun_sleep(l, 0.1));
                uvrun_future_t *f = uvrun_run_in_executor(uvrun_task_loop(l), job_ok, nullptr);
                CHECK(f == nullptr);
                uvrun_error_t *err = uvrun_take_error();
                late_rc = uvrun_error_code(err);
                late_msg = uvrun_error_message(err);
                uvrun_error_unref(err);
                uvrun_future_unref(f);
                return 0;
              },
              "late");
          uvrun_task_unref(late);
          return uvrun_task_resume(t, nullptr);
        },
        "leftover");
    uvrun_task_unref(leftover);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(late_rc == UVRUN_E_EXECUTOR_SHUTDOWN);
  CHECK(late_msg == "Executor shutdown has been called");
}

// ---- tasks and futures used wrongly ------------------------------------------------------------------

namespace {
// Runs fn as the main task; expects TASK_FAILED and returns the error.
t::TakenError main_failure(std::function<int(uvrun_task_t *, int)> fn) {
  CHECK(t::run(std::move(fn)) == UVRUN_E_TASK_FAILED);
  return t::take_error();
}
}  // namespace

TEST_CASE("misuse: awaiting a future of another loop fails the task with INVAL") {
  uvrun_loop_t *other = t::new_loop();
  int freed = 0;
  auto failure =
      main_failure([&](uvrun_task_t *task, int) { return uvrun_task_await(task, counted_future(other, &freed)); });
  CHECK(failure.code == UVRUN_E_INVAL);
  CHECK(failure.message == "Task got Future attached to a different loop");
  CHECK(freed == 1);  // the foreign future was released
  CHECK(uvrun_loop_free(other) == 0);
}

TEST_CASE("misuse: a task awaiting itself fails with INVAL") {
  auto failure = main_failure(
      [&](uvrun_task_t *task, int) { return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(task))); });
  CHECK(failure.code == UVRUN_E_INVAL);
  CHECK(failure.message.rfind("Task cannot await on itself", 0) == 0);
}

TEST_CASE("misuse: a step returning UVRUN_SUSPEND without awaiting fails the task with INVALID_STATE") {
  auto failure = main_failure([&](uvrun_task_t *, int) { return UVRUN_SUSPEND; });
  CHECK(failure.code == UVRUN_E_INVALID_STATE);
  CHECK(failure.message.find("UVRUN_SUSPEND") != std::string::npos);
}

TEST_CASE("misuse: awaiting twice in one step fails with INVALID_STATE and releases both futures") {
  int freed_first = 0, freed_second = 0;
  auto failure = main_failure([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    CHECK(uvrun_task_await(task, counted_future(loop, &freed_first)) == UVRUN_SUSPEND);
    return uvrun_task_await(task, counted_future(loop, &freed_second));
  });
  CHECK(failure.code == UVRUN_E_INVALID_STATE);
  CHECK(freed_first == 1);
  CHECK(freed_second == 1);
}

TEST_CASE("misuse: a task's own sleep started outside its step steps it twice at once, within the ready queue's room") {
  // uvrun_task_sleep belongs in the task's step. Started from outside while
  // a step is queued, its timer queues a second one: more steps than the
  // words kept in reserve for them, so the ready queue grows for the extra
  // ones (ASan would see a write past its room).
  const int n = 200;
  int ended = 0;
  bool stop = false;
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      for (int i = 0; i < n; i++) {
        uvrun_task_t *child = t::spawn(loop, [&](uvrun_task_t *self, int) -> int {
          if (!stop) return uvrun_task_yield(self);
          ended++;
          return 0;
        });
        REQUIRE(child != nullptr);
        CHECK(uvrun_task_sleep(child, 0.001) == UVRUN_SUSPEND);  // not its step
        uvrun_task_unref(child);
      }
      return uvrun_task_sleep(task, 0.02);  // the timers fire while the children yield
    }
    if (step == 1) {
      stop = true;
      return uvrun_task_sleep(task, 0.01);
    }
    return 0;
  });
  CHECK(rc == 0);
  CHECK(ended == n);
}

TEST_CASE("misuse: completing a done future fails with INVALID_STATE and keeps the first outcome") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *fut = t::new_future(loop);
  int first = 1, second = 2, err_freed = 0;
  REQUIRE(uvrun_future_set_result(fut, &first, nullptr) == 0);
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_result(fut, &second, nullptr));
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_error_code(fut, UVRUN_E_INVAL, "late"));
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_error(fut, counted_error(&err_freed)));
  CHECK(err_freed == 1);
  CHECK(uvrun_future_cancel(fut, "late") == 0);
  void *value = nullptr;
  CHECK(uvrun_future_result(fut, &value) == 0);
  CHECK(value == &first);
  uvrun_future_unref(fut);

  // A pending future has no result yet.
  fut = t::new_future(loop);
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_result(fut, &value));
  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("misuse: a task's outcome cannot be set from outside") {
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_future_t *self = uvrun_task_future(task);
    CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_result(self, nullptr, nullptr));
    CHECK(std::string(uvrun_errmsg()) == "Task does not support set_result() operation");
    CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_error_code(self, UVRUN_E_INVAL, "x"));
    CHECK_FALSE(uvrun_future_done(self));
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("misuse: uvrun_set_allocator once objects exist fails with INVALID_STATE") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_allocator_t a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.malloc_fn = [](size_t n, void *) { return std::malloc(n); };
  a.realloc_fn = [](void *p, size_t n, void *) { return std::realloc(p, n); };
  a.free_fn = [](void *p, void *) { std::free(p); };
  uvrun_loop_close(nullptr);  // some other last error first
  CHECK(uvrun_set_allocator(&a) == UVRUN_E_INVALID_STATE);
  CHECK(std::string(uvrun_errmsg()) == "uvrun_set_allocator() must be called before any other uvrun call");
  CHECK(uvrun_set_allocator(nullptr) == UVRUN_E_INVALID_STATE);  // restoring too
  CHECK(uvrun_loop_free(loop) == 0);
}
