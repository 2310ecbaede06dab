// wait_for_signal(): real signals in child processes, cancellation and the
// handle's close in-process (X5).
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <signal.h>

#include <cstdio>
#include <string>

#include "sigint_support.h"
#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {

bool disposition_is_default(int signum) {
  struct sigaction now;
  sigaction(signum, nullptr, &now);
  return now.sa_handler == SIG_DFL;
}

}  // namespace

TEST_CASE("X5 wait_for_signal completes with the signal the process receives") {
  auto res = t::in_child(
      [] {
        auto main = []() -> uvrun::Task<int> {
          auto usr1 = uvrun::wait_for_signal(SIGUSR1);  // watching from here on
          t::child_ready();
          co_return co_await usr1;
        };
        int got = uvrun::run(main());
        CHILD_EXPECT(got == SIGUSR1, 2);
        CHILD_EXPECT(disposition_is_default(SIGUSR1), 3);
        return 0;
      },
      [](int pid) { kill(pid, SIGUSR1); });
  t::check_child(res);
}

TEST_CASE("X5 SIGTERM mapped to cancelling the main task: cleanup awaits, then it ends") {
  auto res = t::in_child(
      [] {
        auto main = []() -> uvrun::Task<std::string> {
          auto main_task = uvrun::current_task();
          auto on_term = uvrun::create_task([](uvrun::TaskHandle<> m) -> uvrun::Task<void> {
            co_await uvrun::wait_for_signal(SIGTERM);
            m.cancel();
          }(main_task));
          co_await uvrun::yield();  // the watcher is installed
          t::child_ready();
          try {
            co_await uvrun::sleep(10s);
          } catch (const uvrun::CancelledError &) {
          }
          co_await uvrun::sleep(1ms);  // cleanup may await
          co_return "cleaned up";
        };
        std::string out = uvrun::run(main());
        CHILD_EXPECT(out == "cleaned up", 2);
        return 0;
      },
      [](int pid) { kill(pid, SIGTERM); });
  t::check_child(res);
}

TEST_CASE("X5 a cancelled wait_for_signal closes its handle and restores the default") {
  t::LogCapture log;
  auto main = []() -> uvrun::Task<std::string> {
    auto waiter =
        uvrun::create_task([]() -> uvrun::Task<int> { co_return co_await uvrun::wait_for_signal(SIGUSR2); }());
    co_await uvrun::sleep(1ms);
    CHECK_FALSE(disposition_is_default(SIGUSR2));  // libuv watches it
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const uvrun::CancelledError &) {
      co_return "cancelled";
    }
    co_return "not cancelled";
  };
  CHECK(uvrun::run(main()) == "cancelled");
  CHECK(disposition_is_default(SIGUSR2));
  CHECK_FALSE(log.contains("unclosed handle"));
}

TEST_CASE("X5 a wait_for_signal never awaited is closed with its awaiter") {
  t::LogCapture log;
  auto main = []() -> uvrun::Task<void> {
    { auto unused = uvrun::wait_for_signal(SIGUSR2); }
    co_await uvrun::sleep(1ms);
  };
  uvrun::run(main());
  CHECK(disposition_is_default(SIGUSR2));
  CHECK_FALSE(log.contains("unclosed handle"));
}

TEST_CASE("X5 wait_for_signal outside a running loop raises RuntimeError") {
  CHECK_THROWS_AS(uvrun::wait_for_signal(SIGUSR2), uvrun::RuntimeError);
}

TEST_CASE("X6 Options::host_sigint: a run takes Ctrl-C over from the host's handler and puts it back exactly") {
  auto res = t::in_child(
      [] {
        t::sigint_handler(t::host_sigint_handler, SA_RESTART);
        struct sigaction before = t::sigint_now();
        auto main = []() -> uvrun::Task<int> {
          t::child_ready();
          co_await uvrun::sleep(10s);
          co_return 1;
        };
        uvrun::Options options;
        options.host_sigint = true;
        bool interrupted = false;
        try {
          uvrun::run(main(), options);
        } catch (const uvrun::KeyboardInterrupt &) {
          interrupted = true;
        }
        CHILD_EXPECT(interrupted, 2);
        CHILD_EXPECT(t::host_sigints == 0, 3);
        CHILD_EXPECT(t::same_sigaction(t::sigint_now(), before), 4);
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  t::check_child(res);
}
