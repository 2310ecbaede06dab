// Ctrl-C with real signals (R33, R40-R46, R53, D3, X1).
//
// Every scenario runs in a forked child (t::in_child) that the parent
// signals with kill(); the test runner itself is never signalled. The child
// prints what it observes as "key=value" lines and the parent checks them,
// so a failure shows the child's whole story. Sleeps that a Ctrl-C should
// cut short are 60 s against a 20 s child timeout: a missed interrupt is a
// timeout, never a slow pass.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "support.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Child side: start from the default disposition, unblocked, whatever the
// test runner inherited (a background job starts with SIG_IGN).
void child_setup() {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

struct sigaction sigint_now() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigaction(SIGINT, nullptr, &sa);
  return sa;
}

bool is_handler(void (*h)(int)) {
  struct sigaction sa = sigint_now();
  return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == h;
}
bool is_dfl() { return is_handler(SIG_DFL); }

bool same_sigaction(const struct sigaction &a, const struct sigaction &b) {
  if (a.sa_handler != b.sa_handler || a.sa_flags != b.sa_flags) return false;
  for (int s = 1; s < NSIG; s++)
    if (sigismember(&a.sa_mask, s) != sigismember(&b.sa_mask, s)) return false;
  return true;
}

bool has(const t::ChildResult &r, const std::string &needle) {
  return r.output.find(needle) != std::string::npos;
}

bool killed_by_sigint(const t::ChildResult &r) {
  return !r.timed_out && r.signaled && r.signo == SIGINT;
}
bool exited_ok(const t::ChildResult &r) { return !r.timed_out && r.exited && r.code == 0; }

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

// Spin without yielding: a stuck loop as far as signals can tell.
void spin(double seconds) {
  auto t0 = Clock::now();
  while (since(t0) < seconds) {
  }
}

volatile sig_atomic_t host_hits;
void host_handler(int) { host_hits = host_hits + 1; }
void host_siginfo_handler(int, siginfo_t *, void *) { host_hits = host_hits + 1; }

// Main task: ready, sleep 60 s; on cancellation await a short cleanup and
// re-raise. Prints what it saw.
int sleep_then_cleanup(uvrun_task_t *task, int step, uvrun_future_t **sleep_out) {
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

}  // namespace

TEST_CASE("R41 R42 R46 one Ctrl-C while main sleeps: sleep cancelled, cleanup awaits, run returns UVRUN_E_INTERRUPTED") {
  auto res = t::in_child(
      [] {
        child_setup();
        uvrun_future_t *sleep = nullptr;
        auto t0 = Clock::now();
        int rc = t::run([&](uvrun_task_t *task, int step) { return sleep_then_cleanup(task, step, &sleep); });
        printf("rc=%s\n", uvrun_err_name(rc));
        printf("fast=%d\n", since(t0) < 10.0);
        printf("dfl_after=%d\n", is_dfl());
        uvrun_future_unref(sleep);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); }, 20.0);
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "installed=1\n"));
  CHECK(has(res, "resume=UVRUN_E_CANCELLED cancelling=1\n"));
  CHECK(has(res, "sleep_cancelled=1\n"));
  CHECK(has(res, "cleanup: awaited rc=0\n"));
  CHECK(has(res, "rc=UVRUN_E_INTERRUPTED\n"));
  CHECK(has(res, "fast=1\n"));
  CHECK(has(res, "dfl_after=1\n"));
}

