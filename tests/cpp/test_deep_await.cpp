// C++ inline awaits nested deeper than a thread's stack could hold as calls:
// a recursion of awaits is limited by memory only.
#include <doctest/doctest.h>
#include <pthread.h>
#include <uvrun/uvrun.hpp>

#include <exception>
#include <functional>
#include <optional>

TEST_SUITE_BEGIN("cpp");

namespace {

constexpr std::size_t kSmallStack = 256 * 1024;

// Each level of the deepest recursion keeps a frame alive: 1.1 GB in all in
// a plain build, 2 GB under ASan, but 6.2 GB under TSan, whose builds go a
// tenth as deep (still far past what a stack could hold as calls).
#if defined(__SANITIZE_THREAD__)
#  define UVRUN_TEST_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define UVRUN_TEST_TSAN 1
#  endif
#endif
#ifdef UVRUN_TEST_TSAN
constexpr long kDeepest = 1000000;
#else
constexpr long kDeepest = 10000000;
#endif

// Runs `fn` on a new thread with a 256 KiB stack and waits for it; what
// `fn` throws is rethrown here.
void on_small_stack(std::function<void()> fn) {
  std::exception_ptr failure;
  std::function<void()> guarded = [&] {
    try {
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  };
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, kSmallStack) == 0);
  pthread_t thread;
  auto body = [](void *arg) -> void * {
    (*static_cast<std::function<void()> *>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, body, &guarded) == 0);
  pthread_attr_destroy(&attr);
  REQUIRE(pthread_join(thread, nullptr) == 0);
  if (failure) std::rethrow_exception(failure);
}

uvrun::Task<long> rec(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await rec(n - 1);
}

// The innermost await suspends the whole chain; each caller is then
// resumed when the coroutine it awaits is done.
uvrun::Task<long> rec_then_yield(long n) {
  if (n == 0) {
    co_await uvrun::yield();
    co_return 0;
  }
  co_return 1 + co_await rec_then_yield(n - 1);
}

// Each level awaits the next through an async generator.
uvrun::AsyncGenerator<long> level(long n);
uvrun::Task<long> rec_through_generators(long n) {
  if (n == 0) co_return 0;
  auto gen = level(n - 1);
  std::optional<long> below = co_await gen.next();
  co_return 1 + *below;
}
uvrun::AsyncGenerator<long> level(long n) { co_yield co_await rec_through_generators(n); }

}  // namespace

TEST_CASE("a recursion of 10,000,000 inline awaits runs on a 256 KiB stack") {
  long got = -1;
  on_small_stack([&] { got = uvrun::run(rec(kDeepest)); });
  CHECK(got == kDeepest);
}

TEST_CASE("a deep recursion suspended at its innermost await resumes every caller on a 256 KiB stack") {
  constexpr long depth = 1000000;
  long got = -1;
  on_small_stack([&] { got = uvrun::run(rec_then_yield(depth)); });
  CHECK(got == depth);
}

TEST_CASE("a deep recursion through async generators runs on a 256 KiB stack") {
  constexpr long depth = 100000;
  long got = -1;
  on_small_stack([&] { got = uvrun::run(rec_through_generators(depth)); });
  CHECK(got == depth);
}
