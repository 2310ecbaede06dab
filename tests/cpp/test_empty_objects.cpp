// C++ objects that hold nothing (default-constructed, or moved from): every
// use throws InvalidStateError (UVRUN_E_INVALID_STATE), never dereferences
// null.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <optional>
#include <utility>

TEST_SUITE_BEGIN("cpp");

namespace {

uvrun::Task<int> seven() { co_return 7; }

uvrun::AsyncGenerator<int> one_two() {
  co_yield 1;
  co_yield 2;
}

// Whether `fn` throws InvalidStateError with its code.
template <class F>
bool invalid_state(F &&fn) {
  try {
    fn();
  } catch (const uvrun::InvalidStateError &e) {
    return e.code() == UVRUN_E_INVALID_STATE;
  }
  return false;
}

// The same for an await, inside a task.
template <class F>
uvrun::Task<bool> await_invalid_state(F make_awaitable) {
  try {
    co_await make_awaitable();
  } catch (const uvrun::InvalidStateError &e) {
    co_return e.code() == UVRUN_E_INVALID_STATE;
  }
  co_return false;
}

}  // namespace

TEST_CASE("an empty Task: awaiting it, running it or starting it as a task throws InvalidStateError") {
  auto main = []() -> uvrun::Task<int> {
    uvrun::Task<int> none;
    CHECK(co_await await_invalid_state([&]() -> uvrun::Task<int> & { return none; }));
    uvrun::Task<int> full = seven();
    uvrun::Task<int> taken = std::move(full);
    CHECK(co_await await_invalid_state([&] { return std::move(full); }));
    CHECK(invalid_state([&] { (void)uvrun::create_task(std::move(full)); }));
    co_return co_await std::move(taken);  // the one moved to still runs
  };
  CHECK(uvrun::run(main()) == 7);
  CHECK(invalid_state([] { uvrun::run(uvrun::Task<int>()); }));
  uvrun::Runner runner;
  CHECK(invalid_state([&] { runner.run(uvrun::Task<int>()); }));
  CHECK(runner.run(seven()) == 7);  // the runner is still usable
}

TEST_CASE("an empty TaskHandle: awaiting it and every query throw InvalidStateError") {
  auto main = []() -> uvrun::Task<int> {
    uvrun::TaskHandle<int> none;
    CHECK_FALSE(none);
    CHECK(co_await await_invalid_state([&]() -> const uvrun::TaskHandle<int> & { return none; }));
    CHECK(invalid_state([&] { none.result(); }));
    CHECK(invalid_state([&] { (void)none.done(); }));
    CHECK(invalid_state([&] { (void)none.cancelled(); }));
    CHECK(invalid_state([&] { none.cancel(); }));
    CHECK(invalid_state([&] { (void)none.cancelling(); }));
    CHECK(invalid_state([&] { none.uncancel(); }));
    CHECK(invalid_state([&] { (void)none.name(); }));
    CHECK(invalid_state([&] { none.set_name("x"); }));
    uvrun::TaskHandle<int> started = uvrun::create_task(seven());
    uvrun::TaskHandle<int> moved = std::move(started);
    CHECK(co_await await_invalid_state([&]() -> const uvrun::TaskHandle<int> & { return started; }));
    co_return co_await moved;
  };
  CHECK(uvrun::run(main()) == 7);
}

TEST_CASE("D9 an AsyncGenerator moved from: next(), aclose() and done() throw InvalidStateError") {
  auto main = []() -> uvrun::Task<int> {
    auto gen = one_two();
    auto moved = std::move(gen);
    CHECK(co_await await_invalid_state([&] { return gen.next(); }));
    CHECK(invalid_state([&] { (void)gen.aclose(); }));
    CHECK(invalid_state([&] { (void)gen.done(); }));
    std::optional<int> first = co_await moved.next();
    co_await moved.aclose();
    co_return first.value_or(0);
  };
  CHECK(uvrun::run(main()) == 1);
}

TEST_CASE("a Future moved from: awaiting it, setting it and every query throw InvalidStateError") {
  auto main = []() -> uvrun::Task<int> {
    uvrun::Future<int> fut;
    uvrun::Future<int> moved = std::move(fut);
    CHECK(co_await await_invalid_state([&]() -> const uvrun::Future<int> & { return fut; }));
    CHECK(invalid_state([&] { fut.set_result(1); }));
    CHECK(invalid_state([&] { fut.set_exception(nullptr); }));
    CHECK(invalid_state([&] { fut.cancel(); }));
    CHECK(invalid_state([&] { (void)fut.done(); }));
    CHECK(invalid_state([&] { (void)fut.cancelled(); }));
    CHECK(invalid_state([&] { fut.result(); }));
    CHECK(invalid_state([&] { (void)fut.exception(); }));
    CHECK(invalid_state([] { (void)uvrun::Future<int>::adopt(nullptr).done(); }));
    moved.set_result(7);
    co_return co_await moved;
  };
  CHECK(uvrun::run(main()) == 7);
}

TEST_CASE("an awaitable moved from (to_thread's) throws InvalidStateError when awaited") {
  auto main = []() -> uvrun::Task<int> {
    auto job = uvrun::to_thread([] { return 7; });
    auto moved = std::move(job);
    CHECK(co_await await_invalid_state([&] { return std::move(job); }));
    co_return co_await std::move(moved);
  };
  CHECK(uvrun::run(main()) == 7);
}

TEST_CASE("X7 a Context or Token moved from throws InvalidStateError") {
  static uvrun::ContextVar<int> var("empty_objects_var");
  uvrun::Context ctx;
  uvrun::Context moved = std::move(ctx);
  CHECK(invalid_state([&] { (void)ctx.copy(); }));
  CHECK(invalid_state([&] { ctx.run([] {}); }));
  CHECK(invalid_state([&] { (void)ctx.get(var); }));
  moved.run([] {
    uvrun::Token token = var.set(1);
    uvrun::Token kept = std::move(token);
    CHECK(invalid_state([&] { var.reset(token); }));
    var.reset(kept);
  });
}