TEST_CASE("R43 main swallows the Ctrl-C cancellation and returns a value: run returns 0 with it") {
  auto res = t::in_child(
      [] {
        child_setup();
        void *result = nullptr;
        int rc = t::run(
            [](uvrun_task_t *task, int step) -> int {
              void *v;
              if (step == 0) {
                t::child_ready();
                return uvrun_task_await(task, uvrun_sleep(task, 60.0));
              }
              int r = uvrun_task_resume(task, &v);
              printf("resume=%s\n", uvrun_err_name(r));
              printf("cancelling=%d\n", uvrun_task_cancelling(task));  // stays 1: nobody uncancels
              return uvrun_task_return(task, t::iv(42));
            },
            nullptr, &result);
        printf("rc=%d value=%ld\n", rc, (long)t::vi(result));
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "resume=UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "cancelling=1\n"));
  CHECK(has(res, "rc=0 value=42\n"));
}

TEST_CASE("R43 R44 R53 main catches Ctrl-C and keeps running; a second Ctrl-C interrupts with main pending; close cancels it") {
  Marks marks;
  auto res = t::in_child(
      [&marks] {
        child_setup();
        uvrun_runner_t *runner = nullptr;
        uvrun_task_t *main_task = nullptr;
        t::Lambda main{[&](uvrun_task_t *task, int step) -> int {
          void *v;
          int r;
          switch (step) {
            case 0:
              main_task = uvrun_task_ref(task);
              t::child_ready();
              return uvrun_task_await(task, uvrun_sleep(task, 60.0));
            case 1:
              r = uvrun_task_resume(task, &v);
              printf("first=%s\n", uvrun_err_name(r));
              marks.mark();  // caught; carry on working
              return uvrun_task_await(task, uvrun_sleep(task, 60.0));
            case 2:  // only close() gets here
              r = uvrun_task_resume(task, &v);
              printf("main cleanup on close: %s\n", uvrun_err_name(r));
              return uvrun_task_await(task, uvrun_sleep(task, 0.05));
            default:
              printf("main cleanup done\n");
              return UVRUN_E_CANCELLED;
          }
        }};
        uvrun_runner_new(nullptr, &runner);
        int rc = uvrun_runner_run(runner, t::Lambda::run, &main, nullptr, nullptr);
        printf("rc=%s\n", uvrun_err_name(rc));
        printf("main_pending_after_run=%d\n", !uvrun_future_done(uvrun_task_future(main_task)));
        printf("dfl_after_run=%d\n", is_dfl());
        int crc = uvrun_runner_close(runner);
        printf("close=%d main_cancelled=%d\n", crc, uvrun_future_cancelled(uvrun_task_future(main_task)));
        uvrun_task_unref(main_task);
        uvrun_runner_free(runner);
        return 0;
      },
      [&marks](int pid) {
        kill(pid, SIGINT);
        if (marks.wait(10.0)) kill(pid, SIGINT);
      });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "first=UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "rc=UVRUN_E_INTERRUPTED\n"));
  CHECK(has(res, "main_pending_after_run=1\n"));
  CHECK(has(res, "dfl_after_run=1\n"));
  CHECK(has(res, "main cleanup on close: UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "main cleanup done\n"));
  CHECK(has(res, "close=0 main_cancelled=1\n"));
  // The cleanup ran inside close(), after run() had returned.
  CHECK(res.output.find("rc=UVRUN_E_INTERRUPTED") < res.output.find("main cleanup on close"));
}

TEST_CASE("R42 main cancelled by a subtask and by Ctrl-C: uncancel() leaves 1, run returns UVRUN_E_CANCELLED") {
  auto res = t::in_child(
      [] {
        child_setup();
        int rc = t::run([](uvrun_task_t *task, int step) -> int {
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
              t::child_ready();
              return uvrun_task_await(task, uvrun_sleep(task, 60.0));
            default:  // Ctrl-C's
              r = uvrun_task_resume(task, &v);
              printf("by_ctrl_c=%s cancelling=%d\n", uvrun_err_name(r), uvrun_task_cancelling(task));
              return r;
          }
        });
        printf("rc=%s\n", uvrun_err_name(rc));
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "by_subtask=UVRUN_E_CANCELLED cancelling=1\n"));
  CHECK(has(res, "by_ctrl_c=UVRUN_E_CANCELLED cancelling=2\n"));
  CHECK(has(res, "rc=UVRUN_E_CANCELLED\n"));
}

TEST_CASE("R44 D3 second Ctrl-C during a slow cleanup: run stops driving the loop at once and returns UVRUN_E_INTERRUPTED") {
  Marks marks;
  auto res = t::in_child(
      [&marks] {
        child_setup();
        Clock::time_point t1;
        int rc = t::run([&](uvrun_task_t *task, int step) -> int {
          void *v;
          int r;
          switch (step) {
            case 0:
              t::child_ready();
              return uvrun_task_await(task, uvrun_sleep(task, 60.0));
            case 1:
              r = uvrun_task_resume(task, &v);
              printf("first=%s\n", uvrun_err_name(r));
              printf("cleanup: slow (30 s)\n");
              t1 = Clock::now();
              marks.mark();
              return uvrun_task_await(task, uvrun_sleep(task, 30.0));
            default:  // close() cancels the slow cleanup
              r = uvrun_task_resume(task, &v);
              printf("cleanup cut short: %s\n", uvrun_err_name(r));
              return r;
          }
        });
        double dt = since(t1);
        printf("rc=%s\n", uvrun_err_name(rc));
        printf("second_ctrl_c_fast=%d (%.3f s)\n", dt < 5.0, dt);
        return 0;
      },
      [&marks](int pid) {
        kill(pid, SIGINT);
        if (marks.wait(10.0)) kill(pid, SIGINT);
      });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "first=UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "cleanup cut short: UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "rc=UVRUN_E_INTERRUPTED\n"));
  CHECK(has(res, "second_ctrl_c_fast=1"));
}

TEST_CASE("X1 D3 stuck loop: the first Ctrl-C cannot be handled, the second kills the process by SIGINT") {
  auto res = t::in_child(
      [] {
        child_setup();
        int rc = t::run([](uvrun_task_t *task, int) -> int {
          t::child_ready();
          spin(10.0);  // never yields
          printf("spin ended\n");
          (void)task;
          return 0;
        });
        printf("rc=%s\n", uvrun_err_name(rc));
        return 0;
      },
      [](int pid) {
        kill(pid, SIGINT);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // delivered, not coalesced
        kill(pid, SIGINT);
      });
  INFO("child output:\n" << res.output);
  CHECK(killed_by_sigint(res));
  CHECK(!has(res, "spin ended"));
  CHECK(128 + res.signo == 130);  // what a shell reports
}

TEST_CASE("X1 D3 one Ctrl-C during a long step is handled once the step gives the loop back") {
  auto res = t::in_child(
      [] {
        child_setup();
        int rc = t::run([](uvrun_task_t *task, int step) -> int {
          void *v;
          if (step == 0) {
            t::child_ready();
            spin(1.5);
            printf("spin ended\n");
            return uvrun_task_await(task, uvrun_sleep(task, 60.0));
          }
          int r = uvrun_task_resume(task, &v);
          printf("resume=%s\n", uvrun_err_name(r));
          return r;
        });
        printf("rc=%s\n", uvrun_err_name(rc));
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "spin ended\n"));
  CHECK(has(res, "resume=UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "rc=UVRUN_E_INTERRUPTED\n"));
}

TEST_CASE("D3 X1 a storm of 100 SIGINTs: interrupted cleanly or killed by SIGINT, never a crash or a hang") {
  // Gaps from none (most signals coalesce or hit an unanswered Ctrl-C) to
  // 1 ms (the loop answers some of them, then run and close go by).
  for (int gap_us : {0, 0, 20, 100, 300, 1000}) {
    CAPTURE(gap_us);
    auto res = t::in_child(
        [] {
          child_setup();
          int rc = t::run([](uvrun_task_t *task, int step) { return sleep_then_cleanup(task, step, nullptr); });
          printf("rc=%s\n", uvrun_err_name(rc));
          return 0;
        },
        [gap_us](int pid) {
          for (int i = 0; i < 100; i++) {
            kill(pid, SIGINT);
            if (gap_us) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
          }
        });
    INFO("child output:\n" << res.output);
    CHECK(!res.timed_out);
    // D3 allows exactly two endings: run() reported the interrupt (R41/R42
    // or R44) and the child finished, or a Ctrl-C found the previous one
    // unanswered, or came after run() restored SIG_DFL, and ended the
    // process the default way.
    bool clean = exited_ok(res) && has(res, "rc=UVRUN_E_INTERRUPTED\n");
    CHECK((clean || killed_by_sigint(res)));
    if (res.signaled) CHECK(res.signo == SIGINT);
    if (res.exited) CHECK(!has(res, "uvrun:"));  // nothing reported on the way out
  }
}

TEST_CASE("D3 X1 a storm of SIGINTs with executor threads alive: handlers on other threads never crash") {
  // Idle executor workers do not block SIGINT, so the kernel may run the
  // handler on them, also while the main thread is in its own handler or
  // is tearing the run down.
  for (int round = 0; round < 8; round++) {
    CAPTURE(round);
    auto res = t::in_child(
        [] {
          child_setup();
          int rc = t::run([](uvrun_task_t *task, int step) -> int {
            void *v;
            if (step == 0) {
              uvrun_future_t *jobs[4];
              for (auto &j : jobs)
                j = uvrun_run_in_executor(uvrun_task_loop(task), [](void *, void **) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(20));
                  return 0;
                }, nullptr);
              uvrun_future_t *all = uvrun_gather(uvrun_task_loop(task), jobs, 4, 0);
              for (auto &j : jobs) uvrun_future_unref(j);
              return uvrun_task_await(task, all);
            }
            if (step == 1) {
              if (uvrun_task_resume(task, &v) < 0) return uvrun_task_resume(task, &v);
              t::child_ready();  // four workers idle now
              return uvrun_task_await(task, uvrun_sleep(task, 60.0));
            }
            return uvrun_task_resume(task, &v);
          });
          printf("rc=%s\n", uvrun_err_name(rc));
          return 0;
        },
        [round](int pid) {
          for (int i = 0; i < 100; i++) {
            kill(pid, SIGINT);
            if (round % 2) std::this_thread::sleep_for(std::chrono::microseconds(50));
          }
        });
    INFO("child output:\n" << res.output);
    CHECK(!res.timed_out);
    bool clean = exited_ok(res) && has(res, "rc=UVRUN_E_INTERRUPTED\n");
    CHECK((clean || killed_by_sigint(res)));
    if (res.signaled) CHECK(res.signo == SIGINT);
  }
}

TEST_CASE("R40 R53 Ctrl-C during close(): the handler is not installed, the default disposition kills the process") {
  auto res = t::in_child(
      [] {
        child_setup();
        uvrun_runner_t *runner = nullptr;
        uvrun_runner_new(nullptr, &runner);
        t::Lambda main{[](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            // A leftover task whose cleanup sleeps (awaited by close()).
            uvrun_task_t *left = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *lt, int ls) -> int {
              void *v;
              if (ls == 0) return uvrun_task_await(lt, uvrun_sleep(lt, 60.0));
              if (ls == 1) {
                printf("leftover cancelled; dfl_during_close=%d\n", is_dfl());
                t::child_ready();
                return uvrun_task_await(lt, uvrun_sleep(lt, 60.0));
              }
              printf("leftover cleanup finished\n");
              return uvrun_task_resume(lt, &v);
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
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(has(res, "run rc=0\n"));
  CHECK(has(res, "leftover cancelled; dfl_during_close=1\n"));
  CHECK(killed_by_sigint(res));
  CHECK(!has(res, "close returned"));
}

TEST_CASE("R40 a host SIGINT handler: uvrun does not install, Ctrl-C runs the host's handler, which stays installed") {
  for (int siginfo : {0, 1}) {
    CAPTURE(siginfo);
    auto res = t::in_child(
        [siginfo] {
          child_setup();
          struct sigaction host;
          memset(&host, 0, sizeof host);
          sigemptyset(&host.sa_mask);
          host.sa_flags = SA_RESTART;
          if (siginfo) {
            host.sa_flags |= SA_SIGINFO;
            host.sa_sigaction = host_siginfo_handler;
          } else {
            host.sa_handler = host_handler;
          }
          sigaction(SIGINT, &host, nullptr);
          struct sigaction before = sigint_now();
          void *result = nullptr;
          auto t0 = Clock::now();
          int rc = t::run(
              [&](uvrun_task_t *task, int step) -> int {
                void *v;
                if (step == 0) {
                  printf("host_kept_during_run=%d\n", same_sigaction(sigint_now(), before));
                  t::child_ready();
                } else if (uvrun_task_resume(task, &v) < 0) {
                  printf("main was cancelled\n");
                  return uvrun_task_resume(task, &v);
                }
                if (host_hits > 0 || since(t0) > 10.0) return uvrun_task_return(task, t::iv(7));
                return uvrun_task_await(task, uvrun_sleep(task, 0.02));
              },
              nullptr, &result);
          printf("rc=%d value=%ld host_hits=%d\n", rc, (long)t::vi(result), (int)host_hits);
          printf("host_kept_after_run=%d\n", same_sigaction(sigint_now(), before));
          return 0;
        },
        [](int pid) { kill(pid, SIGINT); });
    INFO("child output:\n" << res.output);
    CHECK(exited_ok(res));
    CHECK(has(res, "host_kept_during_run=1\n"));
    CHECK(has(res, "rc=0 value=7 host_hits=1\n"));
    CHECK(has(res, "host_kept_after_run=1\n"));
    CHECK(!has(res, "main was cancelled"));
  }
}

TEST_CASE("R40 SIG_IGN (as background jobs inherit it): uvrun does not install, Ctrl-C is ignored, run completes") {
  auto res = t::in_child(
      [] {
        child_setup();
        signal(SIGINT, SIG_IGN);
        void *result = nullptr;
        int rc = t::run(
            [](uvrun_task_t *task, int step) -> int {
              void *v;
              if (step == 0) {
                printf("ign_during_run=%d\n", is_handler(SIG_IGN));
                t::child_ready();
                return uvrun_task_await(task, uvrun_sleep(task, 1.0));
              }
              int r = uvrun_task_resume(task, &v);
              printf("resume=%d\n", r);
              return r < 0 ? r : uvrun_task_return(task, t::iv(7));
            },
            nullptr, &result);
        printf("rc=%d value=%ld\n", rc, (long)t::vi(result));
        printf("ign_after_run=%d\n", is_handler(SIG_IGN));
        return 0;
      },
      [](int pid) {
        kill(pid, SIGINT);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        kill(pid, SIGINT);
      });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "ign_during_run=1\n"));
  CHECK(has(res, "resume=0\n"));
  CHECK(has(res, "rc=0 value=7\n"));
  CHECK(has(res, "ign_after_run=1\n"));
}

TEST_CASE("R40 SIG_IGN or a host handler: a flood of SIGINTs across many short runs never reaches uvrun") {
  // Each run() checks the disposition anew (R40). Whatever the order of
  // its sigaction calls, no SIGINT may land on uvrun's handler while the
  // host's disposition is SIG_IGN or the host's own handler: two such
  // signals would kill a process that asked to ignore them.
  for (int host : {0, 1}) {
    CAPTURE(host);
    auto res = t::in_child(
        [host] {
          child_setup();
          if (host) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sigemptyset(&sa.sa_mask);
            sa.sa_handler = host_handler;
            sa.sa_flags = SA_RESTART;
            sigaction(SIGINT, &sa, nullptr);
          } else {
            signal(SIGINT, SIG_IGN);
          }
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
          printf("runs=%d failed=%d host_hits=%d\n", runs, bad, (int)host_hits);
          printf("kept=%d\n", host ? is_handler(host_handler) : is_handler(SIG_IGN));
          return 0;
        },
        [](int pid) {
          auto t0 = Clock::now();
          while (since(t0) < 1.8 && kill(pid, SIGINT) == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        });
    INFO("child output:\n" << res.output);
    CHECK(!res.signaled);
    CHECK(exited_ok(res));
    CHECK(has(res, "failed=0 "));
    CHECK(has(res, "kept=1\n"));
    if (host) CHECK(!has(res, "host_hits=0\n"));
  }
}

TEST_CASE("R40 a run on a non-main thread does not install: SIGINT keeps SIG_DFL and kills the process") {
  auto res = t::in_child(
      [] {
        child_setup();
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
            void *v;
            if (step == 0) {
              printf("thread_run2_dfl_during=%d\n", is_dfl());
              t::child_ready();
              return uvrun_task_await(task, uvrun_sleep(task, 60.0));
            }
            printf("main cancelled?\n");
            return uvrun_task_resume(task, &v);
          });
          printf("thread_run2 rc=%s\n", uvrun_err_name(rc));
        });
        th.join();
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(has(res, "thread_run1_dfl_during=1\n"));
  CHECK(has(res, "thread_run1 rc=0 dfl_after=1\n"));
  CHECK(has(res, "thread_run2_dfl_during=1\n"));
  CHECK(killed_by_sigint(res));
  CHECK(!has(res, "main cancelled?"));
}

TEST_CASE("R45 user code replaced the handler during the run: run leaves the replacement alone") {
  auto res = t::in_child(
      [] {
        child_setup();
        auto t0 = Clock::now();
        int rc = t::run([&](uvrun_task_t *task, int step) -> int {
          void *v;
          if (step == 0) {
            printf("installed=%d\n", !is_dfl());
            struct sigaction user;
            memset(&user, 0, sizeof user);
            sigemptyset(&user.sa_mask);
            user.sa_handler = host_handler;
            sigaction(SIGINT, &user, nullptr);
            t::child_ready();
          } else if (uvrun_task_resume(task, &v) < 0) {
            printf("main was cancelled\n");
            return uvrun_task_resume(task, &v);
          }
          if (host_hits > 0 || since(t0) > 10.0) return 0;
          return uvrun_task_await(task, uvrun_sleep(task, 0.02));
        });
        printf("rc=%d user_hits=%d\n", rc, (int)host_hits);
        printf("user_handler_after_run=%d\n", is_handler(host_handler));
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "installed=1\n"));
  CHECK(has(res, "rc=0 user_hits=1\n"));
  CHECK(has(res, "user_handler_after_run=1\n"));
  CHECK(!has(res, "main was cancelled"));
}

TEST_CASE("R33 interrupts do not carry over: a Runner's next run() starts from zero Ctrl-Cs") {
  Marks marks;
  auto res = t::in_child(
      [&marks] {
        child_setup();
        uvrun_runner_t *runner = nullptr;
        uvrun_runner_new(nullptr, &runner);
        t::Lambda run1{[](uvrun_task_t *task, int step) -> int {
          void *v;
          if (step == 0) {
            t::child_ready();
            return uvrun_task_await(task, uvrun_sleep(task, 60.0));
          }
          return uvrun_task_resume(task, &v);
        }};
        int rc = uvrun_runner_run(runner, t::Lambda::run, &run1, nullptr, nullptr);
        printf("run1=%s dfl=%d\n", uvrun_err_name(rc), is_dfl());
        // A Ctrl-C in this run is a first one again (R41: cancel), not a
        // second (R44: interrupt without cancelling).
        void *result = nullptr;
        t::Lambda run2{[&marks](uvrun_task_t *task, int step) -> int {
          void *v;
          if (step == 0) {
            printf("run2 installed=%d\n", !is_dfl());
            marks.mark();
            return uvrun_task_await(task, uvrun_sleep(task, 60.0));
          }
          int r = uvrun_task_resume(task, &v);
          printf("run2 resume=%s\n", uvrun_err_name(r));
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
      [&marks](int pid) {
        kill(pid, SIGINT);
        if (marks.wait(10.0)) kill(pid, SIGINT);
      });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "run1=UVRUN_E_INTERRUPTED dfl=1\n"));
  CHECK(has(res, "run2 installed=1\n"));
  CHECK(has(res, "run2 resume=UVRUN_E_CANCELLED\n"));
  CHECK(has(res, "run2 rc=0 value=5\n"));
  CHECK(has(res, "run3 rc=0 value=6\n"));
  CHECK(has(res, "close=0 dfl=1\n"));
}

TEST_CASE("R41 D3 exit status convention: re-raising SIGINT after UVRUN_E_INTERRUPTED is seen as killed by SIGINT (130)") {
  auto res = t::in_child(
      [] {
        child_setup();
        int rc = t::run([](uvrun_task_t *task, int step) { return sleep_then_cleanup(task, step, nullptr); });
        printf("rc=%s\n", uvrun_err_name(rc));
        if (rc == UVRUN_E_INTERRUPTED) {
          signal(SIGINT, SIG_DFL);
          raise(SIGINT);
        }
        printf("not reached\n");
        return 1;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(has(res, "cleanup: awaited rc=0\n"));
  CHECK(has(res, "rc=UVRUN_E_INTERRUPTED\n"));
  CHECK(killed_by_sigint(res));
  CHECK(128 + res.signo == 130);
  CHECK(!has(res, "not reached"));
}

TEST_CASE("R45 D3 after run() returns, SIGINT's disposition is exactly what it was (SIG_DFL)") {
  auto res = t::in_child(
      [] {
        child_setup();
        // SIG_DFL, but with flags and a mask that a plain reset would lose.
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        dfl.sa_flags = SA_RESTART;
        sigemptyset(&dfl.sa_mask);
        sigaddset(&dfl.sa_mask, SIGUSR1);
        sigaddset(&dfl.sa_mask, SIGTERM);
        sigaction(SIGINT, &dfl, nullptr);
        struct sigaction before = sigint_now();
        printf("dfl_before=%d flags_kept=%d\n", is_dfl(), (before.sa_flags & SA_RESTART) != 0);
        // A run that completes.
        int rc = t::run([](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            printf("installed=%d\n", !is_dfl());
            return uvrun_task_await(task, uvrun_sleep(task, 0.01));
          }
          return 0;
        });
        printf("normal rc=%d exact=%d\n", rc, same_sigaction(sigint_now(), before));
        // A run that fails.
        rc = t::run([](uvrun_task_t *, int) { return UVRUN_E_INVAL; });
        printf("failed rc=%s exact=%d\n", uvrun_err_name(rc), same_sigaction(sigint_now(), before));
        // A run ended by Ctrl-C.
        rc = t::run([](uvrun_task_t *task, int step) { return sleep_then_cleanup(task, step, nullptr); });
        printf("interrupted rc=%s exact=%d\n", uvrun_err_name(rc), same_sigaction(sigint_now(), before));
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  INFO("child output:\n" << res.output);
  CHECK(exited_ok(res));
  CHECK(has(res, "dfl_before=1 flags_kept=1\n"));
  CHECK(has(res, "installed=1\n"));
  CHECK(has(res, "normal rc=0 exact=1\n"));
  CHECK(has(res, "failed rc=UVRUN_E_TASK_FAILED exact=1\n"));
  CHECK(has(res, "interrupted rc=UVRUN_E_INTERRUPTED exact=1\n"));
}

// ---- the demo program (examples/demo.c) ----

namespace {
// build/tests/test-c-api -> build/examples/uvrun-demo; $UVRUN_DEMO wins.
std::string demo_path() {
  if (const char *env = getenv("UVRUN_DEMO")) return env;
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string p(self, (size_t)n);
  p = p.substr(0, p.rfind('/'));  // build/tests
  p = p.substr(0, p.rfind('/'));  // build
  p += "/examples/uvrun-demo";
  return access(p.c_str(), X_OK) == 0 ? p : "";
}

// The child prints "ready" and then becomes the demo (same pid).
t::ChildResult run_demo(const std::string &path, double interrupt_after) {
  return t::in_child(
      [path]() -> int {
        child_setup();
        t::child_ready();
        execl(path.c_str(), path.c_str(), (char *)nullptr);
        return 127;
      },
      [interrupt_after](int pid) {
        if (interrupt_after <= 0) return;
        std::this_thread::sleep_for(std::chrono::duration<double>(interrupt_after));
        kill(pid, SIGINT);
      });
}
}  // namespace

TEST_CASE("D3 R41 the demo finishes on its own, and a Ctrl-C makes it clean up and die by SIGINT (shell 130)") {
  std::string path = demo_path();
  if (path.empty()) {
    MESSAGE("uvrun-demo not built; set UVRUN_DEMO to its path to run this test");
    return;
  }
  auto done = run_demo(path, 0);
  {
    INFO("demo output:\n" << done.output);
    CHECK(exited_ok(done));
    CHECK(has(done, "summary:"));
    CHECK(has(done, "timed out"));
  }
  auto res = run_demo(path, 0.8);
  INFO("demo output:\n" << res.output);
  CHECK(has(res, "cleanup: "));
  CHECK(has(res, "interrupted: cleanup ran\n"));
  CHECK(!has(res, "summary:"));
  CHECK(killed_by_sigint(res));
}
