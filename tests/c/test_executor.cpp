// The loop's own thread pool (D8, R58-R61, X3, X7).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("executor");

namespace {

using Work = std::function<int(void **)>;

// A job whose body is a lambda; the Work must outlive the job.
int call_work(void *ud, void **result) { return (*static_cast<Work *>(ud))(result); }

uvrun_future_t *submit(uvrun_task_t *task, Work *work) {
  return uvrun_run_in_executor(uvrun_task_loop(task), call_work, work);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs one job as the main task and returns what resume reported.
struct Outcome {
  int rc = 1;
  void *value = nullptr;
  std::string message;
};
Outcome await_one(Work *work, const uvrun_options_t *opts = nullptr) {
  Outcome out;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) return uvrun_task_await(task, submit(task, work));
        out.rc = uvrun_task_resume(task, &out.value);
        if (out.rc < 0) out.message = uvrun_error_message(uvrun_task_resume_error(task));
        return uvrun_task_return(task, nullptr);
      },
      opts);
  CHECK(rc == 0);
  return out;
}

}  // namespace

TEST_CASE("D8 run_in_executor runs fn on a worker thread and completes with its result") {
  std::thread::id worker;
  Work work = [&](void **result) {
    worker = std::this_thread::get_id();
    *result = t::iv(42);
    return 0;
  };
  Outcome out = await_one(&work);
  CHECK(out.rc == 0);
  CHECK(out.value == t::iv(42));
  CHECK(worker != std::thread::id());
  CHECK(worker != std::this_thread::get_id());
}

TEST_CASE("D8 a failing job's code and recorded message reach the awaiting task") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("job_var", 0, nullptr, &var) == 0);
  Work work = [&](void **result) { return uvrun_contextvar_get(var, result); };
  Outcome out = await_one(&work);
  CHECK(out.rc == UVRUN_E_NOTFOUND);
  CHECK(out.message == "<ContextVar name='job_var'>");
  uvrun_contextvar_free(var);
}

TEST_CASE("D8 a bare error code gets its standard text") {
  Work timedout = [](void **) { return (int)UVRUN_E_TIMEDOUT; };
  Outcome out = await_one(&timedout);
  CHECK(out.rc == UVRUN_E_TIMEDOUT);
  CHECK(out.message == "timed out");

  Work pipe = [](void **) { return -EPIPE; };  // no uvrun name: libuv's text
  out = await_one(&pipe);
  CHECK(out.rc == -EPIPE);
  CHECK(out.message == "broken pipe");
}

TEST_CASE("D8 an earlier job's message is not reused for a later job's bare code") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("first", 0, nullptr, &var) == 0);
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 1;  // both jobs on the same thread
  std::string first, second;
  Work fails_with_message = [&](void **result) { return uvrun_contextvar_get(var, result); };
  Work fails_bare = [](void **) { return (int)UVRUN_E_NOTFOUND; };
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        void *v = nullptr;
        switch (step) {
        case 0: return uvrun_task_await(task, submit(task, &fails_with_message));
        case 1:
          CHECK(uvrun_task_resume(task, &v) == UVRUN_E_NOTFOUND);
          first = uvrun_error_message(uvrun_task_resume_error(task));
          return uvrun_task_await(task, submit(task, &fails_bare));
        default:
          CHECK(uvrun_task_resume(task, &v) == UVRUN_E_NOTFOUND);
          second = uvrun_error_message(uvrun_task_resume_error(task));
          return uvrun_task_return(task, nullptr);
        }
      },
      &opts);
  CHECK(rc == 0);
  CHECK(first == "<ContextVar name='first'>");
  CHECK(second == "no value set for the context variable");
  uvrun_contextvar_free(var);
}

