// AsyncGenerator<T>: co_yield with co_await, aclose(), the loop's finalizer
// and shutdown (D9, R55-R57). Counted values check that every object made
// is destroyed exactly once, whichever way the generator ends.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "counted.h"
#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {

std::vector<std::string> events;

// Yields 0, 1, ... n-1, sleeping before each; its cleanup awaits.
uvrun::AsyncGenerator<t::Counted> ticks(int n, std::string name = "ticks") {
  t::Counted local(100);  // destroyed with the frame
  bool closing = false;
  for (int i = 0; i < n && !closing; i++) {
    co_await uvrun::sleep(1ms);
    try {
      co_yield t::Counted(i);
    } catch (const uvrun::GeneratorExit &) {
      closing = true;
    }
  }
  if (closing) {
    events.push_back(name + " cleanup start");
    co_await uvrun::sleep(20ms);
    events.push_back(name + " cleanup end");
  }
}

}  // namespace

TEST_CASE("D9 co_yield and co_await in one body; next() ends with nullopt") {
  t::Counted::reset_counts();
  auto main = []() -> uvrun::Task<std::vector<int>> {
    std::vector<int> got;
    auto gen = ticks(3);
    while (auto v = co_await gen.next()) got.push_back(v->value);
    CHECK(gen.done());
    CHECK_FALSE(co_await gen.next());  // stays exhausted
    co_return got;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{0, 1, 2});
  CHECK(t::Counted::alive() == 0);
}

TEST_CASE("D9 an exception thrown in the body comes out of next()") {
  auto failing = []() -> uvrun::AsyncGenerator<int> {
    co_yield 1;
    co_await uvrun::sleep(1ms);
    throw std::runtime_error("generator broke");
  };
  auto main = [failing]() -> uvrun::Task<std::string> {
    auto gen = failing();
    CHECK(*co_await gen.next() == 1);
    std::string caught = "missed";
    try {
      co_await gen.next();
    } catch (const std::runtime_error &e) {
      caught = e.what();
    }
    CHECK_FALSE(co_await gen.next());  // finished by its exception
    co_return caught;
  };
  CHECK(uvrun::run(main()) == "generator broke");
}

TEST_CASE("D9 aclose throws GeneratorExit at the co_yield and the cleanup awaits") {
  t::Counted::reset_counts();
  events.clear();
  auto main = []() -> uvrun::Task<int> {
    auto gen = ticks(10);
    int first = (co_await gen.next())->value;
    co_await gen.aclose();
    CHECK(gen.done());
    CHECK_FALSE(co_await gen.next());
    co_await gen.aclose();  // a second close does nothing
    co_return first;
  };
  CHECK(uvrun::run(main()) == 0);
  CHECK(events == std::vector<std::string>{"ticks cleanup start", "ticks cleanup end"});
  CHECK(t::Counted::alive() == 0);
}

TEST_CASE("D9 aclose of a generator that never started runs nothing") {
  t::Counted::reset_counts();
  auto main = []() -> uvrun::Task<bool> {
    auto gen = ticks(3);
    co_await gen.aclose();
    co_return !(co_await gen.next()).has_value();
  };
  CHECK(uvrun::run(main()));
  CHECK(t::Counted::made == 0);  // not even its first local
}

TEST_CASE("D9 a generator that yields after GeneratorExit makes aclose raise") {
  auto stubborn = []() -> uvrun::AsyncGenerator<int> {
    for (;;) {
      try {
        co_yield 1;
      } catch (const uvrun::GeneratorExit &) {
      }
    }
  };
  auto main = [stubborn]() -> uvrun::Task<std::string> {
    auto gen = stubborn();
    co_await gen.next();
    try {
      co_await gen.aclose();
    } catch (const uvrun::RuntimeError &e) {
      co_return e.what();
    }
    co_return "closed";
  };
  CHECK(uvrun::run(main()) == "async generator ignored GeneratorExit");
}

TEST_CASE("D9 GeneratorExit is not a std::exception") {
  auto swallowing = []() -> uvrun::AsyncGenerator<int> {
    bool swallowed = false;
    try {
      co_yield 1;
    } catch (const std::exception &) {
      swallowed = true;  // never: GeneratorExit goes past this handler
    }
    if (swallowed) co_yield 2;
  };
  auto main = [swallowing]() -> uvrun::Task<bool> {
    auto gen = swallowing();
    co_await gen.next();
    co_await gen.aclose();
    co_return gen.done();
  };
  CHECK(uvrun::run(main()));
}

TEST_CASE("R56 a generator destroyed while suspended is closed by the loop's finalizer") {
  t::Counted::reset_counts();
  events.clear();
  auto main = []() -> uvrun::Task<int> {
    int first;
    {
      auto gen = ticks(10, "dropped");
      first = (co_await gen.next())->value;
    }                                 // suspended at its co_yield: the loop closes it in a task
    CHECK(t::Counted::alive() == 2);  // its frame lives: a local, the co_yield temporary
    co_await uvrun::sleep(50ms);
    co_return first;
  };
  CHECK(uvrun::run(main()) == 0);
  CHECK(events == std::vector<std::string>{"dropped cleanup start", "dropped cleanup end"});
  CHECK(t::Counted::alive() == 0);
}

TEST_CASE("D9 A8 a consumer cancelled while the generator awaits finishes it") {
  t::Counted::reset_counts();
  events.clear();
  auto main = []() -> uvrun::Task<std::string> {
    auto consumer = uvrun::create_task([]() -> uvrun::Task<int> {
      auto gen = ticks(1000);
      int n = 0;
      while (co_await gen.next()) n++;
      co_return n;
    }());
    co_await uvrun::sleep(10ms);
    consumer.cancel();
    try {
      co_await consumer;
    } catch (const uvrun::CancelledError &) {
      co_return "cancelled";
    }
    co_return "finished";
  };
  CHECK(uvrun::run(main()) == "cancelled");
  CHECK(events.empty());  // CancelledError went through its frame: no aclose
  CHECK(t::Counted::alive() == 0);
}

