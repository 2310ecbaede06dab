// The awaitable executor shutdown, uvrun_shutdown_default_executor()
// (R58-R59), and its loop-running form.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <thread>

#include "support.h"

TEST_SUITE_BEGIN("executor");

namespace {

// A job that sleeps `ms`, then counts itself done.
struct SlowJob {
  int ms;
  std::atomic<int> done{0};
  static int work(void *ud, void **) {
    auto *job = static_cast<SlowJob *>(ud);
    std::this_thread::sleep_for(std::chrono::milliseconds(job->ms));
    ++job->done;
    return 0;
  }
  // Submitted, not awaited: the shutdown is what waits for it.
  void submit(uvrun_task_t *task) {
    uvrun_future_t *fut = uvrun_run_in_executor(uvrun_task_loop(task), work, this);
    REQUIRE(fut != nullptr);
    uvrun_future_unref(fut);
  }
};

const char *const kTimeoutWarning = "The executor did not finishing joining its threads within";

}  // namespace

TEST_CASE("R58 R59 a task awaits uvrun_shutdown_default_executor(): queued jobs finish first, then jobs are refused") {
  t::Options opts;
  opts.executor_max_workers = 1;
  SlowJob job{20};
  int awaited_rc = 1, done_at_resume = -1;
  std::string refusal;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          for (int i = 0; i < 3; i++) job.submit(task);
          return uvrun_task_await(task, uvrun_shutdown_default_executor(loop, 5.0));
        }
        awaited_rc = uvrun_task_resume(task, nullptr);
        done_at_resume = job.done.load();
        CHECK(uvrun_run_in_executor(loop, SlowJob::work, &job) == nullptr);
        refusal = uvrun_errmsg();
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(awaited_rc == 0);
  CHECK(done_at_resume == 3);
  CHECK(refusal == "Executor shutdown has been called");
}

TEST_CASE("R58 X3 an awaited shutdown's timeout warns with its seconds and the task goes on; the runner waits again") {
  // As asyncio: the timeout leaves the executor as it is, and the runner's
  // own shutdown_default_executor(300) joins its threads once more.
  t::LogCapture log;
  SlowJob job{500};
  double took = 0;
  int awaited_rc = 1, done_at_resume = -1;
  auto t0 = std::chrono::steady_clock::now();
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      job.submit(task);
      t0 = std::chrono::steady_clock::now();
      return uvrun_task_await(task, uvrun_shutdown_default_executor(uvrun_task_loop(task), 0.1));
    }
    awaited_rc = uvrun_task_resume(task, nullptr);
    took = t::since(t0);
    done_at_resume = job.done.load();
    return 0;
  });
  CHECK(rc == 0);
  CHECK(awaited_rc == 0);  // a warning, not an error
  CHECK(took >= 0.09);
  CHECK(took < 0.4);
  CHECK(done_at_resume == 0);
  CHECK(job.done.load() == 1);  // the runner's close waited for it
  CHECK(log.count(std::string(kTimeoutWarning) + " 0.1 seconds.") == 1);
  CHECK(log.contains("1 job still running, 0 queued."));
}

TEST_CASE("R58 two tasks await the shutdown at once, each with its own timeout") {
  t::LogCapture log;
  SlowJob job{400};
  double short_took = -1, long_took = -1;
  int done_at_long = -1;
  auto t0 = std::chrono::steady_clock::now();
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      job.submit(task);
      t0 = std::chrono::steady_clock::now();
      uvrun_task_t *impatient = t::spawn(loop, [&](uvrun_task_t *t, int s) -> int {
        if (s == 0) return uvrun_task_await(t, uvrun_shutdown_default_executor(uvrun_task_loop(t), 0.1));
        short_took = t::since(t0);
        return uvrun_task_resume(t, nullptr);
      });
      REQUIRE(impatient != nullptr);
      uvrun_task_unref(impatient);
      return uvrun_task_await(task, uvrun_shutdown_default_executor(loop, INFINITY));
    }
    long_took = t::since(t0);
    done_at_long = job.done.load();
    return uvrun_task_resume(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(short_took >= 0.09);
  CHECK(short_took < 0.3);
  CHECK(long_took >= 0.35);
  CHECK(done_at_long == 1);
  CHECK(log.count(kTimeoutWarning) == 1);
}

