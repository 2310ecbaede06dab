// Ctrl-C with real signals, what a run makes of it: the first cancels the
// main task, a second interrupts, and nothing carries over to the next run
// (R33, R41-R44, R46, R53, D3). The scenarios: signal_child.h.
#include <doctest/doctest.h>

#include <cstdio>

#include "signal_child.h"

TEST_SUITE_BEGIN("signals");

using namespace sig;

TEST_CASE(
    "R41 R42 R46 one Ctrl-C while main sleeps: sleep cancelled, cleanup awaits, run returns UVRUN_E_INTERRUPTED") {
  auto res = scenario([] {
    uvrun_future_t *sleep = nullptr;
    auto t0 = Clock::now();
    say_rc(t::run([&](uvrun_task_t *task, int step) { return sleep_then_cleanup(task, step, &sleep); }));
    printf("fast=%d\n", since(t0) < 10.0);
    printf("dfl_after=%d\n", is_dfl());
    uvrun_future_unref(sleep);
    return 0;
  });
  check_exited_ok(res, {"installed=1\n", "resume=UVRUN_E_CANCELLED cancelling=1\n", "sleep_cancelled=1\n",
                        "cleanup: awaited rc=0\n", "rc=UVRUN_E_INTERRUPTED\n", "fast=1\n", "dfl_after=1\n"});
}

TEST_CASE("R43 main swallows the Ctrl-C cancellation and returns a value: run returns 0 with it") {
  auto res = scenario([] {
    void *result = nullptr;
    int rc = t::run(
        [](uvrun_task_t *task, int step) -> int {
          if (step == 0) return ready_then_sleep(task);
          resume_and_say(task, "resume=");
          printf("cancelling=%d\n", uvrun_task_cancelling(task));  // stays 1: nobody uncancels
          return uvrun_task_return(task, t::iv(42));
        },
        nullptr, &result);
    printf("rc=%d value=%ld\n", rc, (long)t::vi(result));
    return 0;
  });
  check_exited_ok(res, {"resume=UVRUN_E_CANCELLED\n", "cancelling=1\n", "rc=0 value=42\n"});
}

TEST_CASE(
    "R43 R44 R53 main catches Ctrl-C and keeps running; a second Ctrl-C interrupts with main pending; close cancels "
    "it") {
  Marks marks;
  auto res = scenario(
      [&marks] {
        uvrun_runner_t *runner = nullptr;
        uvrun_task_t *main_task = nullptr;
        t::Lambda main{[&](uvrun_task_t *task, int step) -> int {
          switch (step) {
          case 0: main_task = uvrun_task_ref(task); return ready_then_sleep(task);
          case 1:
            resume_and_say(task, "first=");
            marks.mark();  // caught; carry on working
            return uvrun_task_await(task, uvrun_sleep(task, 60.0));
          case 2:  // only close() gets here
            resume_and_say(task, "main cleanup on close: ");
            return uvrun_task_await(task, uvrun_sleep(task, 0.05));
          default: printf("main cleanup done\n"); return UVRUN_E_CANCELLED;
          }
        }};
        uvrun_runner_new(nullptr, &runner);
        say_rc(uvrun_runner_run(runner, t::Lambda::run, &main, nullptr, nullptr));
        printf("main_pending_after_run=%d\n", !uvrun_future_done(uvrun_task_future(main_task)));
        printf("dfl_after_run=%d\n", is_dfl());
        int crc = uvrun_runner_close(runner);
        printf("close=%d main_cancelled=%d\n", crc, uvrun_future_cancelled(uvrun_task_future(main_task)));
        uvrun_task_unref(main_task);
        uvrun_runner_free(runner);
        return 0;
      },
      ctrl_c_then_at_mark(marks));
  check_exited_ok(
      res, {"first=UVRUN_E_CANCELLED\n", "rc=UVRUN_E_INTERRUPTED\n", "main_pending_after_run=1\n", "dfl_after_run=1\n",
            "main cleanup on close: UVRUN_E_CANCELLED\n", "main cleanup done\n", "close=0 main_cancelled=1\n"});
  INFO("child output:\n" << res.output);
  // The cleanup ran inside close(), after run() had returned.
  CHECK(res.output.find("rc=UVRUN_E_INTERRUPTED") < res.output.find("main cleanup on close"));
}

