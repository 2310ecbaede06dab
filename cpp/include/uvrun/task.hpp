// uvrun/task.hpp -- Task<T>: a lazy C++20 coroutine, and how it runs as a
// uvrun task.
//
// `co_await child()` runs the child inline: no scheduling, no task object
// (asyncio's `await coro()`). A child that finishes without suspending hands
// control back by returning from the await (the stack stays flat whatever
// the compiler does with tail calls, sanitizer builds included); one that
// suspends resumes its caller by symmetric transfer when it is done. Only
// awaiting a uvrun future suspends the whole chain; the C task that drives it
// then returns UVRUN_SUSPEND, and its next step resumes the innermost
// coroutine (from the loop's ready queue, never inside a libuv callback).
#pragma once

#include <uvrun.h>

#include <coroutine>
#include <cstddef>
#include <new>
#include <exception>
#include <optional>
#include <source_location>
#include <type_traits>
#include <utility>

#include "debug.hpp"
#include "errors.hpp"

namespace uvrun {

template <class T = void>
class Task;

namespace detail {

// Set while a step resumes a coroutine chain: what the chain suspended on.
struct StepState {
  uvrun_task_t *task = nullptr;
  std::coroutine_handle<> resume_at;
  uvrun_future_t *await = nullptr;  // a reference for uvrun_task_await
  bool yield = false;
};
inline thread_local StepState *current_step = nullptr;

inline StepState &step_state() {
  if (current_step == nullptr)
    throw RuntimeError(UVRUN_E_INVALID_STATE, "a uvrun awaitable was awaited outside a uvrun task");
  return *current_step;
}

// Coroutine frames come and go with every `co_await child()`: each thread
// recycles them by size class instead of paying a malloc/free pair each.
// Off under AddressSanitizer, which must see every free.
class FramePool {
 public:
  void *allocate(std::size_t n) {
    std::size_t c = size_class(n);
    if (c < kClasses && free_[c] != nullptr) {
      Node *node = free_[c];
      free_[c] = node->next;
      count_[c]--;
      return node;
    }
    return ::operator new(c < kClasses ? (c + 1) * kGranule : n);
  }
  void deallocate(void *p, std::size_t n) noexcept {
    std::size_t c = size_class(n);
    if (c < kClasses && count_[c] < kMaxCached && alive) {
      free_[c] = new (p) Node{free_[c]};
      count_[c]++;
      return;
    }
    ::operator delete(p);
  }
  ~FramePool() {
    alive = false;
    for (Node *&head : free_)
      while (head != nullptr) ::operator delete(std::exchange(head, head->next));
  }

 private:
  struct Node {
    Node *next;
  };
#if defined(__SANITIZE_ADDRESS__)
  static constexpr std::size_t kMaxCached = 0;
#else
  static constexpr std::size_t kMaxCached = 1024;
#endif
  static constexpr std::size_t kGranule = 64, kClasses = 16;  // frames up to 1 KiB
  static std::size_t size_class(std::size_t n) noexcept { return (n + kGranule - 1) / kGranule - 1; }
  Node *free_[kClasses] = {};
  std::size_t count_[kClasses] = {};
  bool alive = true;  // frames freed during thread exit go straight back
};
inline thread_local FramePool frame_pool;

struct PromiseBase {
  static void *operator new(std::size_t n) { return frame_pool.allocate(n); }
  static void operator delete(void *p, std::size_t n) noexcept { frame_pool.deallocate(p, n); }

  // How a child awaited inline is running: started by its caller's await
  // (`starting`), finished within that start (`finished`), or suspended and
  // to resume its caller itself when done (`detached`).
  enum class Inline : unsigned char { detached, starting, finished };

  std::coroutine_handle<> continuation;  // the coroutine awaiting us inline
  std::coroutine_handle<> resume_point;  // top level: where to resume next
  std::exception_ptr exception;
  Inline inline_state = Inline::detached;

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      PromiseBase &p = h.promise();
      if (p.inline_state == Inline::starting) {
        p.inline_state = Inline::finished;  // the caller's await goes on
        return std::noop_coroutine();
      }
      return p.continuation ? p.continuation : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  // Where the coroutine was created, and whether it ever ran: a frame
  // destroyed unstarted warns in debug mode (R26, D1).
  std::source_location where;
  bool started = false;

  explicit PromiseBase(std::source_location w) noexcept : where(w) {}
  ~PromiseBase() {
    if (!started) warn_never_awaited(where);
  }

