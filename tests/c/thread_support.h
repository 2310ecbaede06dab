// Test support for tasks handed across threads: a background runner for a
// test's scope, submitting a lambda, and counting the process's threads.
#pragma once
#include <dirent.h>
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <functional>
#include <thread>

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
inline int count_threads() {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  REQUIRE(d != nullptr);
  while (struct dirent *e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

// Waits (up to 5 s) until flag is set.
inline bool wait_flag(const std::atomic<bool> &flag) {
  auto t0 = std::chrono::steady_clock::now();
  while (!flag.load()) {
    if (t::since(t0) > 5) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace th