TEST_CASE("R42 main cancelled by a subtask and by Ctrl-C: uncancel() leaves 1, run returns UVRUN_E_CANCELLED") {
  auto res = scenario([] {
    return say_rc(t::run([](uvrun_task_t *task, int step) -> int {
      void *v;
      int r;
      switch (step) {
      case 0: {
        uvrun_task_t *sub = t::spawn(uvrun_task_loop(task), [task](uvrun_task_t *, int) {
          uvrun_task_cancel(task, nullptr);
          return 0;
        });
        uvrun_task_unref(sub);
        return uvrun_task_await(task, uvrun_sleep(task, 60.0));
      }
      case 1:  // the subtask's cancel; caught, carry on
        r = uvrun_task_resume(task, &v);
        printf("by_subtask=%s cancelling=%d\n", uvrun_err_name(r), uvrun_task_cancelling(task));
        return ready_then_sleep(task);
      default:  // Ctrl-C's
        r = uvrun_task_resume(task, &v);
        printf("by_ctrl_c=%s cancelling=%d\n", uvrun_err_name(r), uvrun_task_cancelling(task));
        return r;
      }
    }));
  });
  check_exited_ok(res, {"by_subtask=UVRUN_E_CANCELLED cancelling=1\n", "by_ctrl_c=UVRUN_E_CANCELLED cancelling=2\n",
                        "rc=UVRUN_E_CANCELLED\n"});
}

TEST_CASE(
    "R44 D3 second Ctrl-C during a slow cleanup: run stops driving the loop at once and returns UVRUN_E_INTERRUPTED") {
  Marks marks;
  auto res = scenario(
      [&marks] {
        Clock::time_point t1;
        int rc = t::run([&](uvrun_task_t *task, int step) -> int {
          switch (step) {
          case 0: return ready_then_sleep(task);
          case 1:
            resume_and_say(task, "first=");
            printf("cleanup: slow (30 s)\n");
            t1 = Clock::now();
            marks.mark();
            return uvrun_task_await(task, uvrun_sleep(task, 30.0));
          default:  // close() cancels the slow cleanup
            return resume_and_say(task, "cleanup cut short: ");
          }
        });
        double dt = since(t1);
        say_rc(rc);
        printf("second_ctrl_c_fast=%d (%.3f s)\n", dt < 5.0, dt);
        return 0;
      },
      ctrl_c_then_at_mark(marks));
  check_exited_ok(res, {"first=UVRUN_E_CANCELLED\n", "cleanup cut short: UVRUN_E_CANCELLED\n",
                        "rc=UVRUN_E_INTERRUPTED\n", "second_ctrl_c_fast=1"});
}

TEST_CASE("R33 interrupts do not carry over: a Runner's next run() starts from zero Ctrl-Cs") {
  Marks marks;
  auto res = scenario(
      [&marks] {
        uvrun_runner_t *runner = nullptr;
        uvrun_runner_new(nullptr, &runner);
        t::Lambda run1{[](uvrun_task_t *task, int step) -> int {
          return step == 0 ? ready_then_sleep(task) : uvrun_task_resume(task, nullptr);
        }};
        int rc = uvrun_runner_run(runner, t::Lambda::run, &run1, nullptr, nullptr);
        printf("run1=%s dfl=%d\n", uvrun_err_name(rc), is_dfl());
        // A Ctrl-C in this run is a first one again (R41: cancel), not a
        // second (R44: interrupt without cancelling).
        void *result = nullptr;
        t::Lambda run2{[&marks](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            printf("run2 installed=%d\n", !is_dfl());
            marks.mark();
            return uvrun_task_await(task, uvrun_sleep(task, 60.0));
          }
          resume_and_say(task, "run2 resume=");
          return uvrun_task_return(task, t::iv(5));
        }};
        rc = uvrun_runner_run(runner, t::Lambda::run, &run2, nullptr, &result);
        printf("run2 rc=%d value=%ld\n", rc, (long)t::vi(result));
        // And a run with no Ctrl-C at all completes normally.
        t::Lambda run3{[](uvrun_task_t *task, int step) -> int {
          if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0.01));
          return uvrun_task_return(task, t::iv(6));
        }};
        rc = uvrun_runner_run(runner, t::Lambda::run, &run3, nullptr, &result);
        printf("run3 rc=%d value=%ld\n", rc, (long)t::vi(result));
        printf("close=%d dfl=%d\n", uvrun_runner_close(runner), is_dfl());
        uvrun_runner_free(runner);
        return 0;
      },
      ctrl_c_then_at_mark(marks));
  check_exited_ok(res, {"run1=UVRUN_E_INTERRUPTED dfl=1\n", "run2 installed=1\n", "run2 resume=UVRUN_E_CANCELLED\n",
                        "run2 rc=0 value=5\n", "run3 rc=0 value=6\n", "close=0 dfl=1\n"});
}

TEST_CASE(
    "R41 D3 exit status convention: re-raising SIGINT after UVRUN_E_INTERRUPTED is seen as killed by SIGINT (130)") {
  auto res = scenario([] {
    int rc = run_sleep_then_cleanup();
    say_rc(rc);
    if (rc == UVRUN_E_INTERRUPTED) {
      signal(SIGINT, SIG_DFL);
      raise(SIGINT);
    }
    printf("not reached\n");
    return 1;
  });
  check_printed(res, {"cleanup: awaited rc=0\n", "rc=UVRUN_E_INTERRUPTED\n"});
  INFO("child output:\n" << res.output);
  CHECK(res.killed_by(SIGINT));
  CHECK(128 + res.signo == 130);
  CHECK(!res.has("not reached"));
}
