// The port of CPython's test_runners.py through the C API, part 3: the
// RunnerTests that interrupt a run (A25-A28). _thread.interrupt_main()
// becomes a real SIGINT sent to a child process; the child reports failures
// through its exit code and output. The rest of the port:
// test_runners_port_run.cpp.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <signal.h>

#include <functional>

#include "runner_support.h"
#include "sigint_support.h"

TEST_SUITE_BEGIN("signals");

using namespace rt;

namespace {

// In a child process whose SIGINT starts at SIG_DFL: runs `body` with a new
// runner, which one SIGINT reaches once the child is ready; then the runner
// must close. body returns 0, or the child's exit code for a failed
// CHILD_EXPECT. Checks that the child exited with 0.
void interrupt_in_child(std::function<int(uvrun_runner_t *)> body) {
  auto res = t::in_child(
      [&body] {
        t::sigint_default();
        uvrun_runner_t *r = nullptr;
        CHILD_EXPECT(uvrun_runner_new(nullptr, &r) == 0, 2);
        int code = body(r);
        if (code != 0) return code;
        CHILD_EXPECT(uvrun_runner_close(r) == 0, 20);
        uvrun_runner_free(r);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  t::check_child(res);
}

}  // namespace

TEST_CASE("A25 test_interrupt_call_soon (R41, R42)") {
  // The only case where the main task is not suspended on a future: it
  // yields (sleep(0)) in a loop, so the cancel is delivered at its next step.
  interrupt_in_child([](uvrun_runner_t *r) {
    bool saw_cancel = false;
    int rc = runner_run(r, [&](uvrun_task_t *task, int step) {
      if (step == 0) t::child_ready();
      else if (uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED) {
        saw_cancel = true;                                                // with assertRaises(CancelledError): ...
        return uvrun_task_raise(task, new_error(UVRUN_E_CANCELLED, ""));  // raise CancelledError()
      }
      return uvrun_task_yield(task);
    });
    CHILD_EXPECT(rc == UVRUN_E_INTERRUPTED, 3);  // KeyboardInterrupt
    CHILD_EXPECT(saw_cancel, 4);
    return 0;
  });
}

TEST_CASE("A26 test_interrupt_wait (R41, R42)") {
  // Interrupting while the main task waits on a future cancels both.
  interrupt_in_child([](uvrun_runner_t *r) {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_runner_get_loop(r, &loop) == 0, 3);
    uvrun_future_t *fut = nullptr;
    CHILD_EXPECT(uvrun_future_new(loop, &fut) == 0, 4);
    bool saw_cancel = false;
    int rc = runner_run(r, [&](uvrun_task_t *task, int step) {
      if (step == 0) {
        t::child_ready();
        return uvrun_task_await(task, uvrun_future_ref(fut));
      }
      if (uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED) {
        saw_cancel = true;
        return uvrun_task_raise(task, new_error(UVRUN_E_CANCELLED, ""));
      }
      return uvrun_task_return(task, nullptr);
    });
    CHILD_EXPECT(rc == UVRUN_E_INTERRUPTED, 5);
    CHILD_EXPECT(saw_cancel, 6);
    CHILD_EXPECT(uvrun_future_cancelled(fut), 7);
    uvrun_future_unref(fut);
    return 0;
  });
}

TEST_CASE("A27 test_interrupt_cancelled_task (R42)") {
  // The main task is cancelled by a subtask and by Ctrl-C: uncancel() leaves
  // 1, so run() reports the cancellation, not an interrupt. The subtask
  // yields until Ctrl-C has cancelled main (the loop polls signals between
  // its steps), then cancels main too, before main can resume.
  interrupt_in_child([](uvrun_runner_t *r) {
    int cancels_seen = -1;
    int rc = runner_run(r, [&](uvrun_task_t *task, int step) {
      if (step == 0) {
        uvrun_task_t *sub = t::spawn(uvrun_task_loop(task), [task, &cancels_seen](uvrun_task_t *s, int n) {
          if (n == 0) t::child_ready();
          if (uvrun_task_cancelling(task) >= 1) {  // Ctrl-C got through
            uvrun_task_cancel(task, nullptr);      // task.cancel()
            cancels_seen = uvrun_task_cancelling(task);
            return uvrun_task_return(s, nullptr);
          }
          return uvrun_task_yield(s);
        });
        uvrun_task_unref(sub);
        return uvrun_task_await(task, uvrun_sleep(task, 10));
      }
      return uvrun_task_resume(task, nullptr);
    });
    CHILD_EXPECT(rc == UVRUN_E_CANCELLED, 3);
    CHILD_EXPECT(cancels_seen == 2, 4);
    return 0;
  });
}

TEST_CASE("A28 test_signal_install_not_supported_ok (R40)") {
  // The runner cannot take SIGINT over (here: the host has its own handler);
  // run() goes on without Ctrl-C handling, and a real SIGINT does nothing to
  // the main task.
  interrupt_in_child([](uvrun_runner_t *r) {
    t::sigint_handler(t::host_sigint_handler);
    void *result = nullptr;
    int rc = runner_run(
        r,
        [](uvrun_task_t *task, int step) {
          if (step == 0) t::child_ready();
          if (t::host_sigints > 0 || step > 1000) return uvrun_task_return(task, t::iv(42));
          return uvrun_task_await(task, uvrun_sleep(task, 0.005));
        },
        &result);
    CHILD_EXPECT(rc == 0, 3);
    CHILD_EXPECT(t::vi(result) == 42, 4);
    CHILD_EXPECT(t::host_sigints == 1, 5);
    CHILD_EXPECT(t::sigint_now().sa_handler == t::host_sigint_handler, 6);  // left alone
    return 0;
  });
}
