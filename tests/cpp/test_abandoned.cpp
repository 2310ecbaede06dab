// What the loop frees when its runner gives up on tasks that ignore
// cancellation (X2's cancel_timeout) and closes with them pending: awaitables
// that hold references to each other must not keep their tasks alive.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include "counted.h"
#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;
using t::Counted;
using uvrun::Task;

namespace {

// Awaits what `await_once` makes, again after every cancellation. `held`
// lives in the frame: it is destroyed only if the frame is.
template <class F>
Task<void> ignore_cancellation(F await_once, Counted held = Counted(1)) {
  for (;;) {
    try {
      co_await await_once();
    } catch (const uvrun::CancelledError &) {
    }
  }
}

Task<void> never() {
  uvrun::Future<int> never_set;
  co_await never_set;
}

// Runs main with a short X2 deadline; returns how many tasks the shutdown
// abandoned.
std::size_t run_abandoning(Task<void> main) {
  t::LogCapture logs;
  uvrun::Options opts;
  opts.cancel_timeout = 50ms;
  uvrun::run(std::move(main), opts);
  return logs.count("ignored cancellation");
}

}  // namespace

TEST_CASE("X2 a TaskGroup whose parent and child are abandoned at loop close frees both") {
  Counted::reset_counts();
  auto main = []() -> Task<void> {
    uvrun::create_task([]() -> Task<void> {
      uvrun::TaskGroup group;
      group.create_task(ignore_cancellation(never));
      co_await group.run(ignore_cancellation(never));  // the body never ends either
    }());
    co_await uvrun::sleep(1ms);
  };
  CHECK(run_abandoning(main()) == 2);  // the parent and its child
  CHECK(Counted::made > 0);
  CHECK(Counted::alive() == 0);  // every frame was destroyed
}

TEST_CASE("X2 a shield whose awaiter and inner task are abandoned at loop close frees both") {
  Counted::reset_counts();
  // Each of the shield's two futures has a callback holding the other.
  auto main = []() -> Task<void> {
    auto inner = uvrun::create_task(ignore_cancellation(never));
    uvrun::create_task(ignore_cancellation([inner]() -> Task<void> { co_await uvrun::shield(inner); }));
    co_await uvrun::sleep(1ms);
  };
  CHECK(run_abandoning(main()) == 2);  // the awaiter and the inner task
  CHECK(Counted::made > 0);
  CHECK(Counted::alive() == 0);
}
