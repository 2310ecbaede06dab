// Tasks handed to a loop in another thread (H1-H4): submission, the
// thread-safe future (waits, cancellation at each point, callbacks,
// awaiting from another loop, errors), loops that close first, and the
// background runner.
#include <doctest/doctest.h>
#include <signal.h>
#include <uvrun.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>

#include "c/socket_support.h"
#include "c/thread_support.h"
#include "support.h"

TEST_SUITE_BEGIN("threads");

namespace {

std::atomic<int> values_freed{0};
void free_value(void *p) {
  delete static_cast<int *>(p);
  values_freed++;
}

std::atomic<int> args_freed{0};
void count_arg_free(void *) { args_freed++; }

int noop_step(uvrun_task_t *task, void *) { return uvrun_task_return(task, nullptr); }

// A task that sleeps `seconds`, recording whether its sleep ended cancelled.
uvrun_cfuture_t *submit_sleeper(uvrun_loop_t *loop, double seconds, std::atomic<bool> *started,
                                std::atomic<int> *outcome) {
  return th::submit(loop, [=](uvrun_task_t *task, int step) {
    if (step == 0) {
      started->store(true);
      return uvrun_task_sleep(task, seconds);
    }
    int rc = uvrun_task_resume(task, nullptr);
    outcome->store(rc == 0 ? 1 : rc);
    return rc < 0 ? rc : uvrun_task_return(task, nullptr);
  });
}

}  // namespace

TEST_CASE("H1: a task submitted from another thread runs on the loop's thread and its value arrives") {
  th::Background bg;
  std::thread::id ran_on;
  values_freed = 0;
  uvrun_cfuture_t *cf = th::submit(bg.loop(), [&](uvrun_task_t *task, int) {
    ran_on = std::this_thread::get_id();
    return uvrun_task_return_owned(task, new int(42), free_value);
  });
  REQUIRE(cf != nullptr);
  REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);
  CHECK(uvrun_cfuture_done(cf));
  CHECK_FALSE(uvrun_cfuture_cancelled(cf));
  void *value = nullptr;
  REQUIRE(uvrun_cfuture_result(cf, &value) == 0);
  CHECK(*static_cast<int *>(value) == 42);
  CHECK(uvrun_cfuture_error(cf) == nullptr);
  CHECK(ran_on != std::this_thread::get_id());
  CHECK(values_freed == 0);  // the cfuture owns the value now
  uvrun_cfuture_unref(cf);
  // The loop's thread may still hold the last reference for a moment.
  auto t0 = std::chrono::steady_clock::now();
  while (values_freed == 0 && t::since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(values_freed == 1);
}

TEST_CASE("H1: the task runs in a copy of the submitting thread's context") {
  th::Background bg;
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("request", 0, nullptr, &var) == 0);
  uvrun_context_t *ctx = nullptr;
  REQUIRE(uvrun_context_new(&ctx) == 0);
  struct Probe {
    uvrun_contextvar_t *var;
    uvrun_loop_t *loop;
    intptr_t seen = -1;
    uvrun_cfuture_t *cf = nullptr;
  } probe{var, bg.loop()};
  uvrun_context_run(
      ctx,
      [](void *ud) {
        auto *p = static_cast<Probe *>(ud);
        REQUIRE(uvrun_contextvar_set(p->var, t::iv(7), nullptr) == 0);
        p->cf = th::submit(p->loop, [p](uvrun_task_t *task, int) {
          void *v = nullptr;
          p->seen = uvrun_contextvar_get(p->var, &v) == 0 ? t::vi(v) : -2;
          uvrun_contextvar_set(p->var, t::iv(8), nullptr);  // in the task's copy only
          return uvrun_task_return(task, nullptr);
        });
      },
      &probe);
  REQUIRE(probe.cf != nullptr);
  REQUIRE(uvrun_cfuture_wait(probe.cf, 5) == 0);
  CHECK(probe.seen == 7);
  void *mine = nullptr;
  REQUIRE(uvrun_context_get(ctx, var, &mine) == 0);
  CHECK(t::vi(mine) == 7);
  uvrun_cfuture_unref(probe.cf);
  uvrun_context_free(ctx);
  uvrun_contextvar_free(var);
}