  struct InitialAwaiter {
    PromiseBase &p;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept { p.started = true; }
  };
  InitialAwaiter initial_suspend() noexcept { return {*this}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
  void rethrow_if_failed() const {
    if (exception) std::rethrow_exception(exception);
  }
};

// A promise constructor's default argument is evaluated where the coroutine
// starts (GCC), so `where` names the coroutine function itself.
template <class T>
struct Promise final : PromiseBase {
  Promise(std::source_location w = std::source_location::current()) noexcept : PromiseBase(w) {}
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U &&v) {
    value.emplace(std::forward<U>(v));
  }
  T &result() & {
    rethrow_if_failed();
    return *value;
  }
  T &&result() && {
    rethrow_if_failed();
    return std::move(*value);
  }
};

template <class T>
struct Promise<T &> final : PromiseBase {
  Promise(std::source_location w = std::source_location::current()) noexcept : PromiseBase(w) {}
  T *value = nullptr;
  Task<T &> get_return_object() noexcept;
  void return_value(T &v) noexcept { value = &v; }
  T &result() {
    rethrow_if_failed();
    return *value;
  }
};

template <>
struct Promise<void> final : PromiseBase {
  Promise(std::source_location w = std::source_location::current()) noexcept : PromiseBase(w) {}
  Task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void result() const { rethrow_if_failed(); }
};

}  // namespace detail

// A lazily started coroutine returning T. Move-only; destroying a Task that
// never ran destroys its frame without running it.
template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(handle_type h) noexcept : h_(h) {}
  Task(Task &&other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task &operator=(Task &&other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task &) = delete;
  Task &operator=(const Task &) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  handle_type release() noexcept { return std::exchange(h_, {}); }

  struct Awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) noexcept {
      using Inline = detail::PromiseBase::Inline;
      promise_type &p = h.promise();
      p.continuation = caller;
      p.inline_state = Inline::starting;
      h.resume();  // runs until the child finishes or suspends
      if (p.inline_state == Inline::finished) return false;  // go on, no recursion
      p.inline_state = Inline::detached;
      return true;
    }
    decltype(auto) await_resume() {
      if constexpr (std::is_void_v<T>) {
        h.promise().result();
      } else if constexpr (std::is_reference_v<T>) {
        return h.promise().result();
      } else {
        return std::move(h.promise()).result();
      }
    }
  };
  // Runs the child inline, like `await coro()` in asyncio.
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }

 private:
  handle_type h_;
};

namespace detail {

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
template <class T>
Task<T &> Promise<T &>::get_return_object() noexcept {
  return Task<T &>(std::coroutine_handle<Promise<T &>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

template <class T>
void delete_value(void *p) {
  delete static_cast<T *>(p);
}

// Hands the finished coroutine's outcome to the C task. The value stays in
// the frame, which lives as long as the C task, unless `Box`: a main task
// the runner frees before its caller reads the result gets its own copy.
// Never throws: nothing may unwind through the C core that called the step.
template <class T, bool Box>
int finish(uvrun_task_t *task, Promise<T> &p) noexcept {
  if (p.exception) {
    if (uvrun_error_t *err = error_from(p.exception)) return uvrun_task_raise(task, err);
    // Out of memory the exception is lost: a cancellation still ends the
    // task cancelled, anything else fails it with UVRUN_E_NOMEM.
    return code_of(p.exception) == UVRUN_E_CANCELLED ? UVRUN_E_CANCELLED : UVRUN_E_NOMEM;
  }
  if constexpr (std::is_void_v<T>) {
    return uvrun_task_return(task, nullptr);
  } else if constexpr (std::is_reference_v<T>) {
    return uvrun_task_return(task, p.value);
  } else if constexpr (Box) {
    T *box;
    try {
      box = new T(std::move(*p.value));
    } catch (...) {
      p.exception = std::current_exception();  // out of memory, or T's move threw: the task fails with it
      return finish<T, Box>(task, p);
    }
    return uvrun_task_return_owned(task, box, delete_value<T>);
  } else {
    return uvrun_task_return(task, &*p.value);
  }
}

// The C step function that drives a Task<T>: arg is the coroutine frame.
template <class T, bool Box = false>
int step(uvrun_task_t *task, void *frame) noexcept {
  auto h = std::coroutine_handle<Promise<T>>::from_address(frame);
  Promise<T> &p = h.promise();
  StepState st;
  st.task = task;
  StepState *outer = std::exchange(current_step, &st);
  std::coroutine_handle<> at = p.resume_point ? std::exchange(p.resume_point, {}) : h;
  at.resume();
  current_step = outer;
  if (h.done()) return finish<T, Box>(task, p);
  p.resume_point = st.resume_at;
  if (st.await != nullptr) return uvrun_task_await(task, st.await);
  if (st.yield) return uvrun_task_yield(task);
  try {
    throw InvalidStateError("a uvrun task awaited something that is not a uvrun awaitable");
  } catch (...) {
    p.exception = std::current_exception();  // that error, or the bad_alloc making it
  }
  p.resume_point = {};
  return finish<T, Box>(task, p);
}

// arg_free for a coroutine frame owned by a C task.
inline void destroy_frame(void *frame) { std::coroutine_handle<>::from_address(frame).destroy(); }

}  // namespace detail
}  // namespace uvrun