TEST_CASE("D8 more jobs than workers all complete") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 2;
  constexpr int n = 50;
  Work work = [](void **result) {
    *result = t::iv(1);
    return 0;
  };
  std::vector<uvrun_future_t *> futs;
  int sum = 0;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          for (int i = 0; i < n; i++) {
            uvrun_future_t *f = submit(task, &work);
            CHECK(f != nullptr);
            futs.push_back(f);
          }
          return uvrun_task_await(task, uvrun_gather(uvrun_task_loop(task), futs.data(), n, 0));
        }
        void *v = nullptr;
        CHECK(uvrun_task_resume(task, &v) == 0);
        for (auto f : futs) {
          CHECK(uvrun_future_result(f, &v) == 0);
          sum += (int)t::vi(v);
          uvrun_future_unref(f);
        }
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(sum == n);
}

TEST_CASE("D8 executor_max_workers bounds how many jobs run at once") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 3;
  std::atomic<int> now{0}, peak{0};
  Work work = [&](void **) {
    int cur = ++now;
    int p = peak.load();
    while (cur > p && !peak.compare_exchange_weak(p, cur)) {
    }
    sleep_ms(50);
    --now;
    return 0;
  };
  std::vector<uvrun_future_t *> futs;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          for (int i = 0; i < 12; i++) futs.push_back(submit(task, &work));
          return uvrun_task_await(task, uvrun_gather(uvrun_task_loop(task), futs.data(), futs.size(), 0));
        }
        void *v = nullptr;
        CHECK(uvrun_task_resume(task, &v) == 0);
        for (auto f : futs) uvrun_future_unref(f);
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(peak.load() == 3);
}

