// Regression tests for the bugs the fuzzer and the allocation-failure sweep
// found (docs/reliability.md lists them). Leaks show in the ASan build
// (LeakSanitizer) and under valgrind.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <utility>

#include "support.h"

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define UVRUN_TEST_LSAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define UVRUN_TEST_LSAN 1
#endif
#ifdef UVRUN_TEST_LSAN
#  include <sanitizer/lsan_interface.h>
#endif

namespace {

// Runs fn as uvrun_run's main task, with a short X2 deadline (close gives up
// on what cannot be cancelled) and the logs kept quiet; fn's tasks may be
// left in await cycles. The run must return 0 (CHECK).
void run_abandoning(std::function<int(uvrun_task_t *, int)> fn) {
  t::Options opts;
  opts.cancel_timeout = 0.05;
  t::LogCapture logs;
  CHECK(t::run(std::move(fn), &opts) == 0);
}

// A task whose first step awaits the task *other (read when that step
// runs, so it may be spawned later), and whose next step re-raises.
uvrun_task_t *spawn_awaiting(uvrun_loop_t *loop, uvrun_task_t *const *other) {
  return t::spawn(loop, [other](uvrun_task_t *k, int s) -> int {
    if (s == 0) return uvrun_task_await(k, uvrun_task_future(uvrun_task_ref(*other)));
    return uvrun_task_resume(k, nullptr);
  });
}

void stop_loop(void *loop) { uvrun_loop_stop(static_cast<uvrun_loop_t *>(loop)); }

}  // namespace

TEST_CASE("regression: cancelling a task that awaits a gather of itself does not recurse forever") {
  // Was: gather_cancel -> task cancel -> waiter (the gather) cancel -> ...
  // until the stack overflowed (found by the fuzzer).
  int cancel_rc = -1;
  run_abandoning([&](uvrun_task_t *main, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(main);
    static uvrun_task_t *self_gather;
    if (step == 0) {
      self_gather = t::spawn(loop, [](uvrun_task_t *k, int s) -> int {
        if (s == 0) {
          uvrun_future_t *me = uvrun_task_future(k);
          return uvrun_task_await(k, uvrun_gather(uvrun_task_loop(k), &me, 1, 0));
        }
        return uvrun_task_resume(k, nullptr);
      });
      return uvrun_task_yield(main);
    }
    cancel_rc = uvrun_task_cancel(self_gather, nullptr);
    uvrun_task_unref(self_gather);
    return 0;
  });
  CHECK(cancel_rc == 1);
}

TEST_CASE("regression: cancelling tasks that await each other does not recurse forever") {
  run_abandoning([](uvrun_task_t *main, int step) -> int {
    static uvrun_task_t *a, *b;
    if (step == 0) {
      a = spawn_awaiting(uvrun_task_loop(main), &b);
      b = spawn_awaiting(uvrun_task_loop(main), &a);
      return uvrun_task_yield(main);
    }
    CHECK(uvrun_task_cancel(a, "stop") == 1);
    uvrun_task_unref(a);
    uvrun_task_unref(b);
    return 0;
  });
}

TEST_CASE("regression: a cancel message handed down an await cycle is not used after it is freed") {
  // Was: task_step passed task->cancel_msg down to the awaited wait_for,
  // whose inner task cancelled the first task again, freeing that very
  // string while it was still in use (heap-use-after-free, found by the
  // fuzzer).
  run_abandoning([](uvrun_task_t *main, int step) -> int {
    static uvrun_task_t *a, *b;
    if (step == 0) {
      b = spawn_awaiting(uvrun_task_loop(main), &a);
      a = t::spawn(uvrun_task_loop(main), [](uvrun_task_t *k, int s) -> int {
        if (s == 0) {
          uvrun_task_cancel(k, "a message");  // must_cancel with a message, then await
          return uvrun_task_await(k, uvrun_wait_for(uvrun_task_future(uvrun_task_ref(b)), 10));
        }
        return uvrun_task_resume(k, nullptr);
      });
      return uvrun_task_await(main, uvrun_sleep(main, 0.01));
    }
    uvrun_task_unref(a);
    uvrun_task_unref(b);
    return 0;
  });
}

TEST_CASE("regression: wait_any with a child still pending at loop close frees both") {
  // Was: the pending child's done callback held the wait_any future, which
  // held the child: a cycle nothing broke at loop close (a leak, found by
  // the allocation-failure sweep's live-block count).
  int rc = t::run([](uvrun_task_t *main, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(main);
    if (step == 0) {
      uvrun_future_t *slow = uvrun_sleep(main, 30), *fast = uvrun_sleep(main, 0);
      uvrun_future_t *both[] = {slow, fast};
      uvrun_future_t *any = uvrun_wait_any(loop, both, 2);
      uvrun_future_unref(slow);
      uvrun_future_unref(fast);
      return uvrun_task_await(main, any);
    }
    void *v = nullptr;
    CHECK(uvrun_task_resume(main, &v) == 0);
    CHECK(v == t::iv(1));
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("regression: a task dropped pending at loop close releases what it awaits") {
  // Was: a task abandoned in an await cycle (awaiting a gather of itself)
  // kept the gather, and the gather the task: leaked at loop close.
  uvrun_loop_t *loop = t::new_loop();
  uvrun_task_t *task = t::spawn(loop, [](uvrun_task_t *k, int s) -> int {
    if (s == 0) {
      uvrun_future_t *me = uvrun_task_future(k);
      return uvrun_task_await(k, uvrun_gather(uvrun_task_loop(k), &me, 1, 1));
    }
    return 0;
  });
  REQUIRE(task != nullptr);
  REQUIRE(uvrun_loop_call_later(loop, 0.01, stop_loop, loop, nullptr) == 0);
  uvrun_future_t *never = t::new_future(loop);
  CHECK(uvrun_loop_run_until_complete(loop, never, nullptr) == UVRUN_E_LOOP_STOPPED);
  uvrun_future_unref(never);
  uvrun_task_unref(task);
  t::LogCapture logs;
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(logs.contains("Task was destroyed but it is pending!"));
}

#ifdef UVRUN_TEST_LSAN
TEST_CASE("R61: a loop closed while its executor workers start and run leaves nothing to LeakSanitizer") {
  // Close detaches the pool without waiting (R61): its jobs are then held
  // by workers that may not have started yet (the pool reachable only as a
  // thread's start argument), or that run, queue or orphan them. A leak
  // check at that moment -- libFuzzer runs one after an input -- must find
  // every job reachable.
  auto busy = [](void *ud, void **) -> int {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(reinterpret_cast<uintptr_t>(ud));
    while (std::chrono::steady_clock::now() < until) {
    }
    return 0;
  };
  int reports = 0;
  for (int i = 0; i < 300; i++) {
    uvrun_loop_t *loop = t::new_loop();
    for (uintptr_t us = 0; us < 8; us++) {
      uvrun_future_t *fut = uvrun_run_in_executor(loop, busy, reinterpret_cast<void *>(us));
      REQUIRE(fut != nullptr);
      uvrun_future_unref(fut);
    }
    REQUIRE(uvrun_loop_free(loop) == 0);
    reports += __lsan_do_recoverable_leak_check() != 0;
  }
  CHECK(reports == 0);
}
#endif
