// uvrun/task.hpp -- Task<T>: a lazy C++20 coroutine, and how it runs as a
// uvrun task.
//
// `co_await child()` runs the child inline: no scheduling, no task object
// (asyncio's `await coro()`): its caller's await resumes it with a nested
// call, and a child that finishes without suspending hands control back by
// returning from that call. One that suspends leaves its caller to the
// step's loop, which resumes the caller when the child is done. Past a fixed
// nesting depth a child starts from the step's loop too, so a recursion of
// awaits is limited by memory, not by the thread's stack. Nothing relies on
// tail calls: GCC makes symmetric transfer one only when optimizing, and
// never under sanitizers. Only awaiting a uvrun future suspends the whole
// chain; the C task that drives it then returns UVRUN_SUSPEND, and its next
// step resumes the innermost coroutine (from the loop's ready queue, never
// inside a libuv callback).
#pragma once

#include <uvrun.h>

#include <cassert>
#include <coroutine>
#include <cstdint>
#include <cstddef>
#include <new>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "debug.hpp"
#include "detail/frame_cache.hpp"
#include "errors.hpp"

namespace uvrun {

template <class T = void>
class Task;

namespace detail {

// Set while a step resumes a coroutine chain: what the chain suspended on,
// and the coroutine the step's loop resumes next.
struct StepState {
  uvrun_task_t *task = nullptr;
  std::coroutine_handle<> resume_at;
  uvrun_future_t *await = nullptr;  // a reference for uvrun_task_await
  bool suspended = false;           // the awaiter told the C task itself
  std::coroutine_handle<> next;     // resumed from the bottom of the stack
};
inline thread_local StepState *current_step = nullptr;

inline StepState &step_state() {
  if (current_step == nullptr)
    throw RuntimeError(UVRUN_E_INVALID_STATE, "a uvrun awaitable was awaited outside a uvrun task");
  return *current_step;
}

// Inline awaits nested on this thread's stack, and how many may be.
inline constexpr unsigned kMaxInlineDepth = 64;
inline thread_local constinit unsigned inline_depth = 0;

// Runs `h` for an inline await with a nested call, until it finishes or
// suspends; false when the nesting is at its limit and the step's loop will
// start it instead (the awaiting coroutine must then suspend).
inline bool resume_inline(std::coroutine_handle<> h) noexcept {
  if (inline_depth >= kMaxInlineDepth && current_step != nullptr) [[unlikely]] {
    current_step->next = h;
    return false;
  }
  ++inline_depth;
  h.resume();
  --inline_depth;
  return true;
}

// For a coroutine that suspended and is now done (or yields): the step's
// loop resumes `next`, the coroutine awaiting it, if any.
inline std::coroutine_handle<> resume_from_step(std::coroutine_handle<> next) noexcept {
  if (next) {
    assert(current_step != nullptr && !current_step->next);  // only a step resumes a suspended chain
    current_step->next = next;
  }
  return std::noop_coroutine();
}

// The step's loop: resumes `at`, then whatever the chain leaves to it.
inline void resume_chain(StepState &st, std::coroutine_handle<> at) noexcept {
  at.resume();
  while (st.next) std::exchange(st.next, {}).resume();
}

struct PromiseBase {
  static void *operator new(std::size_t n) { return allocate_frame(n); }
  static void operator delete(void *p, std::size_t n) noexcept { deallocate_frame(p, n); }

  // How a child awaited inline is running: started by its caller's await
  // (`starting`), finished within that start (`finished`), or suspended (or
  // left to the step's loop to start) and to have its caller resumed when
  // done (`detached`).
  enum class Inline : unsigned char { detached, starting, finished };

  // The coroutine to resume when this one is done (the one awaiting it
  // inline), or for a task's top level where its next step resumes; with
  // `started` in bit 0 and the Inline state in bits 1-2. A frame holds
  // pointers, so its address leaves those bits clear; keeping the flags
  // there takes a word off every frame.
  std::uintptr_t link = 0;
  // Where the coroutine was created matters only until it starts (a frame
  // destroyed unstarted warns in debug mode); what it threw, only
  // after. started() says which of the two the word holds.
  union {
    detail::SourceLocation where;
    std::exception_ptr exception;
  };