TEST_CASE("R58 cancelling a task that awaits the shutdown ends only its own wait") {
  t::LogCapture log;
  SlowJob job{300};
  uvrun_task_t *waiter = nullptr;
  int waiter_cancelled = -1, second_rc = 1, done_at_second = -1;
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    switch (step) {
    case 0:
      job.submit(task);
      waiter = t::spawn(loop, [](uvrun_task_t *t, int s) -> int {
        if (s == 0) return uvrun_task_await(t, uvrun_shutdown_default_executor(uvrun_task_loop(t), 5.0));
        return uvrun_task_resume(t, nullptr);
      });
      REQUIRE(waiter != nullptr);
      return uvrun_task_await(task, uvrun_sleep(task, 0.02));
    case 1: CHECK(uvrun_task_cancel(waiter, nullptr) == 1); return uvrun_task_await(task, uvrun_sleep(task, 0.02));
    case 2:
      waiter_cancelled = uvrun_future_cancelled(uvrun_task_future(waiter));
      uvrun_task_unref(waiter);
      CHECK(uvrun_run_in_executor(loop, SlowJob::work, &job) == nullptr);  // still shut down
      return uvrun_task_await(task, uvrun_shutdown_default_executor(loop, 5.0));
    default:
      second_rc = uvrun_task_resume(task, nullptr);
      done_at_second = job.done.load();
      return 0;
    }
  });
  CHECK(rc == 0);
  CHECK(waiter_cancelled == 1);
  CHECK(second_rc == 0);
  CHECK(done_at_second == 1);  // the shutdown went on: the second wait saw it end
  CHECK(log.lines.empty());
}

TEST_CASE(
    "R58 uvrun_loop_shutdown_default_executor() from a running task fails with ALREADY_RUNNING and starts nothing") {
  SlowJob job{1};
  int sync_rc = 1, job_rc = 1;
  std::string message;
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      sync_rc = uvrun_loop_shutdown_default_executor(loop, 1.0);
      message = uvrun_errmsg();
      return uvrun_task_await(task, uvrun_run_in_executor(loop, SlowJob::work, &job));
    }
    job_rc = uvrun_task_resume(task, nullptr);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(sync_rc == UVRUN_E_LOOP_ALREADY_RUNNING);
  CHECK(message == "This event loop is already running");
  CHECK(job_rc == 0);  // the executor still takes jobs
  CHECK(job.done.load() == 1);
}

TEST_CASE("R58 the shutdown step on a standalone loop: done at once without a pool or once it has ended") {
  uvrun_loop_t *loop = t::new_loop();
  SlowJob job{1};
  uvrun_future_t *none = uvrun_shutdown_default_executor(loop, 1.0);
  REQUIRE(none != nullptr);
  CHECK(uvrun_future_done(none));  // no pool was ever made
  uvrun_future_unref(none);
  CHECK(uvrun_run_in_executor(loop, SlowJob::work, &job) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_EXECUTOR_SHUTDOWN);
  CHECK(uvrun_loop_shutdown_default_executor(loop, 1.0) == 0);
  CHECK(uvrun_loop_free(loop) == 0);

  loop = t::new_loop();
  uvrun_future_unref(uvrun_run_in_executor(loop, SlowJob::work, &job));
  uvrun_future_t *fut = uvrun_shutdown_default_executor(loop, INFINITY);
  REQUIRE(fut != nullptr);
  CHECK(uvrun_loop_run_until_complete(loop, fut, nullptr) == 0);
  uvrun_future_unref(fut);
  CHECK(job.done.load() == 1);
  fut = uvrun_shutdown_default_executor(loop, 1.0);  // again: nothing left to wait for
  REQUIRE(fut != nullptr);
  CHECK(uvrun_future_done(fut));
  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("R58 the shutdown step refuses a NULL or closed loop and a bad timeout with a clear error") {
  uvrun_loop_t *loop = t::new_loop();
  for (double bad : {-1.0, static_cast<double>(NAN)}) {
    CAPTURE(bad);
    CHECK(uvrun_shutdown_default_executor(loop, bad) == nullptr);
    t::TakenError e = t::take_error();
    CHECK(e.code == UVRUN_E_INVAL);
    CHECK(e.message == "a loop and a timeout >= 0 are needed");
  }
  CHECK(uvrun_shutdown_default_executor(nullptr, 1.0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_loop_shutdown_default_executor(nullptr, 1.0) == UVRUN_E_INVAL);
  REQUIRE(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_shutdown_default_executor(loop, 1.0) == nullptr);
  t::TakenError e = t::take_error();
  CHECK(e.code == UVRUN_E_LOOP_CLOSED);
  CHECK(e.message == "Event loop is closed");
  CHECK(uvrun_loop_shutdown_default_executor(loop, 1.0) == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_loop_free(loop) == 0);
}
