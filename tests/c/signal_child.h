// Ctrl-C scenarios for the real-signal suites (test_signal_*.cpp).
//
// Every scenario runs in a forked child (t::in_child) that the parent
// signals with kill(); the test runner itself is never signalled. The child
// prints what it observes as "key=value" lines and the parent checks them,
// so a failure shows the child's whole story. Sleeps that a Ctrl-C should
// cut short are 60 s against a 20 s child timeout: a missed interrupt is a
// timeout, never a slow pass.
#pragma once
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>

#include "sigint_support.h"
#include "support.h"

namespace sig {

using Clock = std::chrono::steady_clock;
using t::since;

inline bool is_dfl() { return t::sigint_is(SIG_DFL); }

// A second channel from child to parent for scenarios that need more than
// one Ctrl-C at chosen points: the child writes a byte where it wants the
// next one, the parent (inside on_ready) waits for it. The "ready" line of
// t::in_child asks for the first.
struct Marks {
  int fds[2] = {-1, -1};
  Marks() { REQUIRE(pipe(fds) == 0); }
  ~Marks() {
    close(fds[0]);
    close(fds[1]);
  }
  void mark() const {  // child
    char c = 'm';
    if (write(fds[1], &c, 1) != 1) _exit(99);
  }
  bool wait(double seconds) const {  // parent
    struct pollfd p = {fds[0], POLLIN, 0};
    char c;
    return poll(&p, 1, (int)(seconds * 1000)) == 1 && read(fds[0], &c, 1) == 1;
  }
};

// ---- the parent's side: when to press Ctrl-C ----

using Sender = std::function<void(int pid)>;

// One Ctrl-C once the child is ready.
inline void ctrl_c(int pid) { kill(pid, SIGINT); }

// One Ctrl-C once the child is ready, a second one at its mark.
inline Sender ctrl_c_then_at_mark(const Marks &marks) {
  return [&marks](int pid) {
    kill(pid, SIGINT);
    if (marks.wait(10.0)) kill(pid, SIGINT);
  };
}

// Two Ctrl-Cs, `gap` apart (long enough for both to be delivered).
inline Sender ctrl_c_twice(std::chrono::milliseconds gap) {
  return [gap](int pid) {
    kill(pid, SIGINT);
    std::this_thread::sleep_for(gap);
    kill(pid, SIGINT);
  };
}

// `n` SIGINTs, `gap_us` microseconds apart (0: back to back).
inline Sender storm(int n, int gap_us) {
  return [n, gap_us](int pid) {
    for (int i = 0; i < n; i++) {
      kill(pid, SIGINT);
      if (gap_us) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    }
  };
}

// Runs `body` in a child whose SIGINT starts at SIG_DFL, unblocked; `send`
// presses Ctrl-C once the child is ready. The child's exit code is body's.
inline t::ChildResult scenario(std::function<int()> body, Sender send = ctrl_c) {
  return t::in_child(
      [body = std::move(body)] {
        t::sigint_default();
        return body();
      },
      std::move(send), 20.0);
}

// ---- the child's side ----

// Step 0 of a main task waiting for Ctrl-C: the child is ready, and the
// task awaits a 60 s sleep.
inline int ready_then_sleep(uvrun_task_t *task) {
  t::child_ready();
  return uvrun_task_await(task, uvrun_sleep(task, 60.0));
}

// Resumes the task and prints `label` with the code's name ("first=" gives
// "first=UVRUN_E_CANCELLED"); returns the code.
inline int resume_and_say(uvrun_task_t *task, const char *label) {
  void *v;
  int rc = uvrun_task_resume(task, &v);
  printf("%s%s\n", label, uvrun_err_name(rc));
  return rc;
}

// Prints "rc=<name of rc>"; the child's exit code 0.
inline int say_rc(int rc) {
  printf("rc=%s\n", uvrun_err_name(rc));
  return 0;
}

// Main task: ready, sleep 60 s; on cancellation await a short cleanup and
// re-raise. Prints what it saw.
inline int sleep_then_cleanup(uvrun_task_t *task, int step, uvrun_future_t **sleep_out = nullptr) {
  void *v;
  switch (step) {
  case 0: {
    uvrun_future_t *f = uvrun_sleep(task, 60.0);
    if (sleep_out) *sleep_out = uvrun_future_ref(f);
    printf("installed=%d\n", !is_dfl());
    t::child_ready();
    return uvrun_task_await(task, f);
  }
  case 1: {
    int rc = uvrun_task_resume(task, &v);
    printf("resume=%s cancelling=%d\n", uvrun_err_name(rc), uvrun_task_cancelling(task));
    if (sleep_out) printf("sleep_cancelled=%d\n", uvrun_future_cancelled(*sleep_out));
    printf("cleanup: started\n");
    return uvrun_task_await(task, uvrun_sleep(task, 0.05));  // cleanup can await
  }
  default: {
    int rc = uvrun_task_resume(task, &v);
    printf("cleanup: awaited rc=%d\n", rc);
    return UVRUN_E_CANCELLED;  // a new CancelledError still counts (R42)
  }
  }
}

// uvrun_run with sleep_then_cleanup as the main task.
inline int run_sleep_then_cleanup() {
  return t::run([](uvrun_task_t *task, int step) { return sleep_then_cleanup(task, step); });
}

// ---- the parent's checks ----

// The child printed each of `lines` (each its own check).
inline void check_printed(const t::ChildResult &res, std::initializer_list<const char *> lines) {
  INFO("child output:\n" << res.output);
  for (const char *line : lines) {
    CAPTURE(line);
    CHECK(res.has(line));
  }
}

// The child exited with 0 and printed each of `lines`.
inline void check_exited_ok(const t::ChildResult &res, std::initializer_list<const char *> lines) {
  INFO("child output:\n" << res.output);
  CHECK(res.exited_ok());
  check_printed(res, lines);
}

}  // namespace sig
