// Whose SIGINT it is: when a run installs its Ctrl-C handler and when it
// leaves the disposition alone (a host handler, SIG_IGN, another thread,
// close()), and that it restores exactly what it found (R40, R45, R53).
// The scenarios: signal_child.h.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "signal_child.h"

TEST_SUITE_BEGIN("signals");

using namespace sig;

namespace {

// The steps of a main task while someone else's handler owns SIGINT: after
// step 0 (the caller's), it polls every 20 ms until that handler ran (10 s
// at most), then returns `value`. A cancellation, which must not come, is
// printed and re-raised.
int wait_for_host_handler(uvrun_task_t *task, int step, Clock::time_point t0, void *value) {
  void *v;
  if (step > 0 && uvrun_task_resume(task, &v) < 0) {
    printf("main was cancelled\n");
    return uvrun_task_resume(task, &v);
  }
  if (t::host_sigints > 0 || since(t0) > 10.0) return uvrun_task_return(task, value);
  return uvrun_task_await(task, uvrun_sleep(task, 0.02));
}

}  // namespace

TEST_CASE("R40 R53 Ctrl-C during close(): the handler is not installed, the default disposition kills the process") {
  auto res = scenario([] {
    uvrun_runner_t *runner = nullptr;
    uvrun_runner_new(nullptr, &runner);
    t::Lambda main{[](uvrun_task_t *task, int step) -> int {
      if (step == 0) {
        // A leftover task whose cleanup sleeps (awaited by close()).
        uvrun_task_t *left = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *lt, int ls) -> int {
          if (ls == 0) return uvrun_task_await(lt, uvrun_sleep(lt, 60.0));
          if (ls == 1) {
            printf("leftover cancelled; dfl_during_close=%d\n", is_dfl());
            return ready_then_sleep(lt);
          }
          printf("leftover cleanup finished\n");
          return uvrun_task_resume(lt, nullptr);
        });
        uvrun_task_unref(left);
        return uvrun_task_yield(task);  // let it start (R35)
      }
      return 0;
    }};
    int rc = uvrun_runner_run(runner, t::Lambda::run, &main, nullptr, nullptr);
    printf("run rc=%d\n", rc);
    int crc = uvrun_runner_close(runner);
    printf("close returned %d\n", crc);
    uvrun_runner_free(runner);
    return 0;
  });
  check_printed(res, {"run rc=0\n", "leftover cancelled; dfl_during_close=1\n"});
  INFO("child output:\n" << res.output);
  CHECK(res.killed_by(SIGINT));
  CHECK(!res.has("close returned"));
}

TEST_CASE("R40 a host SIGINT handler: uvrun does not install, Ctrl-C runs the host's handler, which stays installed") {
  for (int siginfo : {0, 1}) {
    CAPTURE(siginfo);
    auto res = scenario([siginfo] {
      if (siginfo) t::sigint_handler(t::host_sigint_siginfo_handler, SA_RESTART);
      else t::sigint_handler(t::host_sigint_handler, SA_RESTART);
      struct sigaction before = t::sigint_now();
      void *result = nullptr;
      auto t0 = Clock::now();
      int rc = t::run(
          [&](uvrun_task_t *task, int step) -> int {
            if (step == 0) {
              printf("host_kept_during_run=%d\n", t::same_sigaction(t::sigint_now(), before));
              t::child_ready();
            }
            return wait_for_host_handler(task, step, t0, t::iv(7));
          },
          nullptr, &result);
      printf("rc=%d value=%ld host_hits=%d\n", rc, (long)t::vi(result), (int)t::host_sigints);
      printf("host_kept_after_run=%d\n", t::same_sigaction(t::sigint_now(), before));
      return 0;
    });
    check_exited_ok(res, {"host_kept_during_run=1\n", "rc=0 value=7 host_hits=1\n", "host_kept_after_run=1\n"});
    INFO("child output:\n" << res.output);
    CHECK(!res.has("main was cancelled"));
  }
}

TEST_CASE("R40 SIG_IGN (as background jobs inherit it): uvrun does not install, Ctrl-C is ignored, run completes") {
  auto res = scenario(
      [] {
        signal(SIGINT, SIG_IGN);
        void *result = nullptr;
        int rc = t::run(
            [](uvrun_task_t *task, int step) -> int {
              void *v;
              if (step == 0) {
                printf("ign_during_run=%d\n", t::sigint_is(SIG_IGN));
                t::child_ready();
                return uvrun_task_await(task, uvrun_sleep(task, 1.0));
              }
              int r = uvrun_task_resume(task, &v);
              printf("resume=%d\n", r);
              return r < 0 ? r : uvrun_task_return(task, t::iv(7));
            },
            nullptr, &result);
        printf("rc=%d value=%ld\n", rc, (long)t::vi(result));
        printf("ign_after_run=%d\n", t::sigint_is(SIG_IGN));
        return 0;
      },
      ctrl_c_twice(std::chrono::milliseconds(100)));
  check_exited_ok(res, {"ign_during_run=1\n", "resume=0\n", "rc=0 value=7\n", "ign_after_run=1\n"});
}

