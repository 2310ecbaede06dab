// gather, gather_settled, shield, wait_for, timeout/timeout_at and
// TaskGroup: asyncio's structured-concurrency semantics (R51, R52).
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include "counted.h"

#include "support.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;
using uvrun::Task;

namespace {

using t::Counted;  // every value constructed must be destroyed exactly once

Task<int> after(std::chrono::milliseconds d, int v) {
  co_await uvrun::sleep(d);
  co_return v;
}

Task<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await uvrun::sleep(d);
  throw std::runtime_error(what);
}

// Sleeps long; records whether it was cancelled and cleaned up.
Task<void> sleeper(bool &cancelled) {
  try {
    co_await uvrun::sleep(10s);
  } catch (const uvrun::CancelledError &) {
    cancelled = true;
    throw;
  }
}

// Takes 2 ms to clean up once cancelled, then ends cancelled.
Task<void> slow_cleanup(bool &cleaned) {
  bool cancelled = false;
  try {
    co_await uvrun::sleep(10s);
  } catch (const uvrun::CancelledError &) {
    cancelled = true;
  }
  if (cancelled) {
    co_await uvrun::sleep(2ms);
    cleaned = true;
    throw uvrun::CancelledError();
  }
}

Task<Counted> counted_after(std::chrono::milliseconds d, int v) {
  Counted c(v);
  co_await uvrun::sleep(d);
  co_return c;
}

}  // namespace

// ---- gather ----

TEST_CASE("asyncio.gather returns results in argument order") {
  auto main = []() -> Task<bool> {
    auto h = uvrun::create_task(after(1ms, 2));
    uvrun::Future<std::string> f;
    f.set_result("three");
    auto [a, b, c, d] = co_await uvrun::gather(after(3ms, 1), h, f, []() -> Task<void> { co_return; }());
    static_assert(std::is_same_v<decltype(d), std::monostate>);
    co_return a == 1 && b == 2 && c == "three";
  };
  CHECK(uvrun::run(main()));
}

TEST_CASE("asyncio.gather moves results of the tasks it starts") {
  auto main = []() -> Task<int> {
    auto make = [](int v) -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(v); };
    auto [a, b] = co_await uvrun::gather(make(4), make(5));
    co_return *a + *b;
  };
  CHECK(uvrun::run(main()) == 9);
}

TEST_CASE("asyncio.gather raises the first failure; the other children keep running") {
  auto main = []() -> Task<void> {
    auto slow = uvrun::create_task(after(50ms, 1));
    CHECK_THROWS_WITH_AS(co_await uvrun::gather(fail_after(1ms, "first"), slow, fail_after(2ms, "second")), "first",
                         std::runtime_error);
    CHECK_FALSE(slow.done());
    CHECK(co_await slow == 1);
  };
  uvrun::run(main());
}

TEST_CASE("R52 gather_settled gives values, exceptions and CancelledError in order") {
  auto main = []() -> Task<void> {
    bool flag = false;
    auto victim = uvrun::create_task(sleeper(flag));
    victim.cancel("gone");
    auto [a, b, c] = co_await uvrun::gather_settled(after(1ms, 7), fail_after(1ms, "bad"), victim);
    CHECK(a.ok());
    CHECK(a.value() == 7);
    CHECK_FALSE(b.ok());
    CHECK_THROWS_WITH_AS(std::rethrow_exception(b.exception()), "bad", std::runtime_error);
    try {
      (void)c.value();
      FAIL("not cancelled");
    } catch (const uvrun::CancelledError &e) {
      CHECK(std::string(e.what()) == "gone");
    }
  };
  uvrun::run(main());
}

TEST_CASE("R52 cancelling a gather cancels its children and raises CancelledError even when settled") {
  auto main = []() -> Task<void> {
    bool c1 = false, c2 = false;
    auto g = uvrun::create_task([](bool &c1, bool &c2) -> Task<void> {
      (void)co_await uvrun::gather_settled(sleeper(c1), sleeper(c2));
    }(c1, c2));
    co_await uvrun::sleep(1ms);
    g.cancel();
    CHECK_THROWS_AS(co_await g, uvrun::CancelledError);
    CHECK(c1);
    CHECK(c2);
  };
  uvrun::run(main());
}

// ---- shield ----