  static constexpr std::uintptr_t kStarted = 1, kStateShift = 1, kFlags = 7;
  static std::uintptr_t link_to(std::coroutine_handle<> h, Inline state) noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(h.address());
    assert((a & kFlags) == 0);
    return a | kStarted | static_cast<std::uintptr_t>(state) << kStateShift;
  }
  std::coroutine_handle<> linked() const noexcept {
    return std::coroutine_handle<>::from_address(reinterpret_cast<void *>(link & ~kFlags));
  }
  bool started() const noexcept { return (link & kStarted) != 0; }
  Inline inline_state() const noexcept { return static_cast<Inline>((link >> kStateShift) & 3); }
  void set_inline_state(Inline state) noexcept {
    link = (link & ~(std::uintptr_t{3} << kStateShift)) | static_cast<std::uintptr_t>(state) << kStateShift;
  }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      PromiseBase &p = h.promise();
      if (p.inline_state() == Inline::starting) {
        p.set_inline_state(Inline::finished);  // the caller's await goes on
        return std::noop_coroutine();
      }
      return resume_from_step(p.linked());
    }
    void await_resume() const noexcept {}
  };

  explicit PromiseBase(detail::SourceLocation w) noexcept : where(w) {}
  ~PromiseBase() {
    if (started()) exception.~exception_ptr();
    else warn_never_awaited(where);
  }
  // Marks the frame as running where it is resumed (an inline await, or
  // each step of a task), linked to `next`: `where` is of no use from then
  // on, and between steps no exception is kept, so nothing is overwritten.
  void start(std::uintptr_t next) noexcept {
    static_assert(std::is_trivially_destructible_v<detail::SourceLocation>);
    new (&exception) std::exception_ptr();
    link = next;
  }

  // Lazy. start() runs where a frame is first resumed (an inline await, or
  // a task's step), which keeps this awaiter empty: no room in the frame.
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
  void rethrow_if_failed() const {
    if (exception) std::rethrow_exception(exception);
  }
};

// A promise constructor's default argument is evaluated where the coroutine
// starts (GCC, clang), so `where` names the coroutine function itself.
template <class T>
struct Promise final : PromiseBase {
  Promise(detail::SourceLocation w = detail::SourceLocation::current()) noexcept : PromiseBase(w) {}
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
  Promise(detail::SourceLocation w = detail::SourceLocation::current()) noexcept : PromiseBase(w) {}
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
  Promise(detail::SourceLocation w = detail::SourceLocation::current()) noexcept : PromiseBase(w) {}
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
      p.start(p.link_to(caller, Inline::starting));
      if (detail::resume_inline(h) && p.inline_state() == Inline::finished) return false;  // go on
      p.set_inline_state(Inline::detached);
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
  // InvalidStateError for an empty Task.
  Awaiter operator co_await() && { return Awaiter{frame()}; }
  Awaiter operator co_await() & { return Awaiter{frame()}; }

  // Hands the frame over (to a C task that runs it); InvalidStateError for
  // an empty Task.
  handle_type take() {
    frame();
    return release();
  }

 private:
  handle_type frame() const {
    if (!h_) detail::throw_empty("uvrun::Task");
    return h_;
  }
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
  std::coroutine_handle<> at = p.linked() ? p.linked() : h;
  p.start(PromiseBase::kStarted);
  resume_chain(st, at);
  current_step = outer;
  if (h.done()) return finish<T, Box>(task, p);
  if (st.resume_at) p.link = p.link_to(st.resume_at, PromiseBase::Inline::detached);
  if (st.await != nullptr) return uvrun_task_await(task, st.await);
  if (st.suspended) return UVRUN_SUSPEND;
  try {
    throw InvalidStateError("a uvrun task awaited something that is not a uvrun awaitable");
  } catch (...) {
    p.exception = std::current_exception();  // that error, or the bad_alloc making it
  }
  p.link = PromiseBase::kStarted;
  return finish<T, Box>(task, p);
}

// arg_free for a coroutine frame owned by a C task.
inline void destroy_frame(void *frame) { std::coroutine_handle<>::from_address(frame).destroy(); }

}  // namespace detail
}  // namespace uvrun