TEST_CASE("R40 SIG_IGN or a host handler: a flood of SIGINTs across many short runs never reaches uvrun") {
  // Each run() checks the disposition anew (R40). Whatever the order of
  // its sigaction calls, no SIGINT may land on uvrun's handler while the
  // host's disposition is SIG_IGN or the host's own handler: two such
  // signals would kill a process that asked to ignore them.
  for (int host : {0, 1}) {
    CAPTURE(host);
    auto res = scenario(
        [host] {
          if (host) t::sigint_handler(t::host_sigint_handler, SA_RESTART);
          else signal(SIGINT, SIG_IGN);
          uvrun_runner_t *runner = nullptr;
          uvrun_runner_new(nullptr, &runner);
          t::Lambda quick{[](uvrun_task_t *, int) { return 0; }};
          t::child_ready();
          int bad = 0, runs = 0;
          auto t0 = Clock::now();
          while (since(t0) < 2.0) {
            for (int i = 0; i < 100; i++, runs++)
              if (uvrun_runner_run(runner, t::Lambda::run, &quick, nullptr, nullptr) != 0) bad++;
          }
          uvrun_runner_free(runner);
          printf("runs=%d failed=%d host_hits=%d\n", runs, bad, (int)t::host_sigints);
          printf("kept=%d\n", host ? t::sigint_is(t::host_sigint_handler) : t::sigint_is(SIG_IGN));
          return 0;
        },
        [](int pid) {
          auto t0 = Clock::now();
          while (since(t0) < 1.8 && kill(pid, SIGINT) == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
        });
    INFO("child output:\n" << res.output);
    CHECK(!res.signaled);
    check_exited_ok(res, {"failed=0 ", "kept=1\n"});
    if (host) CHECK(!res.has("host_hits=0\n"));
  }
}

TEST_CASE("R40 a run on a non-main thread does not install: SIGINT keeps SIG_DFL and kills the process") {
  auto res = scenario([] {
    std::thread th([] {
      // First a run that completes: SIG_DFL during and after.
      int rc = t::run([](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          printf("thread_run1_dfl_during=%d\n", is_dfl());
          return uvrun_task_await(task, uvrun_sleep(task, 0.01));
        }
        return 0;
      });
      printf("thread_run1 rc=%d dfl_after=%d\n", rc, is_dfl());
      // Then a Ctrl-C during a run: nobody catches it.
      rc = t::run([](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          printf("thread_run2_dfl_during=%d\n", is_dfl());
          return ready_then_sleep(task);
        }
        printf("main cancelled?\n");
        return uvrun_task_resume(task, nullptr);
      });
      printf("thread_run2 rc=%s\n", uvrun_err_name(rc));
    });
    th.join();
    return 0;
  });
  check_printed(res, {"thread_run1_dfl_during=1\n", "thread_run1 rc=0 dfl_after=1\n", "thread_run2_dfl_during=1\n"});
  INFO("child output:\n" << res.output);
  CHECK(res.killed_by(SIGINT));
  CHECK(!res.has("main cancelled?"));
}

TEST_CASE("R45 user code replaced the handler during the run: run leaves the replacement alone") {
  auto res = scenario([] {
    auto t0 = Clock::now();
    int rc = t::run([&](uvrun_task_t *task, int step) -> int {
      if (step == 0) {
        printf("installed=%d\n", !is_dfl());
        t::sigint_handler(t::host_sigint_handler);
        t::child_ready();
      }
      return wait_for_host_handler(task, step, t0, nullptr);
    });
    printf("rc=%d user_hits=%d\n", rc, (int)t::host_sigints);
    printf("user_handler_after_run=%d\n", t::sigint_is(t::host_sigint_handler));
    return 0;
  });
  check_exited_ok(res, {"installed=1\n", "rc=0 user_hits=1\n", "user_handler_after_run=1\n"});
  INFO("child output:\n" << res.output);
  CHECK(!res.has("main was cancelled"));
}

TEST_CASE("R45 D3 after run() returns, SIGINT's disposition is exactly what it was (SIG_DFL)") {
  auto res = scenario([] {
    // SIG_DFL, but with flags and a mask that a plain reset would lose.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    dfl.sa_flags = SA_RESTART;
    sigemptyset(&dfl.sa_mask);
    sigaddset(&dfl.sa_mask, SIGUSR1);
    sigaddset(&dfl.sa_mask, SIGTERM);
    sigaction(SIGINT, &dfl, nullptr);
    struct sigaction before = t::sigint_now();
    auto exact = [&before] { return t::same_sigaction(t::sigint_now(), before); };
    printf("dfl_before=%d flags_kept=%d\n", is_dfl(), (before.sa_flags & SA_RESTART) != 0);
    // A run that completes.
    int rc = t::run([](uvrun_task_t *task, int step) -> int {
      if (step == 0) {
        printf("installed=%d\n", !is_dfl());
        return uvrun_task_await(task, uvrun_sleep(task, 0.01));
      }
      return 0;
    });
    printf("normal rc=%d exact=%d\n", rc, exact());
    // A run that fails.
    rc = t::run([](uvrun_task_t *, int) { return UVRUN_E_INVAL; });
    printf("failed rc=%s exact=%d\n", uvrun_err_name(rc), exact());
    // A run ended by Ctrl-C.
    rc = run_sleep_then_cleanup();
    printf("interrupted rc=%s exact=%d\n", uvrun_err_name(rc), exact());
    return 0;
  });
  check_exited_ok(res, {"dfl_before=1 flags_kept=1\n", "installed=1\n", "normal rc=0 exact=1\n",
                        "failed rc=UVRUN_E_TASK_FAILED exact=1\n", "interrupted rc=UVRUN_E_INTERRUPTED exact=1\n"});
}

TEST_CASE("R45 X6 restoring never puts the old handler back, not for an instant, when user code replaced ours") {
  // restore_probe records every SIGINT disposition set in the process.
  std::string out;
  FILE *p = popen(UVRUN_RESTORE_PROBE " 2>&1", "r");
  REQUIRE(p != nullptr);
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("rc=0 original_set_after_replacement=0 replacement_stays=1") != std::string::npos);
}
