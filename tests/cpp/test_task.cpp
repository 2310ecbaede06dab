// C++ tasks: inline awaits, results and exceptions across the C core.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

namespace {
uvrun::Task<int> square(int i) {
  co_await uvrun::sleep(1ms * i);
  co_return i *i;
}
uvrun::Task<int> add_squares() {
  int a = co_await square(2);
  int b = co_await square(3);
  co_return a + b;
}
}  // namespace

TEST_CASE("R1 run returns the main coroutine's result") { CHECK(uvrun::run(add_squares()) == 13); }

TEST_CASE("R36 a move-only result comes back by move") {
  auto make = []() -> uvrun::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  std::unique_ptr<int> p = uvrun::run(make());
  REQUIRE(p);
  CHECK(*p == 7);
}

TEST_CASE("D10 R37 an exception thrown in a task arrives as the same object") {
  static const std::exception *thrown;
  auto fail = []() -> uvrun::Task<int> {
    try {
      throw std::runtime_error("spam");
    } catch (const std::runtime_error &e) {
      thrown = &e;
      throw;  // the same object goes on
    }
    co_return 0;
  };
  try {
    uvrun::run(fail());
    FAIL("no exception");
  } catch (const std::runtime_error &e) {
    CHECK(std::string(e.what()) == "spam");
    CHECK(&e == thrown);
  }
}

TEST_CASE("D10 an exception crosses a spawned task and is caught where it is awaited") {
  auto inner = []() -> uvrun::Task<int> {
    co_await uvrun::sleep(1ms);
    throw std::logic_error("deep");
  };
  auto outer = [inner]() -> uvrun::Task<std::string> {
    auto t = uvrun::create_task(inner(), "inner");
    try {
      co_await t;
    } catch (const std::logic_error &e) {
      co_return std::string("caught ") + e.what();
    }
    co_return "missed";
  };
  CHECK(uvrun::run(outer()) == "caught deep");
}

TEST_CASE("R51 sleep: a cancelled sleep raises CancelledError at once; a NaN sleep throws where it is awaited") {
  auto sleeper = []() -> uvrun::Task<std::string> {
    try {
      co_await uvrun::sleep(30s);
    } catch (const uvrun::CancelledError &e) {
      co_return std::string("cancelled: ") + e.what();
    }
    co_return "slept";
  };
  auto main = [sleeper]() -> uvrun::Task<std::string> {
    auto t = uvrun::create_task(sleeper());
    co_await uvrun::yield();  // it starts sleeping
    double start = uvrun::loop_time();
    t.cancel("enough");
    std::string out = co_await t;
    if (uvrun::loop_time() - start > 5) out += " (late)";
    try {
      co_await uvrun::sleep(std::chrono::duration<double>(NAN));
    } catch (const uvrun::Error &e) {
      out += e.code() == UVRUN_E_INVAL ? ", NaN refused" : ", wrong code";
    }
    co_return out;
  };
  CHECK(uvrun::run(main()) == "cancelled: enough, NaN refused");
}

TEST_CASE("D10 CancelledError is not a std::exception") {
  auto main = []() -> uvrun::Task<int> {
    auto t = uvrun::create_task(square(1000));
    co_await uvrun::yield();
    t.cancel("enough");
    try {
      co_await t;
    } catch (const std::exception &) {
      co_return 1;
    } catch (const uvrun::CancelledError &e) {
      CHECK(std::string(e.what()) == "enough");
      co_return 2;
    }
    co_return 3;
  };
  CHECK(uvrun::run(main()) == 2);
}

TEST_CASE("a million synchronous inline completions don't overflow the stack") {
  auto leaf = []() -> uvrun::Task<int> { co_return 1; };
  auto main = [leaf]() -> uvrun::Task<long> {
    long sum = 0;
    for (int i = 0; i < 1000000; i++) sum += co_await leaf();
    co_return sum;
  };
  CHECK(uvrun::run(main()) == 1000000);
}

TEST_CASE("R31 Runner keeps one loop across runs") {
  uvrun::Runner runner;
  uvrun_loop_t *loop = runner.get_loop();
  auto same = [loop]() -> uvrun::Task<bool> { co_return uvrun::running_loop() == loop; };
  CHECK(runner.run(same()));
  CHECK(runner.run(add_squares()) == 13);
  runner.close();
  CHECK_THROWS_AS(runner.run(add_squares()), uvrun::RuntimeError);
}

namespace {
std::size_t frames_cached(std::size_t *max_class = nullptr) {
  std::size_t total = 0, most = 0;
  for (std::size_t n : uvrun::detail::frame_cache.count) {
    total += n;
    most = std::max(most, n);
  }
  if (max_class != nullptr) *max_class = most;
  return total;
}
}  // namespace

TEST_CASE("the frame cache keeps a burst's frames for reuse, and frees what stays unused for a second") {
  constexpr std::size_t n = 3000, floor = uvrun::detail::FrameCache::kFloor;
  auto burst = []() -> uvrun::Task<void> {
    std::vector<uvrun::TaskHandle<int>> tasks;
    for (std::size_t i = 0; i < n; i++) tasks.push_back(uvrun::create_task(square(0)));
    for (auto &t : tasks) co_await t;
  };
  auto nothing = []() -> uvrun::Task<void> { co_return; };
  uvrun::run(burst());
  if (!uvrun::detail::FrameCache::kOn) {
    CHECK(frames_cached() == 0);  // AddressSanitizer must see every free
    return;
  }
  CHECK(frames_cached() >= n);
  // Each run's end is a decay step: the first starts a period, the second
  // frees what the period left unused above the floor of each size class.
  for (int i = 0; i < 2; i++) {
    std::this_thread::sleep_for(1100ms);
    uvrun::run(nothing());
  }
  std::size_t most = 0;
  frames_cached(&most);
  CHECK(most <= floor + 2);  // the floor, and the frames of the last run
}

TEST_CASE("R17 a loop factory that runs out of memory fails the run with UVRUN_E_NOMEM") {
  uvrun::Options opts;
  opts.loop_factory = []() -> uvrun_loop_t * { throw std::bad_alloc(); };
  auto main = []() -> uvrun::Task<void> { co_return; };
  int code = 0;
  try {
    uvrun::run(main(), opts);
  } catch (const uvrun::Error &e) {
    code = e.code();
  }
  CHECK(code == UVRUN_E_NOMEM);
}