TEST_CASE("R59 jobs queued before shutdown still run") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 1;
  std::atomic<int> done{0};
  Work work = [&](void **) {
    sleep_ms(10);
    ++done;
    return 0;
  };
  int rc = t::run(
      [&](uvrun_task_t *task, int) -> int {
        // Not awaited: shutdown is what waits for them.
        for (int i = 0; i < 5; i++) uvrun_future_unref(submit(task, &work));
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(done.load() == 5);
}

TEST_CASE("R58 X3 a shutdown timeout warns, names the running jobs and returns promptly") {
  t::LogCapture logs;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_shutdown_timeout = 0.2;
  std::atomic<bool> finished{false};
  Work slow = [&](void **result) {
    sleep_ms(1000);
    *result = t::iv(1);
    finished = true;
    return 0;
  };
  auto t0 = std::chrono::steady_clock::now();
  int rc = t::run(
      [&](uvrun_task_t *task, int) -> int {
        uvrun_future_unref(submit(task, &slow));
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  double took = seconds_since(t0);
  CHECK(rc == 0);
  CHECK(took >= 0.19);
  CHECK(took < 0.9);
  CHECK_FALSE(finished.load());
  CHECK(logs.contains("The executor did not finishing joining its threads within 0.2 seconds."));
  CHECK(logs.contains("1 job still running"));
  // The late completion happens after the loop is gone: under ASan this
  // proves it touches no freed memory.
  sleep_ms(1200);
  CHECK(finished.load());
}

TEST_CASE("R58 run_in_executor during shutdown fails with EXECUTOR_SHUTDOWN") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  Work slow = [](void **) {
    sleep_ms(300);
    return 0;
  };
  Work never = [](void **) { return 0; };
  struct Probe {
    uvrun_loop_t *loop;
    Work *work;
    bool fired = false;
    bool got_null = false;
    std::string message;
  } probe{nullptr, &never};
  auto late = [](void *ud) {
    auto *p = static_cast<Probe *>(ud);
    p->fired = true;
    uvrun_future_t *f = uvrun_run_in_executor(p->loop, call_work, p->work);
    p->got_null = f == nullptr;
    p->message = uvrun_errmsg();
    uvrun_future_unref(f);
  };
  int rc = t::run(
      [&](uvrun_task_t *task, int) -> int {
        probe.loop = uvrun_task_loop(task);
        uvrun_future_unref(submit(task, &slow));  // keeps the shutdown waiting
        CHECK(uvrun_loop_call_later(probe.loop, 0.1, late, &probe, nullptr) == 0);
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(probe.fired);
  CHECK(probe.got_null);
  CHECK(probe.message == "Executor shutdown has been called");
}

TEST_CASE("D8 run_in_executor on a closed loop fails with LOOP_CLOSED") {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  REQUIRE(uvrun_loop_close(loop) == 0);
  Work never = [](void **) { return 0; };
  CHECK(uvrun_run_in_executor(loop, call_work, &never) == nullptr);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  uvrun_loop_free(loop);
}

TEST_CASE("D8 run_in_executor with NULL arguments fails with INVAL") {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  CHECK(uvrun_run_in_executor(nullptr, call_work, nullptr) == nullptr);
  CHECK(std::string(uvrun_errmsg()).find("loop") != std::string::npos);
  CHECK(uvrun_run_in_executor(loop, nullptr, nullptr) == nullptr);
  CHECK(std::string(uvrun_errmsg()).find("fn") != std::string::npos);
  uvrun_loop_free(loop);
}

TEST_CASE("D8 a future cancelled meanwhile ignores the job's result") {
  std::atomic<bool> ran{false};
  Work work = [&](void **result) {
    sleep_ms(50);
    *result = t::iv(1);
    ran = true;
    return 0;
  };
  uvrun_future_t *fut = nullptr;
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      fut = submit(task, &work);
      CHECK(uvrun_future_cancel(fut, "changed my mind") == 1);
      return uvrun_task_await(task, uvrun_sleep(task, 0.15));
    }
    void *v = nullptr;
    CHECK(uvrun_task_resume(task, &v) == 0);
    CHECK(uvrun_future_cancelled(fut));
    uvrun_future_unref(fut);
    return uvrun_task_return(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(ran.load());
}

TEST_CASE("R61 a loop closed under running jobs is never touched by their completions") {
  std::atomic<int> done{0};
  Work slow = [&](void **) {
    sleep_ms(150);
    ++done;
    return 0;
  };
  Work quick = [&](void **) {
    ++done;
    return 0;
  };
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  uvrun_future_t *a = uvrun_run_in_executor(loop, call_work, &slow);
  uvrun_future_t *b = uvrun_run_in_executor(loop, call_work, &quick);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  sleep_ms(50);  // b's completion is posted, and never runs
  uvrun_future_unref(a);
  uvrun_future_unref(b);
  CHECK(uvrun_loop_free(loop) == 0);
  sleep_ms(300);  // a finishes with its loop gone
  CHECK(done.load() == 2);
}

TEST_CASE("X7 to_thread carries the caller's context into the worker") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("request", 0, nullptr, &var) == 0);
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 1;  // the second job reuses the first one's thread
  intptr_t seen_first = 0, seen_second = 0, main_after = 0;
  Work first = [&](void **) {
    void *v = nullptr;
    seen_first = uvrun_contextvar_get(var, &v) < 0 ? -1 : t::vi(v);
    return uvrun_contextvar_set(var, t::iv(99), nullptr);  // stays in the job's copy
  };
  Work second = [&](void **) {
    void *v = nullptr;
    int rc = uvrun_contextvar_get(var, &v);
    seen_second = rc < 0 ? rc : t::vi(v);
    return 0;
  };
  uvrun_token_t *tok = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        void *v = nullptr;
        switch (step) {
        case 0:
          CHECK(uvrun_contextvar_set(var, t::iv(7), &tok) == 0);
          return uvrun_task_await(task, submit(task, &first));
        case 1:
          CHECK(uvrun_task_resume(task, &v) == 0);
          CHECK(uvrun_contextvar_get(var, &v) == 0);
          main_after = t::vi(v);
          CHECK(uvrun_contextvar_reset(var, tok) == 0);
          return uvrun_task_await(task, submit(task, &second));
        default: CHECK(uvrun_task_resume(task, &v) == 0); return uvrun_task_return(task, nullptr);
        }
      },
      &opts);
  CHECK(rc == 0);
  CHECK(seen_first == 7);
  CHECK(main_after == 7);
  CHECK(seen_second == UVRUN_E_NOTFOUND);
  uvrun_contextvar_free(var);
}
