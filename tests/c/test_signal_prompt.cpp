// A Ctrl-C is acted on before the next step runs, whether the loop is busy
// or idle, and one that comes after the main task's last step still
// interrupts the run (R41, R44, X1). The main tasks here send SIGINT to
// their own process, so where it lands is exact.
#include <doctest/doctest.h>

#include <cstdio>

#include "signal_child.h"

TEST_SUITE_BEGIN("signals");

using namespace sig;

namespace {

void no_ctrl_c(int) {}

}  // namespace

TEST_CASE("R41 a Ctrl-C during a busy step cancels the main task at its next yield; the run is interrupted") {
  auto res = scenario(
      [] {
        void *result = nullptr;
        int rc = t::run(
            [](uvrun_task_t *task, int step) -> int {
              if (step == 0) {
                kill(getpid(), SIGINT);
                return uvrun_task_yield(task);
              }
              int resumed = uvrun_task_resume(task, nullptr);
              printf("resume=%s cancelling=%d\n", uvrun_err_name(resumed), uvrun_task_cancelling(task));
              return resumed < 0 ? resumed : uvrun_task_return(task, t::iv(7));
            },
            nullptr, &result);
        printf("rc=%s result=%ld\n", uvrun_err_name(rc), (long)t::vi(result));
        return 0;
      },
      no_ctrl_c);
  check_exited_ok(res, {"resume=UVRUN_E_CANCELLED cancelling=1\n", "rc=UVRUN_E_INTERRUPTED result=0\n"});
}

TEST_CASE("R41 R42 a task cancelled once and then interrupted in the same step sees cancelling() == 2") {
  auto res = scenario(
      [] {
        int rc = t::run([](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            uvrun_task_cancel(task, nullptr);
            kill(getpid(), SIGINT);
            return uvrun_task_yield(task);
          }
          int resumed = uvrun_task_resume(task, nullptr);
          printf("resume=%s cancelling=%d\n", uvrun_err_name(resumed), uvrun_task_cancelling(task));
          return resumed;
        });
        // uncancel() leaves 1: somebody else cancelled too, so CancelledError.
        printf("rc=%s\n", uvrun_err_name(rc));
        return 0;
      },
      no_ctrl_c);
  check_exited_ok(res, {"resume=UVRUN_E_CANCELLED cancelling=2\n", "rc=UVRUN_E_CANCELLED\n"});
}

TEST_CASE("R44 a Ctrl-C in the main task's last step interrupts the run; the result does not come back") {
  auto res = scenario(
      [] {
        void *result = nullptr;
        int rc = t::run(
            [](uvrun_task_t *task, int) -> int {
              kill(getpid(), SIGINT);
              return uvrun_task_return(task, t::iv(7));
            },
            nullptr, &result);
        printf("rc=%s result=%ld\n", uvrun_err_name(rc), (long)t::vi(result));
        printf("dfl_after=%d\n", is_dfl());
        return 0;
      },
      no_ctrl_c);
  check_exited_ok(res, {"rc=UVRUN_E_INTERRUPTED result=0\n", "dfl_after=1\n"});
}

TEST_CASE("R41 a Ctrl-C while the loop sleeps with nothing to run cancels the main task at once") {
  auto res = scenario([] {
    auto t0 = Clock::now();
    int rc = t::run([](uvrun_task_t *task, int step) -> int {
      if (step == 0) return ready_then_sleep(task);
      return resume_and_say(task, "resume=");
    });
    printf("rc=%s fast=%d\n", uvrun_err_name(rc), since(t0) < 5.0);
    return 0;
  });
  check_exited_ok(res, {"resume=UVRUN_E_CANCELLED\n", "rc=UVRUN_E_INTERRUPTED fast=1\n"});
}

TEST_CASE("R41 a busy loop with many tasks acts on a Ctrl-C before any other step runs") {
  // 100 tasks yield round and round; the main task sends SIGINT in a step:
  // every step that runs after it already sees the main task cancelled.
  auto res = scenario(
      [] {
        static uvrun_task_t *main_task;
        static int steps_after_signal, saw_not_cancelled;
        static bool sent;
        int rc = t::run([](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            main_task = task;
            for (int i = 0; i < 100; i++)
              uvrun_task_unref(t::spawn(uvrun_task_loop(task), [](uvrun_task_t *w, int wstep) -> int {
                if (wstep > 0 && uvrun_task_resume(w, nullptr) < 0) return UVRUN_E_CANCELLED;
                if (sent) {
                  steps_after_signal++;
                  saw_not_cancelled += uvrun_task_cancelling(main_task) == 0;
                }
                return uvrun_task_yield(w);
              }));
            return uvrun_task_yield(task);
          }
          if (step < 5) return uvrun_task_yield(task);  // the workers are busy
          if (step == 5) {
            sent = true;
            kill(getpid(), SIGINT);
            return uvrun_task_yield(task);
          }
          printf("cancelling=%d\n", uvrun_task_cancelling(task));
          return uvrun_task_resume(task, nullptr);
        });
        printf("rc=%s all_stepped=%d saw_not_cancelled=%d\n", uvrun_err_name(rc), steps_after_signal >= 100,
               saw_not_cancelled);
        return 0;
      },
      no_ctrl_c);
  check_exited_ok(res, {"cancelling=1\n", "rc=UVRUN_E_INTERRUPTED all_stepped=1 saw_not_cancelled=0\n"});
}
