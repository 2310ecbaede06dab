// L1, L2: a C++ Server's handlers still suspended when their loop goes --
// abandoned by the runner's close, or dropped by uvrun_loop_free() with no
// runner -- have their coroutine frames destroyed, and what the frames
// held with them.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <chrono>

#include "counted.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;
using t::Counted;
using uvrun::Task;

namespace {

// A handler whose frame holds a Counted while it waits for a line; with
// `stubborn` it ignores cancellation.
uvrun::Handler waiting_handler(bool stubborn) {
  return [stubborn](uvrun::Stream s) -> Task<void> {
    Counted held(1);
    for (;;) {
      try {
        co_await s.read_until("\n");
      } catch (const uvrun::CancelledError &) {
        if (!stubborn) throw;
      }
    }
  };
}

// Serves two connections whose handlers stay suspended, and returns.
Task<void> serve_and_leave(bool stubborn) {
  uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
  server.serve(waiting_handler(stubborn));
  uvrun::Stream a = co_await uvrun::tcp::connect("127.0.0.1", server.port());
  uvrun::Stream b = co_await uvrun::tcp::connect("127.0.0.1", server.port());
  while (server.info().accepted < 2) co_await uvrun::sleep(1ms);
  co_await uvrun::sleep(10ms);
  CHECK(Counted::alive() == 2);
}

}  // namespace

TEST_CASE("L1 L2: C++ handlers that ignore cancellation are destroyed by the runner's close") {
  Counted::reset_counts();
  uvrun::Options opts;
  opts.cancel_timeout = 50ms;
  uvrun::run(serve_and_leave(true), opts);
  CHECK(Counted::made > 0);
  CHECK(Counted::alive() == 0);
}

TEST_CASE("L2: C++ handlers suspended when their loop is freed with no runner are destroyed") {
  Counted::reset_counts();
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  uvrun_task_opts_t opts{sizeof opts, nullptr, nullptr, uvrun::detail::destroy_frame, nullptr};
  uvrun_task_t *main = nullptr;
  REQUIRE(uvrun_task_new(loop, uvrun::detail::step<void>, serve_and_leave(false).take().address(), &opts, &main) == 0);
  CHECK(uvrun_loop_run_until_complete(loop, uvrun_task_future(main), nullptr) == 0);
  uvrun_task_unref(main);
  CHECK(Counted::alive() == 2);
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(Counted::made > 0);
  CHECK(Counted::alive() == 0);
}