TEST_CASE("asyncio.shield cancelling the awaiter does not cancel the inner task") {
  auto main = []() -> Task<int> {
    auto inner = uvrun::create_task(after(50ms, 11));
    auto outer = uvrun::create_task(
        [](uvrun::TaskHandle<int> inner) -> Task<int> { co_return co_await uvrun::shield(inner); }(inner));
    co_await uvrun::sleep(1ms);
    outer.cancel();
    CHECK_THROWS_AS(co_await outer, uvrun::CancelledError);
    CHECK_FALSE(inner.done());
    CHECK(co_await uvrun::shield(inner) == 11);  // not cancelled: result goes through
    co_return co_await uvrun::shield(inner);     // already done
  };
  CHECK(uvrun::run(main()) == 11);
}

TEST_CASE("asyncio.shield passes the inner exception through") {
  auto main = []() -> Task<void> {
    CHECK_THROWS_WITH_AS(co_await uvrun::shield(fail_after(1ms, "inner")), "inner", std::runtime_error);
  };
  uvrun::run(main());
}

// ---- wait_for ----

TEST_CASE("asyncio.wait_for returns the result when in time") {
  auto main = []() -> Task<int> {
    CHECK(uvrun::current_task().cancelling() == 0);
    int v = co_await uvrun::wait_for(after(1ms, 5), 1s);
    CHECK(uvrun::current_task().cancelling() == 0);
    co_return v;
  };
  CHECK(uvrun::run(main()) == 5);
}