TEST_CASE("H2: a blocking wait times out while the task runs, then sees it done") {
  th::Background bg;
  std::atomic<bool> started{false};
  std::atomic<int> outcome{0};
  uvrun_cfuture_t *cf = submit_sleeper(bg.loop(), 0.2, &started, &outcome);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(uvrun_cfuture_wait(cf, 0.02) == UVRUN_E_TIMEDOUT);
  CHECK(t::since(t0) >= 0.015);
  CHECK(std::string(uvrun_errmsg()).find("not done within") != std::string::npos);
  CHECK_FALSE(uvrun_cfuture_done(cf));
  void *value = nullptr;
  CHECK(uvrun_cfuture_result(cf, &value) == UVRUN_E_INVALID_STATE);
  CHECK(uvrun_cfuture_wait(cf, 5) == 0);
  CHECK(outcome == 1);
  CHECK(uvrun_cfuture_wait(cf, 0) == 0);  // done: no wait at all
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H2: a blocking wait with a timeout too long to count in nanoseconds waits for the task") {
  th::Background bg;
  for (double timeout : {HUGE_VAL, 1e300, 3e10}) {
    CAPTURE(timeout);
    std::atomic<bool> started{false};
    std::atomic<int> outcome{0};
    uvrun_cfuture_t *cf = submit_sleeper(bg.loop(), 0.05, &started, &outcome);
    CHECK(uvrun_cfuture_wait(cf, timeout) == 0);
    CHECK(outcome == 1);
    REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);  // the sleeper does not outlive its counters
    uvrun_cfuture_unref(cf);
  }
}

TEST_CASE("H2: a blocking wait on the loop's own thread fails at once instead of hanging") {
  int waited = 1, awaited = 1;
  double took = 1;
  REQUIRE(t::run([&](uvrun_task_t *task, int step) {
            static uvrun_cfuture_t *cf;
            if (step == 0) {
              cf = th::submit(uvrun_get_running_loop(),
                              [](uvrun_task_t *tk, int) { return uvrun_task_return(tk, t::iv(5)); });
              auto t0 = std::chrono::steady_clock::now();
              waited = uvrun_cfuture_wait(cf, -1);
              took = t::since(t0);
              // Awaiting it instead works on the same loop.
              return uvrun_task_await(task, uvrun_wrap_cfuture(uvrun_get_running_loop(), cf));
            }
            void *v = nullptr;
            awaited = uvrun_task_resume(task, &v) == 0 && v == t::iv(5) ? 0 : -1;
            uvrun_cfuture_unref(cf);
            return uvrun_task_return(task, nullptr);
          }) == 0);
  CHECK(waited == UVRUN_E_WOULD_DEADLOCK);
  CHECK(took < 0.1);
  CHECK(awaited == 0);
}

