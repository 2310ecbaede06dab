// C++ context variables: Context, ContextVar<T>, tokens, and how tasks and
// runners use contexts (R31, X7).
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <string>

#include "counted.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {
uvrun::ContextVar<std::string> request_id("request_id");
uvrun::ContextVar<int> depth("depth", 0);
uvrun::ContextVar<t::Counted> counted("counted");

// Runs fn in a fresh empty context, so the thread's own stays clean.
template <class F>
void in_fresh_context(F fn) {
  uvrun::Context ctx;
  ctx.run(fn);
}
}  // namespace

TEST_CASE("R31 ContextVar get, set, reset and LookupError") {
  in_fresh_context([] {
    CHECK(request_id.name() == "request_id");
    CHECK_THROWS_AS(request_id.get(), uvrun::LookupError);
    CHECK(request_id.get("none") == "none");
    CHECK(depth.get() == 0);
    CHECK(depth.get(7) == 7);  // the method's fallback comes before the default
    uvrun::Token t1 = request_id.set("a");
    uvrun::Token t2 = request_id.set("b");
    CHECK(request_id.get() == "b");
    CHECK(request_id.get("none") == "b");
    request_id.reset(t2);
    CHECK(request_id.get() == "a");
    request_id.reset(t1);
    CHECK_THROWS_AS(request_id.get(), uvrun::LookupError);
  });
}

TEST_CASE("R31 a token is single use and belongs to its variable") {
  in_fresh_context([] {
    uvrun::Token t = depth.set(1);
    depth.reset(t);
    CHECK(t.used());
    try {
      depth.reset(t);
      FAIL("no exception");
    } catch (const uvrun::RuntimeError &e) {
      CHECK(e.code() == UVRUN_E_TOKEN_USED);
      CHECK(std::string(e.what()) == "Token has already been used once");
    }
    uvrun::ContextVar<int> other("other");
    uvrun::Token wrong = other.set(1);
    try {
      depth.reset(wrong);
      FAIL("no exception");
    } catch (const uvrun::Error &e) {
      CHECK(e.code() == UVRUN_E_TOKEN_MISMATCH);
    }
  });
}

TEST_CASE("R31 Context.run: results, exceptions, and no re-entry") {
  uvrun::Context ctx;
  CHECK(ctx.run([] { return depth.set(3).used(); }) == false);
  CHECK(ctx.get(depth) == 3);
  CHECK(depth.get() == 0);  // outside ctx nothing changed
  CHECK_THROWS_AS(ctx.run([]() -> int { throw std::runtime_error("inside"); }), std::runtime_error);
  ctx.run([&] { CHECK_THROWS_AS(ctx.run([] {}), uvrun::RuntimeError); });
}

TEST_CASE("R31 Context.get ignores the variable's default; copies are snapshots") {
  uvrun::Context ctx;
  CHECK_FALSE(ctx.get(depth).has_value());
  ctx.run([] { depth.set(5); });
  uvrun::Context snapshot = ctx.copy();
  ctx.run([] { depth.set(6); });
  CHECK(ctx.get(depth) == 6);
  CHECK(snapshot.get(depth) == 5);
}

TEST_CASE("X7 C and C++ share the variables: a C context copy sees a C++ set") {
  uvrun::Context ctx;
  uvrun_context_t *from_c = nullptr;
  ctx.run([&] {
    request_id.set("from C++");
    REQUIRE(uvrun_context_copy_current(&from_c) == 0);  // a C caller's snapshot
  });
  uvrun::Context adopted(from_c);
  CHECK(adopted.get(request_id) == "from C++");
  void *raw = nullptr;
  CHECK(uvrun_context_get(adopted, request_id.capi(), &raw) == 0);
  CHECK(raw != nullptr);
}

TEST_CASE("R31 a value lives while any context copy or token holds it") {
  t::Counted::reset_counts();
  {
    uvrun::Context ctx;
    std::optional<uvrun::Context> snapshot;
    std::optional<uvrun::Token> token;
    ctx.run([&] {
      counted.set(t::Counted(1));
      snapshot.emplace(uvrun::Context::copy_current());
      token.emplace(counted.set(t::Counted(2)));  // the token holds value 1 too
      counted.set(t::Counted(3));
    });
    CHECK(t::Counted::alive() == 2);  // 1 (snapshot and token) and 3 (ctx)
    CHECK(snapshot->get(counted)->value == 1);
    snapshot.reset();
    CHECK(t::Counted::alive() == 2);  // the token still holds 1
    token.reset();
    CHECK(t::Counted::alive() == 1);
    CHECK(ctx.get(counted)->value == 3);
  }
  CHECK(t::Counted::alive() == 0);
}

namespace {
uvrun::Task<int> read_then_write(int value) {
  int old = depth.get();
  co_await uvrun::sleep(0ms);
  depth.set(value);
  co_return old;
}
}  // namespace

TEST_CASE("R31 a task copies the context when created; its writes do not leak back") {
  auto main = []() -> uvrun::Task<std::string> {
    depth.set(1);
    auto child = uvrun::create_task(read_then_write(2));
    depth.set(10);  // after the copy: the child does not see it
    int seen = co_await child;
    co_return std::to_string(seen) + " " + std::to_string(depth.get());
  };
  CHECK(uvrun::run(main()) == "1 10");
  CHECK(depth.get() == 0);  // run() worked in a copy of ours
}

TEST_CASE("R31 A23 a Runner keeps one context across runs; run(task, ctx) uses ctx") {
  uvrun::Runner runner;
  CHECK(runner.run(read_then_write(1)) == 0);
  CHECK(runner.run(read_then_write(2)) == 1);  // the first run's write persisted
  uvrun::Context mine;
  CHECK(runner.run(read_then_write(42), mine) == 0);
  CHECK(mine.get(depth) == 42);
  CHECK(runner.run(read_then_write(3)) == 2);  // the runner's own is untouched
  auto snapshot = []() -> uvrun::Task<uvrun::Context> { co_return uvrun::Context::copy_current(); };
  uvrun::Context last = runner.run(snapshot());
  CHECK(last.get(depth) == 3);
  CHECK(depth.get() == 0);
}

TEST_CASE("R31 counted values set in tasks are freed with the runner's contexts") {
  t::Counted::reset_counts();
  {
    uvrun::Runner runner;
    auto main = []() -> uvrun::Task<int> {
      counted.set(t::Counted(7));
      auto child = uvrun::create_task([]() -> uvrun::Task<int> {
        co_await uvrun::sleep(1ms);
        counted.set(t::Counted(8));  // in the child's copy only
        co_return counted.get().value;
      }());
      co_return co_await child + counted.get().value;
    };
    CHECK(runner.run(main()) == 15);
    CHECK(t::Counted::alive() >= 1);  // the runner's context holds 7
  }
  CHECK(t::Counted::alive() == 0);
}