TEST_CASE("asyncio.wait_for on timeout cancels the inner, waits for it, raises TimeoutError") {
  auto main = []() -> Task<void> {
    bool cleaned = false;
    CHECK_THROWS_AS(co_await uvrun::wait_for(slow_cleanup(cleaned), 1ms), uvrun::TimeoutError);
    CHECK(cleaned);
    CHECK(uvrun::current_task().cancelling() == 0);
    // A task handle too: it ends cancelled.
    bool flag = false;
    auto t = uvrun::create_task(sleeper(flag));
    CHECK_THROWS_AS(co_await uvrun::wait_for(t, 1ms), uvrun::TimeoutError);
    CHECK(t.cancelled());
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.wait_for an inner that swallows the cancellation gives its result") {
  auto main = []() -> Task<int> {
    auto stubborn = []() -> Task<int> {
      try {
        co_await uvrun::sleep(10s);
      } catch (const uvrun::CancelledError &) {
        co_return 9;
      }
      co_return 0;
    };
    co_return co_await uvrun::wait_for(stubborn(), 1ms);
  };
  CHECK(uvrun::run(main()) == 9);
}

TEST_CASE("asyncio.wait_for an outside cancellation is not turned into TimeoutError") {
  auto main = []() -> Task<void> {
    auto t = uvrun::create_task([]() -> Task<void> { co_await uvrun::wait_for(uvrun::sleep(10s), 5s); }());
    co_await uvrun::sleep(1ms);
    t.cancel();
    CHECK_THROWS_AS(co_await t, uvrun::CancelledError);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.wait_for values are destroyed once, in time or timed out") {
  Counted::reset_counts();
  auto main = []() -> Task<int> {
    Counted c = co_await uvrun::wait_for(counted_after(1ms, 3), 1s);
    CHECK_THROWS_AS(co_await uvrun::wait_for(counted_after(1s, 4), 1ms), uvrun::TimeoutError);
    co_return c.value;
  };
  CHECK(uvrun::run(main()) == 3);
  CHECK(Counted::alive() == 0);
}

// ---- timeout / timeout_at ----

TEST_CASE("asyncio.timeout converts its own cancellation into TimeoutError and is expired") {
  auto main = []() -> Task<void> {
    auto t = uvrun::timeout(1ms);
    try {
      co_await t.run(uvrun::sleep(10s));
      FAIL("no timeout");
    } catch (const uvrun::TimeoutError &e) {
      // raise TimeoutError from CancelledError
      CHECK_THROWS_AS(std::rethrow_if_nested(e), uvrun::CancelledError);
    }
    CHECK(t.expired());
    CHECK(uvrun::current_task().cancelling() == 0);
    CHECK_THROWS_AS(co_await t.run(uvrun::sleep(0s)), uvrun::RuntimeError);  // entered once
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.timeout in time gives the body's value; timeout_at(nullopt) never expires") {
  auto main = []() -> Task<int> {
    auto t = uvrun::timeout(1s);
    int a = co_await t.run(after(1ms, 1));
    CHECK_FALSE(t.expired());
    int b = co_await uvrun::timeout_at(std::nullopt).run(after(2ms, 2));
    co_return a + b;
  };
  CHECK(uvrun::run(main()) == 3);
}

TEST_CASE("asyncio.timeout reschedule moves the deadline from inside the body") {
  auto main = []() -> Task<void> {
    auto t = uvrun::timeout(1ms);
    CHECK_THROWS_AS(t.reschedule(std::nullopt), uvrun::RuntimeError);  // not entered
    auto body = [](uvrun::Timeout &t) -> Task<void> {
      t.reschedule(uvrun::loop_time() + 10.0);
      co_await uvrun::sleep(5ms);
      t.reschedule(uvrun::loop_time());  // now
      co_await uvrun::sleep(10s);
    };
    CHECK_THROWS_AS(co_await t.run(body(t)), uvrun::TimeoutError);
    CHECK(t.expired());
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.timeout nested: the inner expiry is the inner's TimeoutError only") {
  auto main = []() -> Task<int> {
    auto outer = uvrun::timeout(1s);
    auto body = []() -> Task<int> {
      try {
        co_await uvrun::timeout(1ms).run(uvrun::sleep(10s));
      } catch (const uvrun::TimeoutError &) {
        co_return 1;
      }
      co_return 0;
    };
    int v = co_await outer.run(body());
    CHECK_FALSE(outer.expired());
    co_return v;
  };
  CHECK(uvrun::run(main()) == 1);
}

TEST_CASE("asyncio.timeout an outside cancellation during expiry is not swallowed") {
  auto main = []() -> Task<void> {
    auto t = uvrun::create_task(
        []() -> Task<void> { co_await uvrun::timeout_at(uvrun::loop_time()).run(uvrun::sleep(10s)); }());
    co_await uvrun::yield();  // t is waiting; its timeout is queued
    t.cancel();               // a second, outside cancellation
    CHECK_THROWS_AS(co_await t, uvrun::CancelledError);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.timeout racing completion: a deadline that fires before the task resumes wins") {
  auto main = []() -> Task<void> {
    uvrun::Future<int> f;
    // The result and the deadline land in the same loop iteration; the
    // task has not resumed yet, so the cancellation is delivered (asyncio).
    uvrun_loop_call_soon(
        uvrun::running_loop(), [](void *p) { static_cast<uvrun::Future<int> *>(p)->set_result(1); }, &f, nullptr);
    auto t = uvrun::timeout_at(uvrun::loop_time());
    CHECK_THROWS_AS(co_await t.run(f), uvrun::TimeoutError);
    CHECK(f.done());
    // Completing first leaves no cancellation behind.
    auto t2 = uvrun::timeout(1s);
    CHECK(co_await t2.run(after(0ms, 2)) == 2);
    CHECK(uvrun::current_task().cancelling() == 0);
    co_await uvrun::sleep(0s);  // no cancellation left to arrive
  };
  uvrun::run(main());
}

// ---- TaskGroup ----

TEST_CASE("asyncio.TaskGroup waits for every child") {
  auto main = []() -> Task<int> {
    uvrun::TaskGroup g;
    auto a = g.create_task(after(2ms, 1));
    auto b = g.create_task(after(1ms, 2));
    co_await g;
    CHECK(a.done());
    CHECK_THROWS_AS(g.create_task(after(1ms, 3)), uvrun::RuntimeError);  // finished
    co_return a.result() + b.result();
  };
  CHECK(uvrun::run(main()) == 3);
}

TEST_CASE("asyncio.TaskGroup a failing child cancels siblings and the body; errors are grouped") {
  auto main = []() -> Task<void> {
    bool sibling = false, body_cancelled = false;
    uvrun::TaskGroup g;
    auto body = [](uvrun::TaskGroup &g, bool &sibling, bool &body_cancelled) -> Task<void> {
      g.create_task(sleeper(sibling));
      g.create_task(fail_after(1ms, "one"));
      g.create_task(fail_after(1ms, "two"));
      try {
        co_await uvrun::sleep(10s);
      } catch (const uvrun::CancelledError &) {
        body_cancelled = true;
        throw;
      }
    };
    try {
      co_await g.run(body(g, sibling, body_cancelled));
      FAIL("no ExceptionGroup");
    } catch (const uvrun::ExceptionGroup &eg) {
      CHECK(std::string(eg.what()) == "unhandled errors in a TaskGroup (2 sub-exceptions)");
      REQUIRE(eg.exceptions().size() == 2);
      CHECK_THROWS_WITH(std::rethrow_exception(eg.exceptions()[0]), "one");
      CHECK_THROWS_WITH(std::rethrow_exception(eg.exceptions()[1]), "two");
    }
    CHECK(sibling);
    CHECK(body_cancelled);
    CHECK(uvrun::current_task().cancelling() == 0);  // the group's cancel was taken back
    co_await uvrun::sleep(1ms);                      // and the task goes on
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.TaskGroup an error in the body cancels the children and joins the group") {
  auto main = []() -> Task<void> {
    bool child = false;
    uvrun::TaskGroup g;
    auto body = [](uvrun::TaskGroup &g, bool &child) -> Task<int> {
      g.create_task(sleeper(child));
      co_await uvrun::yield();
      throw std::logic_error("body");
    };
    try {
      (void)co_await g.run(body(g, child));
    } catch (const uvrun::ExceptionGroup &eg) {
      REQUIRE(eg.exceptions().size() == 1);
      CHECK_THROWS_AS(std::rethrow_exception(eg.exceptions()[0]), std::logic_error);
    }
    CHECK(child);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.TaskGroup cancelling the parent cancels the children and propagates") {
  auto main = []() -> Task<void> {
    bool c1 = false, c2 = false;
    auto parent = uvrun::create_task([](bool &c1, bool &c2) -> Task<void> {
      uvrun::TaskGroup g;
      g.create_task(sleeper(c1));
      g.create_task(sleeper(c2));
      co_await g;  // cancelled while waiting for the children
    }(c1, c2));
    co_await uvrun::sleep(1ms);
    parent.cancel();
    CHECK_THROWS_AS(co_await parent, uvrun::CancelledError);
    CHECK(parent.cancelled());
    CHECK(c1);
    CHECK(c2);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.TaskGroup an outside cancellation beside a child error keeps the cancel count") {
  auto main = []() -> Task<void> {
    int seen = -1;
    uvrun::Event hit, go;
    // Once cancelled, tells us and holds the group in its exit until `go`.
    auto holder = [](uvrun::Event &hit, uvrun::Event &go) -> Task<void> {
      bool cancelled = false;
      try {
        co_await uvrun::sleep(10s);
      } catch (const uvrun::CancelledError &) {
        cancelled = true;
      }
      hit.set();
      co_await go.wait();
      if (cancelled) throw uvrun::CancelledError();
    };
    auto parent = uvrun::create_task([](int &seen, auto holder, uvrun::Event &hit, uvrun::Event &go) -> Task<void> {
      uvrun::TaskGroup g;
      auto body = [](uvrun::TaskGroup &g, Task<void> held) -> Task<void> {
        g.create_task(fail_after(1ms, "child"));
        g.create_task(std::move(held));
        co_await uvrun::sleep(10s);
      };
      try {
        co_await g.run(body(g, holder(hit, go)));
      } catch (const uvrun::ExceptionGroup &) {
        seen = uvrun::current_task().cancelling();
      }
      co_await uvrun::yield();  // the outside cancellation arrives here
    }(seen, holder, hit, go));
    co_await hit.wait();  // the child failed; the group cancelled the parent and the holder
    parent.cancel();      // and so do we, while the group waits
    go.set();
    CHECK_THROWS_AS(co_await parent, uvrun::CancelledError);
    CHECK(seen == 1);  // the group's request was taken back, ours stays
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.TaskGroup refuses new tasks while shutting down") {
  auto main = []() -> Task<void> {
    uvrun::TaskGroup g;
    auto body = [](uvrun::TaskGroup &g) -> Task<void> {
      g.create_task(fail_after(0ms, "x"));
      try {
        co_await uvrun::sleep(10s);
      } catch (const uvrun::CancelledError &) {
        CHECK_THROWS_WITH_AS(g.create_task(after(1ms, 1)), "TaskGroup is shutting down", uvrun::RuntimeError);
        throw;
      }
    };
    CHECK_THROWS_AS(co_await g.run(body(g)), uvrun::ExceptionGroup);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.TaskGroup values of children are destroyed once, done or cancelled") {
  Counted::reset_counts();
  auto main = []() -> Task<int> {
    int v = 0;
    {
      uvrun::TaskGroup g;
      auto a = g.create_task(counted_after(1ms, 5));
      g.create_task(counted_after(1s, 6));
      g.create_task(fail_after(30ms, "stop"));
      try {
        co_await g;
      } catch (const uvrun::ExceptionGroup &) {
      }
      v = a.result().value;
    }
    co_return v;
  };
  CHECK(uvrun::run(main()) == 5);
  CHECK(Counted::alive() == 0);
}