TEST_CASE("H2: a future cancelled before its task started never runs the task (asyncio gh-105836)") {
  th::Background bg;
  std::atomic<bool> release{false}, blocking{false}, ran{false};
  args_freed = 0;
  // The loop is held inside a step, so the submission below stays queued.
  uvrun_cfuture_t *blocker = th::submit(bg.loop(), [&](uvrun_task_t *task, int) {
    blocking = true;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return uvrun_task_return(task, nullptr);
  });
  REQUIRE(th::wait_flag(blocking));
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.arg_free = count_arg_free;
  uvrun_cfuture_t *cf = nullptr;
  REQUIRE(uvrun_submit_threadsafe(
              bg.loop(),
              [](uvrun_task_t *task, void *arg) {
                static_cast<std::atomic<bool> *>(arg)->store(true);
                return uvrun_task_return(task, nullptr);
              },
              &ran, &opts, &cf) == 0);
  CHECK(uvrun_cfuture_cancel(cf) == 1);
  CHECK(uvrun_cfuture_cancelled(cf));  // at once, as concurrent.futures
  CHECK(uvrun_cfuture_wait(cf, 0) == 0);
  CHECK(uvrun_cfuture_result(cf, nullptr) == UVRUN_E_CANCELLED);
  release = true;
  REQUIRE(uvrun_cfuture_wait(blocker, 5) == 0);
  uvrun_cfuture_t *marker =
      th::submit(bg.loop(), [](uvrun_task_t *task, int) { return uvrun_task_return(task, nullptr); });
  REQUIRE(uvrun_cfuture_wait(marker, 5) == 0);  // the cancelled submission's turn has passed
  CHECK_FALSE(ran);
  CHECK(args_freed == 1);
  uvrun_cfuture_unref(marker);
  uvrun_cfuture_unref(blocker);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H2: a future cancelled while its task runs cancels the task on its loop") {
  th::Background bg;
  std::atomic<bool> started{false};
  std::atomic<int> outcome{0};
  uvrun_cfuture_t *cf = submit_sleeper(bg.loop(), 100, &started, &outcome);
  REQUIRE(th::wait_flag(started));
  CHECK(uvrun_cfuture_cancel(cf) == 1);
  CHECK(uvrun_cfuture_cancelled(cf));
  uvrun_error_t *err = uvrun_cfuture_error(cf);
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == UVRUN_E_CANCELLED);
  uvrun_error_unref(err);
  auto t0 = std::chrono::steady_clock::now();
  while (outcome == 0 && t::since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(outcome == UVRUN_E_CANCELLED);  // the sleep ended cancelled, not at 100 s
  CHECK(uvrun_cfuture_cancel(cf) == 0);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H2: cancelling a done future returns 0 and keeps its value") {
  th::Background bg;
  uvrun_cfuture_t *cf =
      th::submit(bg.loop(), [](uvrun_task_t *task, int) { return uvrun_task_return(task, t::iv(3)); });
  REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);
  CHECK(uvrun_cfuture_cancel(cf) == 0);
  void *v = nullptr;
  CHECK(uvrun_cfuture_result(cf, &v) == 0);
  CHECK(v == t::iv(3));
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H2: done callbacks run once, on the completing thread, or at once when already done") {
  th::Background bg;
  struct Seen {
    std::atomic<int> calls{0};
    std::thread::id on;
  };
  Seen before, after;
  auto record = [](uvrun_cfuture_t *, void *ud) {
    auto *s = static_cast<Seen *>(ud);
    s->on = std::this_thread::get_id();
    s->calls++;
  };
  std::atomic<bool> go{false};
  uvrun_cfuture_t *cf = th::submit(bg.loop(), [&](uvrun_task_t *task, int) {
    while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return uvrun_task_return(task, nullptr);
  });
  REQUIRE(uvrun_cfuture_add_done_callback(cf, record, &before) == 0);
  go = true;
  REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);
  auto t0 = std::chrono::steady_clock::now();
  while (before.calls == 0 && t::since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(before.calls == 1);
  CHECK(before.on != std::this_thread::get_id());
  REQUIRE(uvrun_cfuture_add_done_callback(cf, record, &after) == 0);
  CHECK(after.calls == 1);
  CHECK(after.on == std::this_thread::get_id());
  CHECK(uvrun_cfuture_add_done_callback(cf, nullptr, nullptr) == UVRUN_E_INVAL);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H2: a task on another loop awaits the future without blocking its own loop") {
  th::Background bg;
  int ticks = 0, rc = 1;
  void *value = nullptr;
  REQUIRE(t::run([&](uvrun_task_t *task, int step) {
            static uvrun_cfuture_t *cf;
            static uvrun_task_t *ticker;
            if (step == 0) {
              cf = th::submit(bg.loop(), [](uvrun_task_t *tk, int s) {
                return s == 0 ? uvrun_task_sleep(tk, 0.1) : uvrun_task_return(tk, t::iv(9));
              });
              ticker = t::spawn(uvrun_get_running_loop(), [&](uvrun_task_t *tk, int s) {
                int rc = s == 0 ? 0 : uvrun_task_resume(tk, nullptr);
                if (rc < 0) return rc;  // cancelled
                ticks++;
                return uvrun_task_sleep(tk, 0.005);
              });
              return uvrun_task_await(task, uvrun_wrap_cfuture(uvrun_get_running_loop(), cf));
            }
            rc = uvrun_task_resume(task, &value);
            uvrun_task_cancel(ticker, nullptr);
            uvrun_task_unref(ticker);
            uvrun_cfuture_unref(cf);
            return uvrun_task_return(task, nullptr);
          }) == 0);
  CHECK(rc == 0);
  CHECK(value == t::iv(9));
  CHECK(ticks >= 5);  // the waiting loop ran its other task meanwhile
}