namespace {
// Starts generators "a" and "b" and leaves them suspended at a co_yield.
uvrun::Task<void> start_two(std::optional<uvrun::AsyncGenerator<t::Counted>> &a,
                            std::optional<uvrun::AsyncGenerator<t::Counted>> &b) {
  a.emplace(ticks(10, "a"));
  b.emplace(ticks(10, "b"));
  co_await a->next();
  co_await b->next();
}
}  // namespace

TEST_CASE("R55 shutdown closes still-live generators, all at once") {
  t::Counted::reset_counts();
  events.clear();
  {
    std::optional<uvrun::AsyncGenerator<t::Counted>> a, b;
    auto main = [&]() -> uvrun::Task<void> { co_await start_two(a, b); };  // held outside the loop
    uvrun::run(main());
    CHECK(a->done());
    CHECK(b->done());
  }
  REQUIRE(events.size() == 4);
  CHECK(events[0].find("cleanup start") != std::string::npos);
  CHECK(events[1].find("cleanup start") != std::string::npos);  // before either ends
  CHECK(t::Counted::alive() == 0);
}

namespace {
uvrun::AsyncGenerator<int> failing_close() {
  bool closing = false;
  try {
    co_yield 1;
  } catch (const uvrun::GeneratorExit &) {
    closing = true;
  }
  if (closing) {
    co_await uvrun::sleep(1ms);
    throw std::runtime_error("flush failed");
  }
}
}  // namespace

TEST_CASE("R55 an error from a shutdown aclose is reported with the exact message") {
  std::vector<std::string> reports;
  uvrun::Options opts;
  opts.exception_handler = [&](uvrun_loop_t *, const uvrun_exception_context_t &ctx) {
    reports.push_back(ctx.message);
    CHECK(ctx.asyncgen != nullptr);
    CHECK(ctx.error != nullptr);
  };
  std::optional<uvrun::AsyncGenerator<int>> gen;
  auto main = [&]() -> uvrun::Task<void> {
    gen.emplace(failing_close());
    co_await gen->next();
  };
  uvrun::run(main(), opts);
  REQUIRE(reports.size() == 1);
  const std::string prefix = "an error occurred during closing of asynchronous generator <";
  CHECK(reports[0].rfind(prefix, 0) == 0);
  CHECK(reports[0].find("failing_close") != std::string::npos);
  CHECK(reports[0].back() == '>');
}

TEST_CASE("R47 a Runner keeps generators across runs and closes them at close()") {
  t::Counted::reset_counts();
  events.clear();
  std::optional<uvrun::AsyncGenerator<t::Counted>> gen;
  {
    uvrun::Runner runner;
    auto first = [&]() -> uvrun::Task<int> {
      gen.emplace(ticks(10, "kept"));
      co_return (co_await gen->next())->value;
    };
    auto second = [&]() -> uvrun::Task<int> { co_return (co_await gen->next())->value; };
    CHECK(runner.run(first()) == 0);
    CHECK(runner.run(second()) == 1);
    runner.close();
    CHECK(gen->done());
  }
  gen.reset();
  CHECK(events == std::vector<std::string>{"kept cleanup start", "kept cleanup end"});
  CHECK(t::Counted::alive() == 0);
}

TEST_CASE("R55 co_await shutdown_asyncgens() closes live generators, all at once, before the task goes on") {
  t::Counted::reset_counts();
  events.clear();
  {
    std::optional<uvrun::AsyncGenerator<t::Counted>> a, b;
    auto main = [&]() -> uvrun::Task<void> {
      co_await start_two(a, b);
      co_await uvrun::shutdown_asyncgens();
      events.push_back(a->done() && b->done() ? "resumed, both done" : "resumed early");
      co_await uvrun::shutdown_asyncgens();  // again: nothing left
    };
    uvrun::run(main());
  }
  REQUIRE(events.size() == 5);
  CHECK(events[1].find("cleanup start") != std::string::npos);  // before either ends
  CHECK(events[4] == "resumed, both done");
  CHECK(t::Counted::alive() == 0);
}

namespace {
uvrun::Task<void> await_shutdown(bool &cancelled) {
  try {
    co_await uvrun::shutdown_asyncgens();
  } catch (const uvrun::CancelledError &) {
    cancelled = true;
    throw;
  }
}
}  // namespace

TEST_CASE("R55 cancelling a task that awaits shutdown_asyncgens() cancels the closes") {
  events.clear();
  auto gen = ticks(10, "g");  // tracked from its first iteration, on the loop
  bool caught = false;
  auto main = [&]() -> uvrun::Task<void> {
    co_await gen.next();
    auto waiter = uvrun::create_task(await_shutdown(caught));
    co_await uvrun::sleep(5ms);  // the close is in its 20 ms cleanup
    waiter.cancel();
    co_await uvrun::sleep(5ms);
    CHECK(waiter.cancelled());
  };
  uvrun::run(main());
  CHECK(caught);
  CHECK(gen.done());
  CHECK(events == std::vector<std::string>{"g cleanup start"});  // cut short at its await
}

TEST_CASE("R55 shutdown_asyncgens() without a running loop throws RuntimeError") {
  uvrun::Runner runner;
  runner.close();
  CHECK_THROWS_AS(uvrun::shutdown_asyncgens(), uvrun::RuntimeError);
}
