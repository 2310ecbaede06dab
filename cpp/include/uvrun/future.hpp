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

// Throws what this thread's last failure (code `rc`) stands for.
[[noreturn]] inline void throw_last(int rc) {
  ErrorRef e{uvrun_take_error()};
  if (e.err == nullptr) throw Error(rc, uvrun_strerror(rc));
  throw_error(e.err);
}

inline int check(int rc) {
  if (rc < 0) throw_last(rc);
  return rc;
}

inline uvrun_future_t *check(uvrun_future_t *fut) {
  if (fut == nullptr) throw_last(UVRUN_E_INVAL);
  return fut;
}

// Awaits a C future (its reference is taken over). A done future does not
// suspend. The raw value (void*) comes back; typed awaiters convert it.
class FutureAwaiter {
 public:
  explicit FutureAwaiter(uvrun_future_t *fut) : fut_(check(fut)) {}
  FutureAwaiter(FutureAwaiter &&o) noexcept : fut_(std::exchange(o.fut_, nullptr)) {}
  FutureAwaiter(const FutureAwaiter &) = delete;
  FutureAwaiter &operator=(const FutureAwaiter &) = delete;
  ~FutureAwaiter() { uvrun_future_unref(fut_); }

  bool await_ready() const noexcept { return uvrun_future_done(fut_); }
  void await_suspend(std::coroutine_handle<> h) {
    StepState &st = step_state();
    st.resume_at = h;
    // Our reference goes to the task, which keeps what it resumed from:
    // one word less in the coroutine frame, one ref/unref pair less.
    st.await = std::exchange(fut_, nullptr);
  }
  void *await_resume() {
    void *value = nullptr;
    if (fut_ == nullptr) {
      // Resumed by the task's step. The task knows best: it may have been
      // cancelled although the future completed (R51).
      uvrun_task_t *task = current_step->task;
      if (uvrun_task_resume(task, &value) < 0) throw_error(uvrun_task_resume_error(task));
    } else if (uvrun_future_result(fut_, &value) < 0) {
      throw_error(uvrun_future_error(fut_));
    }
    return value;
  }

 private:
  uvrun_future_t *fut_;  // until the await suspends
};

struct VoidAwaiter : FutureAwaiter {
  using FutureAwaiter::FutureAwaiter;
  void await_resume() { FutureAwaiter::await_resume(); }
};

struct YieldAwaiter {
  uvrun_task_t *task = nullptr;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    StepState &st = step_state();
    st.resume_at = h;
    st.yield = true;
    task = st.task;
  }
  void await_resume() {
    if (uvrun_task_resume(task, nullptr) < 0) throw_error(uvrun_task_resume_error(task));
  }
};

}  // namespace detail

// The loop running in this thread; throws when there is none.
inline uvrun_loop_t *running_loop() {
  uvrun_loop_t *loop = uvrun_get_running_loop();
  if (loop == nullptr) throw RuntimeError(UVRUN_E_INVALID_STATE, "no running event loop");
  return loop;
}

inline double to_seconds(std::chrono::duration<double> d) noexcept { return d.count(); }

// asyncio.sleep(): cancellable, and 0 still goes through the loop.
template <class Rep, class Period>
detail::VoidAwaiter sleep(std::chrono::duration<Rep, Period> d) {
  return detail::VoidAwaiter(uvrun_sleep_value(running_loop(), to_seconds(d), nullptr));
}

// Sleep until a point on the loop's clock (uvrun_loop_time seconds).
inline detail::VoidAwaiter sleep_until(double loop_time) {
  uvrun_loop_t *loop = running_loop();
  return detail::VoidAwaiter(uvrun_sleep_value(loop, loop_time - uvrun_loop_time(loop), nullptr));
}

// Give way for one loop iteration (asyncio.sleep(0)); a pending cancellation
// arrives here.
inline detail::YieldAwaiter yield() noexcept { return {}; }

// The loop's monotonic clock, in seconds.
inline double loop_time() { return uvrun_loop_time(running_loop()); }

}  // namespace uvrun