TEST_CASE("H2: cancelling the future a task awaits cancels the other loop's task") {
  th::Background bg;
  std::atomic<bool> started{false};
  std::atomic<int> outcome{0};
  int rc = 0;
  uvrun_cfuture_t *cf = submit_sleeper(bg.loop(), 100, &started, &outcome);
  REQUIRE(t::run([&](uvrun_task_t *task, int step) {
            if (step == 0)
              return uvrun_task_await(task, uvrun_wait_for(uvrun_wrap_cfuture(uvrun_get_running_loop(), cf), 0.05));
            rc = uvrun_task_resume(task, nullptr);
            return uvrun_task_return(task, nullptr);
          }) == 0);
  CHECK(rc == UVRUN_E_TIMEDOUT);
  CHECK(uvrun_cfuture_cancelled(cf));
  auto t0 = std::chrono::steady_clock::now();
  while (outcome == 0 && t::since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(outcome == UVRUN_E_CANCELLED);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H2: a task's error arrives intact: code, message and payload") {
  th::Background bg;
  static int payload = 0;
  uvrun_cfuture_t *cf = th::submit(bg.loop(), [](uvrun_task_t *task, int) {
    return uvrun_task_raise(task, uvrun_error_new(-EPERM, "not allowed here", &payload, nullptr));
  });
  REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);
  CHECK(uvrun_cfuture_result(cf, nullptr) == -EPERM);
  CHECK(std::string(uvrun_errmsg()) == "not allowed here");
  uvrun_error_t *err = uvrun_cfuture_error(cf);
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == -EPERM);
  CHECK(uvrun_error_payload(err) == &payload);
  uvrun_error_unref(err);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H3: a submission to a loop that closes before its task starts ends with LOOP_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  args_freed = 0;
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.arg_free = count_arg_free;
  uvrun_cfuture_t *cf = nullptr;
  std::thread other([&] { REQUIRE(uvrun_submit_threadsafe(loop, noop_step, nullptr, &opts, &cf) == 0); });
  other.join();
  CHECK_FALSE(uvrun_cfuture_done(cf));
  uvrun_future_t *keep = t::new_future(loop);  // the loop's memory, for the call below
  REQUIRE(uvrun_loop_free(loop) == 0);
  CHECK(uvrun_cfuture_done(cf));
  CHECK(uvrun_cfuture_result(cf, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(args_freed == 1);
  // Submitting to the closed loop fails at once; the argument is freed.
  uvrun_cfuture_t *late = nullptr;
  CHECK(uvrun_submit_threadsafe(loop, noop_step, nullptr, &opts, &late) == UVRUN_E_LOOP_CLOSED);
  CHECK(late == nullptr);
  CHECK(args_freed == 2);
  uvrun_future_unref(keep);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H3: a task still running when its runner stops ends cancelled") {
  std::atomic<bool> started{false};
  std::atomic<int> outcome{0};
  uvrun_cfuture_t *cf;
  {
    th::Background bg;
    cf = submit_sleeper(bg.loop(), 100, &started, &outcome);
    REQUIRE(th::wait_flag(started));
    CHECK(uvrun_background_stop(bg.bg) == 0);
  }
  CHECK(uvrun_cfuture_wait(cf, 0) == 0);
  CHECK(uvrun_cfuture_cancelled(cf));
  CHECK(outcome == UVRUN_E_CANCELLED);  // R47: cancelled and awaited
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H3: a task left pending when a bare loop closes ends cancelled") {
  uvrun_loop_t *loop = t::new_loop();
  t::LogCapture logs;
  std::atomic<bool> started{false};
  std::atomic<int> outcome{0};
  uvrun_cfuture_t *cf = submit_sleeper(loop, 100, &started, &outcome);
  uvrun_future_t *tick = uvrun_sleep_value(loop, 0.01, nullptr);
  REQUIRE(uvrun_loop_run_until_complete(loop, tick, nullptr) == 0);
  uvrun_future_unref(tick);
  CHECK(started);
  REQUIRE(uvrun_loop_free(loop) == 0);
  CHECK(uvrun_cfuture_cancelled(cf));
  uvrun_error_t *err = uvrun_cfuture_error(cf);
  REQUIRE(err != nullptr);
  CHECK(std::string(uvrun_error_message(err)) == "the loop closed before the task finished");
  CHECK(logs.contains("Task was destroyed but it is pending!"));  // as asyncio reports it
  uvrun_error_unref(err);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("H4: a background runner starts, takes work, stops once and leaves no thread or fd") {
  uvrun_release_memory();  // the idle libuv loops kept for reuse (L2)
  int threads = th::count_threads(), fds = sk::count_fds();
  struct sigaction before = {}, during = {};
  sigaction(SIGINT, nullptr, &before);
  uvrun_background_t *bg = nullptr;
  REQUIRE(uvrun_background_start(nullptr, &bg) == 0);
  REQUIRE(uvrun_background_loop(bg) != nullptr);
  uvrun_cfuture_t *cf = th::submit(uvrun_background_loop(bg), [](uvrun_task_t *task, int step) {
    if (step == 0) return uvrun_task_sleep(task, 0.01);
    return uvrun_task_return(task, t::iv(1));
  });
  REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);
  sigaction(SIGINT, nullptr, &during);
  CHECK((during.sa_handler == before.sa_handler));  // its Ctrl-C handling is off
  CHECK(uvrun_background_stop(bg) == 0);
  CHECK(uvrun_background_stop(bg) == 0);  // idempotent
  int rc = 0;
  uvrun_cfuture_t *late = th::submit(
      uvrun_background_loop(bg), [](uvrun_task_t *task, int) { return uvrun_task_return(task, nullptr); }, &rc);
  CHECK(late == nullptr);
  CHECK(rc == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_background_free(bg) == 0);
  uvrun_cfuture_unref(cf);
  uvrun_release_memory();
  CHECK(th::count_threads() == threads);
  CHECK(sk::count_fds() == fds);
}

TEST_CASE("H4: stopping or freeing a background runner from its own thread fails with WOULD_DEADLOCK") {
  th::Background bg;
  int stop_rc = 0, free_rc = 0;
  uvrun_background_t *self = bg.bg;
  uvrun_cfuture_t *cf = th::submit(bg.loop(), [&](uvrun_task_t *task, int) {
    stop_rc = uvrun_background_stop(self);
    free_rc = uvrun_background_free(self);
    return uvrun_task_return(task, nullptr);
  });
  REQUIRE(uvrun_cfuture_wait(cf, 5) == 0);
  CHECK(stop_rc == UVRUN_E_WOULD_DEADLOCK);
  CHECK(free_rc == UVRUN_E_WOULD_DEADLOCK);
  uvrun_cfuture_unref(cf);
}

TEST_CASE("E: submissions and thread-safe futures refuse NULL with INVAL") {
  uvrun_cfuture_t *cf = nullptr;
  args_freed = 0;
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.arg_free = count_arg_free;
  CHECK(uvrun_submit_threadsafe(nullptr, noop_step, nullptr, &opts, &cf) == UVRUN_E_INVAL);
  CHECK(args_freed == 1);
  CHECK(uvrun_submit_threadsafe(nullptr, nullptr, nullptr, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_cfuture_wait(nullptr, 0) == UVRUN_E_INVAL);
  CHECK(uvrun_cfuture_result(nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_cfuture_cancel(nullptr) == 0);
  CHECK_FALSE(uvrun_cfuture_done(nullptr));
  CHECK(uvrun_cfuture_error(nullptr) == nullptr);
  CHECK(uvrun_wrap_cfuture(nullptr, nullptr) == nullptr);
  CHECK(uvrun_background_start(nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_background_stop(nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_background_loop(nullptr) == nullptr);
  uvrun_cfuture_unref(nullptr);
}

TEST_CASE("H1 H3: 8 threads submit while the loop runs and stops: every submission ends exactly once") {
  th::StormTally tally;
  th::submission_storm(8, 5000, tally);  // 100,000 each: the reliability suite
  MESSAGE("done ", tally.done.load(), ", cancelled ", tally.cancelled.load(), ", loop closed ", tally.closed.load(),
          ", refused ", tally.refused.load());
}
