// Ctrl-C with real signals that the loop cannot answer at once: a stuck
// loop, a long step, storms of SIGINTs (X1, D3). The scenarios:
// signal_child.h.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "signal_child.h"

TEST_SUITE_BEGIN("signals");

using namespace sig;

namespace {

// D3 allows exactly two endings: run() reported the interrupt (R41/R42 or
// R44) and the child finished, or a Ctrl-C found the previous one
// unanswered, or came after run() restored SIG_DFL, and ended the process
// the default way. Never a crash or a hang.
void check_storm_ending(const t::ChildResult &res) {
  INFO("child output:\n" << res.output);
  CHECK(!res.timed_out);
  bool clean = res.exited_ok() && res.has("rc=UVRUN_E_INTERRUPTED\n");
  CHECK((clean || res.killed_by(SIGINT)));
  if (res.signaled) CHECK(res.signo == SIGINT);
}

}  // namespace

TEST_CASE("X1 D3 stuck loop: the first Ctrl-C cannot be handled, the second kills the process by SIGINT") {
  auto res = scenario(
      [] {
        return say_rc(t::run([](uvrun_task_t *, int) -> int {
          t::child_ready();
          t::busy_wait(10.0);  // never yields
          printf("spin ended\n");
          return 0;
        }));
      },
      ctrl_c_twice(std::chrono::milliseconds(500)));  // delivered, not coalesced
  INFO("child output:\n" << res.output);
  CHECK(res.killed_by(SIGINT));
  CHECK(!res.has("spin ended"));
  CHECK(128 + res.signo == 130);  // what a shell reports
}

TEST_CASE("X1 D3 one Ctrl-C during a long step is handled once the step gives the loop back") {
  auto res = scenario([] {
    return say_rc(t::run([](uvrun_task_t *task, int step) -> int {
      if (step == 0) {
        t::child_ready();
        t::busy_wait(1.5);
        printf("spin ended\n");
        return uvrun_task_await(task, uvrun_sleep(task, 60.0));
      }
      return resume_and_say(task, "resume=");
    }));
  });
  check_exited_ok(res, {"spin ended\n", "resume=UVRUN_E_CANCELLED\n", "rc=UVRUN_E_INTERRUPTED\n"});
}

TEST_CASE("D3 X1 a storm of 100 SIGINTs: interrupted cleanly or killed by SIGINT, never a crash or a hang") {
  // Gaps from none (most signals coalesce or hit an unanswered Ctrl-C) to
  // 1 ms (the loop answers some of them, then run and close go by).
  for (int gap_us : {0, 0, 20, 100, 300, 1000}) {
    CAPTURE(gap_us);
    auto res = scenario([] { return say_rc(run_sleep_then_cleanup()); }, storm(100, gap_us));
    check_storm_ending(res);
    INFO("child output:\n" << res.output);
    if (res.exited) CHECK(!res.has("uvrun:"));  // nothing reported on the way out
  }
}

TEST_CASE("D3 X1 a storm of SIGINTs with executor threads alive: handlers on other threads never crash") {
  // Idle executor workers do not block SIGINT, so the kernel may run the
  // handler on them, also while the main thread is in its own handler or
  // is tearing the run down.
  for (int round = 0; round < 8; round++) {
    CAPTURE(round);
    auto res = scenario(
        [] {
          return say_rc(t::run([](uvrun_task_t *task, int step) -> int {
            void *v;
            if (step == 0) {
              uvrun_future_t *jobs[4];
              for (auto &j : jobs)
                j = uvrun_run_in_executor(
                    uvrun_task_loop(task),
                    [](void *, void **) {
                      std::this_thread::sleep_for(std::chrono::milliseconds(20));
                      return 0;
                    },
                    nullptr);
              uvrun_future_t *all = uvrun_gather(uvrun_task_loop(task), jobs, 4, 0);
              for (auto &j : jobs) uvrun_future_unref(j);
              return uvrun_task_await(task, all);
            }
            if (step == 1) {
              if (uvrun_task_resume(task, &v) < 0) return uvrun_task_resume(task, &v);
              return ready_then_sleep(task);  // four workers idle now
            }
            return uvrun_task_resume(task, &v);
          }));
        },
        storm(100, round % 2 ? 50 : 0));
    check_storm_ending(res);
  }
}
