// Test support for tasks handed across threads: a background runner for a
// test's scope, submitting a lambda, and counting the process's threads.
#pragma once
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "socket_support.h"
#include "support.h"

namespace th {

// A background runner for the scope of a test (started: REQUIRE).
struct Background {
  uvrun_background_t *bg = nullptr;
  explicit Background(const uvrun_options_t *opts = nullptr) { REQUIRE(uvrun_background_start(opts, &bg) == 0); }
  ~Background() { uvrun_background_free(bg); }
  uvrun_loop_t *loop() const { return uvrun_background_loop(bg); }
};

// Submits fn as a task to loop (the task owns the lambda); the future, or
// nullptr with the code in *rc.
inline uvrun_cfuture_t *submit(uvrun_loop_t *loop, std::function<int(uvrun_task_t *, int)> fn, int *rc = nullptr) {
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.arg_free = t::Lambda::destroy;
  uvrun_cfuture_t *cf = nullptr;
  int code = uvrun_submit_threadsafe(loop, t::Lambda::run, new t::Lambda{std::move(fn)}, &opts, &cf);
  if (rc != nullptr) *rc = code;
  return cf;
}

// The threads this process has.
inline int count_threads() { return sk::count_entries("/proc/self/task"); }

// Waits (up to 5 s) until flag is set.
inline bool wait_flag(const std::atomic<bool> &flag) {
  auto t0 = std::chrono::steady_clock::now();
  while (!flag.load()) {
    if (t::since(t0) > 5) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// How the submissions of a storm ended, counted by each future's done
// callback (or at submission, for those refused).
struct StormTally {
  std::atomic<long> submitted{0}, done{0}, cancelled{0}, closed{0}, refused{0}, callbacks{0};
};

inline int storm_noop(uvrun_task_t *task, void *) { return uvrun_task_return(task, nullptr); }

inline void storm_count(uvrun_cfuture_t *cf, void *ud) {
  auto *t = static_cast<StormTally *>(ud);
  t->callbacks++;
  if (uvrun_cfuture_cancelled(cf)) t->cancelled++;
  else if (uvrun_cfuture_result(cf, nullptr) == UVRUN_E_LOOP_CLOSED) t->closed++;
  else t->done++;
  uvrun_cfuture_unref(cf);
}

// `threads` threads each submit `each` tasks to a background runner (two in
// three end at once, one in three sleeps until cancelled, one in seven is
// cancelled by its submitter), and the runner is stopped once a quarter are
// in: the rest land on a loop shutting down, then closed. Checks that every
// submission ended exactly once.
inline void submission_storm(int threads, int each, StormTally &tally) {
  t::LogCapture logs;  // tasks still pending at the close are reported
  uvrun_background_t *bg = nullptr;
  REQUIRE(uvrun_background_start(nullptr, &bg) == 0);
  uvrun_loop_t *loop = uvrun_background_loop(bg);
  std::vector<std::thread> submitters;
  for (int i = 0; i < threads; i++)
    submitters.emplace_back([&] {
      for (int k = 0; k < each; k++) {
        if (k % 50 == 49) std::this_thread::sleep_for(std::chrono::microseconds(500));  // spread out
        tally.submitted++;
        uvrun_cfuture_t *cf = nullptr;
        if (k % 3) {
          uvrun_submit_threadsafe(loop, storm_noop, nullptr, nullptr, &cf);
        } else {
          cf = submit(loop, [](uvrun_task_t *task, int step) {
            if (step == 0) return uvrun_task_sleep(task, 10);  // left for the shutdown to cancel
            int rc = uvrun_task_resume(task, nullptr);
            return rc < 0 ? rc : uvrun_task_return(task, nullptr);
          });
        }
        if (cf == nullptr) {
          tally.refused++;
          continue;
        }
        if (k % 7 == 0) uvrun_cfuture_cancel(cf);
        uvrun_cfuture_add_done_callback(cf, storm_count, &tally);
      }
    });
  while (tally.submitted.load() < long(threads) * each / 4) std::this_thread::yield();
  CHECK(uvrun_background_stop(bg) == 0);
  for (auto &s : submitters) s.join();
  CHECK(uvrun_background_free(bg) == 0);
  CHECK(tally.callbacks.load() == tally.done + tally.cancelled + tally.closed);
  CHECK(tally.callbacks.load() + tally.refused.load() == long(threads) * each);
}

}  // namespace th
