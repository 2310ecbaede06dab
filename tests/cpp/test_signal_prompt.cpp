// Ctrl-C in C++: acted on before the next step runs, busy loop or idle, and
// one that comes in the main task's last step still interrupts the run
// (R41, R42, R44). Each scenario runs in a forked child that sends SIGINT
// to itself, so where it lands is exact.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "sigint_support.h"
#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {

// Runs body in a child with SIGINT at SIG_DFL; it prints what it saw.
t::ChildResult in_child(std::function<int()> body) {
  return t::in_child([body = std::move(body)] {
    t::sigint_default();
    return body();
  });
}

void check(const t::ChildResult &res, std::initializer_list<const char *> lines) {
  INFO("child output:\n" << res.output);
  CHECK(res.exited_ok());
  for (const char *line : lines) {
    CAPTURE(line);
    CHECK(res.has(line));
  }
}

}  // namespace

TEST_CASE("R41 C++: a Ctrl-C during a busy step ends the next co_await yield() with CancelledError") {
  auto res = in_child([] {
    auto main = []() -> uvrun::Task<int> {
      kill(getpid(), SIGINT);
      try {
        co_await uvrun::yield();
      } catch (const uvrun::CancelledError &) {
        printf("cancelled cancelling=%d\n", uvrun::current_task().cancelling());
        throw;
      }
      co_return 7;
    };
    try {
      int v = uvrun::run(main());
      printf("returned %d\n", v);
    } catch (const uvrun::KeyboardInterrupt &) {
      printf("KeyboardInterrupt\n");
    }
    return 0;
  });
  check(res, {"cancelled cancelling=1\n", "KeyboardInterrupt\n"});
}

TEST_CASE("R41 R42 C++: cancelled once, then interrupted in the same step: cancelling() == 2, CancelledError") {
  auto res = in_child([] {
    auto main = []() -> uvrun::Task<void> {
      uvrun::current_task().cancel();
      kill(getpid(), SIGINT);
      try {
        co_await uvrun::yield();
      } catch (const uvrun::CancelledError &) {
        printf("cancelling=%d\n", uvrun::current_task().cancelling());
        throw;
      }
    };
    try {
      uvrun::run(main());
    } catch (const uvrun::KeyboardInterrupt &) {
      printf("KeyboardInterrupt\n");
    } catch (const uvrun::CancelledError &) {
      printf("CancelledError\n");
    }
    return 0;
  });
  check(res, {"cancelling=2\n", "CancelledError\n"});
}

TEST_CASE("R44 C++: a Ctrl-C in the main task's last step interrupts the run") {
  auto res = in_child([] {
    auto main = []() -> uvrun::Task<int> {
      kill(getpid(), SIGINT);
      co_return 7;
    };
    try {
      int v = uvrun::run(main());
      printf("returned %d\n", v);
    } catch (const uvrun::KeyboardInterrupt &) {
      printf("KeyboardInterrupt\n");
    }
    printf("dfl_after=%d\n", t::sigint_is(SIG_DFL));
    return 0;
  });
  check(res, {"KeyboardInterrupt\n", "dfl_after=1\n"});
}

TEST_CASE("R41 C++: a Ctrl-C while the loop sleeps cancels the sleep at once") {
  auto res = t::in_child(
      [] {
        t::sigint_default();
        auto main = []() -> uvrun::Task<void> {
          t::child_ready();
          try {
            co_await uvrun::sleep(60s);
          } catch (const uvrun::CancelledError &) {
            printf("sleep cancelled\n");
            throw;
          }
        };
        try {
          uvrun::run(main());
        } catch (const uvrun::KeyboardInterrupt &) {
          printf("KeyboardInterrupt\n");
        }
        return 0;
      },
      [](int pid) { kill(pid, SIGINT); });
  check(res, {"sleep cancelled\n", "KeyboardInterrupt\n"});
}
