// W3.inline's reference point: the least a lazily started C++20 task that
// is awaited inline costs with this compiler. Frames come from a free list,
// an exception is kept and rethrown where the task is awaited, the awaiting
// coroutine keeps its own -- what any task type must do -- and nothing else:
// no debug site, no scheduler, no cancellation. Usage: cmp-bare-task w3
#include <coroutine>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <utility>

#include "harness.h"

namespace {

struct FreeNode {
  FreeNode *next;
};
constexpr std::size_t kClasses = 16;  // frames under 256 bytes, 16 apart
thread_local FreeNode *free_frames[kClasses];

struct FrameAllocation {
  static void *operator new(std::size_t n) {
    std::size_t c = n / 16;
    if (c < kClasses && free_frames[c] != nullptr) return std::exchange(free_frames[c], free_frames[c]->next);
    return ::operator new(c < kClasses ? 16 * c + 15 : n);  // any frame of its class fits
  }
  static void operator delete(void *p, std::size_t n) noexcept {
    std::size_t c = n / 16;
    if (c < kClasses) free_frames[c] = new (p) FreeNode{free_frames[c]};
    else ::operator delete(p);
  }
};

template <class T>
class Task {
 public:
  struct promise_type : FrameAllocation {
    std::coroutine_handle<> caller;
    std::exception_ptr exception;
    T value{};
    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().caller;
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_value(T v) { value = std::move(v); }
    void unhandled_exception() { exception = std::current_exception(); }
  };

  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
  Task(Task &&o) noexcept : h_(std::exchange(o.h_, {})) {}
  ~Task() {
    if (h_) h_.destroy();
  }
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
    h_.promise().caller = caller;
    return h_;  // symmetric transfer: the child runs, then resumes the caller
  }
  T await_resume() {
    if (h_.promise().exception) std::rethrow_exception(h_.promise().exception);
    return std::move(h_.promise().value);
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

// Runs a coroutine to its end at once (it never suspends for real here).
struct Started {
  struct promise_type : FrameAllocation {
    std::exception_ptr exception;
    Started get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { exception = std::current_exception(); }
  };
};

Task<int> leaf(int i) { co_return i; }

Started inline_awaits(long n, long &sum) {
  for (long i = 0; i < n; i++) sum += co_await leaf(1);
}

}  // namespace

int main(int argc, char **argv) {
  if (!bh_wanted(argc, argv, "w3")) return 0;
  bh_measure_fn("W3.inline", "bare-cpp", 1, [](long iters) {
    long sum = 0;
    inline_awaits(iters, sum);
    if (sum != iters) std::abort();
  });
  return 0;
}
