// uvrun/future.hpp -- awaiting C futures from C++: the one place a coroutine
// chain suspends. Also sleep() and yield().
#pragma once

#include <uvrun.h>

#include <chrono>
#include <coroutine>
#include <utility>

#include "errors.hpp"
#include "task.hpp"

namespace uvrun {

namespace detail {

struct ErrorRef {
  uvrun_error_t *err;
  ~ErrorRef() { uvrun_error_unref(err); }
};

// Throws what this thread's last failure (code `rc`) stands for; the
// error it carries alongside (a run's and its shutdown's) goes to
// last_error_context().
[[noreturn]] inline void throw_last(int rc, CodeSource from = CodeSource::runtime) {
  ErrorRef e{uvrun_take_error()};
  const uvrun_error_t *other = e.err != nullptr ? uvrun_error_context(e.err) : nullptr;
  error_context_slot() = other != nullptr ? exception_of(other) : nullptr;
  if (e.err == nullptr) throw Error(rc, uvrun_strerror(rc));
  throw_error(e.err, from);
}

inline int check(int rc) {
  if (rc < 0) throw_last(rc);
  return rc;
}

inline uvrun_future_t *check(uvrun_future_t *fut) {
  if (fut == nullptr) throw_last(UVRUN_E_INVAL);
  return fut;
}

// Awaits a C future. A done future does not suspend. The raw value (void*)
// comes back; typed awaiters convert it. Owned: the awaiter takes over a
// reference. Borrowed: the caller's object (a task handle, a Future<T>)
// keeps the future alive across the await, and a reference is taken only
// to suspend -- none at all for a done future, the common case.
template <bool Owned>
class BasicFutureAwaiter {
 public:
  explicit BasicFutureAwaiter(uvrun_future_t *fut) : fut_(check(fut)) {}
  BasicFutureAwaiter(BasicFutureAwaiter &&o) noexcept : fut_(std::exchange(o.fut_, nullptr)) {}
  BasicFutureAwaiter(const BasicFutureAwaiter &) = delete;
  BasicFutureAwaiter &operator=(const BasicFutureAwaiter &) = delete;
  ~BasicFutureAwaiter() {
    if constexpr (Owned) uvrun_future_unref(fut_);
  }

  // InvalidStateError for an awaiter moved from.
  bool await_ready() const {
    if (fut_ == nullptr) throw_empty("a uvrun awaitable");
    return uvrun_future_done(fut_);
  }
  void await_suspend(std::coroutine_handle<> h) {
    StepState &st = step_state();
    st.resume_at = h;
    // The reference goes to the task, which keeps what it resumed from:
    // one word less in the coroutine frame, one ref/unref pair less.
    uvrun_future_t *fut = std::exchange(fut_, nullptr);
    st.await = Owned ? fut : uvrun_future_ref(fut);
  }
  void *await_resume() {
    void *value = nullptr;
    if (const uvrun_error_t *err = resume_raw(&value)) throw_error(err);
    return value;
  }

 protected:
  // The outcome without throwing: nullptr and *value, or the error
  // (borrowed: valid until the step returns or the awaiter goes).
  const uvrun_error_t *resume_raw(void **value) {
    if (fut_ == nullptr) {
      // Resumed by the task's step. The task knows best: it may have been
      // cancelled although the future completed.
      uvrun_task_t *task = current_step->task;
      return uvrun_task_resume(task, value) < 0 ? uvrun_task_resume_error(task) : nullptr;
    }
    return uvrun_future_result(fut_, value) < 0 ? uvrun_future_error(fut_) : nullptr;
  }

 private:
  uvrun_future_t *fut_;  // until the await suspends
};
using FutureAwaiter = BasicFutureAwaiter<true>;
using BorrowedFutureAwaiter = BasicFutureAwaiter<false>;

struct VoidAwaiter : FutureAwaiter {
  using FutureAwaiter::FutureAwaiter;
  void await_resume() { FutureAwaiter::await_resume(); }
};

// Sleeps on the task's own timer (uvrun_task_sleep): no future, no
// allocation. 0 seconds or less yields for one loop iteration.
class SleepAwaiter {
 public:
  explicit SleepAwaiter(double seconds) noexcept : seconds_(seconds) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    StepState &st = step_state();
    int rc = seconds_ <= 0 ? uvrun_task_yield(st.task) : uvrun_task_sleep(st.task, seconds_);
    if (rc != UVRUN_SUSPEND) throw_last(rc);  // NaN, out of memory
    st.resume_at = h;
    st.suspended = true;
  }
  void await_resume() {
    uvrun_task_t *task = current_step->task;  // resumed by the task's step
    if (uvrun_task_resume(task, nullptr) < 0) throw_error(uvrun_task_resume_error(task));
  }

 private:
  double seconds_;  // the only state kept across the suspension: frames stay small
};

}  // namespace detail

// The loop running in this thread; throws when there is none.
inline uvrun_loop_t *running_loop() {
  uvrun_loop_t *loop = uvrun_get_running_loop();
  if (loop == nullptr) throw RuntimeError(UVRUN_E_INVALID_STATE, "no running event loop");
  return loop;
}

inline double to_seconds(std::chrono::duration<double> d) noexcept { return d.count(); }

// asyncio.sleep(): cancellable, and 0 still goes through the loop. The
// timer starts when the sleep is awaited.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) noexcept {
  return detail::SleepAwaiter(to_seconds(d));
}

// Sleep until a point on the loop's clock (uvrun_loop_time seconds).
inline detail::SleepAwaiter sleep_until(double loop_time) {
  return detail::SleepAwaiter(loop_time - uvrun_loop_time(running_loop()));
}

// Give way for one loop iteration (asyncio.sleep(0)); a pending cancellation
// arrives here.
inline detail::SleepAwaiter yield() noexcept { return detail::SleepAwaiter(0); }

// The loop's monotonic clock, in seconds.
inline double loop_time() { return uvrun_loop_time(running_loop()); }

}  // namespace uvrun
