// uvrun/timeout.hpp -- asyncio.timeout(), timeout_at() and wait_for().
//
// Python's `async with timeout(d): body` becomes
//
//     int v = co_await uvrun::timeout(1s).run(body());
//
// run() awaits the body inline (no task), and its exit sees the body's
// outcome -- value or exception -- so it can turn the CancelledError it
// caused into TimeoutError and let every other error through. An RAII
// scope could not do that: a destructor cannot see or replace an exception
// in flight, so it would have to swallow or terminate. Keep a named Timeout
// to reschedule() it from inside the body or to ask expired() afterwards.
#pragma once

#include <uvrun.h>

#include <chrono>
#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "errors.hpp"
#include "future.hpp"
#include "runner.hpp"

namespace uvrun {

namespace detail {

template <class A>
concept HasCoAwait = requires(A &a) {
  a.operator co_await();
};

// An awaitable kept with the awaiter it gives, so a wrapper can drive it
// inline: ready/suspend/resume as if the caller awaited it directly.
template <class A>
class Inline {
  static auto &awaiter_of(A &a) { return a; }
  static auto awaiter_of(A &a) requires HasCoAwait<A> { return a.operator co_await(); }

 public:
  template <class U>
  explicit Inline(U &&a) : awaitable_(std::forward<U>(a)), awaiter_(awaiter_of(awaitable_)) {}
  Inline(const Inline &) = delete;
  Inline &operator=(const Inline &) = delete;

  bool ready() { return awaiter_.await_ready(); }
  decltype(auto) suspend(std::coroutine_handle<> h) { return awaiter_.await_suspend(h); }
  decltype(auto) resume() { return awaiter_.await_resume(); }

 private:
  A awaitable_;
  decltype(awaiter_of(std::declval<A &>())) awaiter_;
};

template <class A>
class TimeoutScope;

}  // namespace detail

// asyncio.Timeout: a deadline on the loop's clock (uvrun_loop_time seconds),
// or none. Not movable: the loop's timer points at it.
class Timeout {
 public:
  explicit Timeout(std::optional<double> when) noexcept : when_(when) {}
  Timeout(const Timeout &) = delete;
  Timeout &operator=(const Timeout &) = delete;
  ~Timeout() { cancel_timer(); }

  // Awaits `body` (a Task<T>, a handle, a future, any uvrun awaitable)
  // under this deadline and gives what awaiting it gives. A Timeout is
  // entered once.
  template <class A>
  [[nodiscard]] detail::TimeoutScope<std::remove_cvref_t<A>> run(A &&body) {
    return detail::TimeoutScope<std::remove_cvref_t<A>>(*this, std::forward<A>(body));
  }

  [[nodiscard]] std::optional<double> when() const noexcept { return when_; }
  [[nodiscard]] bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }
  // Moves the deadline (nullopt: none) while the body runs.
  void reschedule(std::optional<double> when) {
    if (state_ != State::entered) {
      throw RuntimeError(UVRUN_E_INVALID_STATE,
                         state_ == State::created ? "Timeout has not been entered"
                                                  : std::string("Cannot change state of ") + state_name() + " Timeout");
    }
    when_ = when;
    cancel_timer();
    if (!when) return;
    uvrun_loop_t *loop = uvrun_task_loop(task_.capi());
    if (*when <= uvrun_loop_time(loop)) {
      detail::check(uvrun_loop_call_soon(loop, on_timeout, this, &timer_));
    } else {
      detail::check(uvrun_loop_call_at(loop, *when, on_timeout, this, &timer_));
    }
  }

 private:
  template <class A>
  friend class detail::TimeoutScope;
  enum class State { created, entered, expiring, expired, exited };

  const char *state_name() const noexcept {
    switch (state_) {
    case State::expiring: return "expiring";
    case State::expired: return "expired";
    default: return "finished";
    }
  }

  void enter() {
    if (state_ != State::created) throw RuntimeError(UVRUN_E_INVALID_STATE, "Timeout has already been entered");
    task_ = current_task();
    if (!task_) throw RuntimeError(UVRUN_E_INVALID_STATE, "Timeout should be used inside a task");
    state_ = State::entered;
    cancelling_ = task_.cancelling();
    reschedule(when_);
  }

  // asyncio's __aexit__: `body` gives the body's outcome.
  template <class F>
  decltype(auto) exit(F &&body) {
    cancel_timer();
    if (state_ != State::expiring) {
      state_ = State::exited;
      return body();
    }
    state_ = State::expired;
    // Only a cancellation we requested is ours to turn into TimeoutError;
    // a newer one (the task cancelled from outside) goes on.
    bool ours = task_.uncancel() <= cancelling_;
    try {
      return body();
    } catch (const CancelledError &) {
      if (ours) std::throw_with_nested(TimeoutError());
      throw;
    }
  }

  static void on_timeout(void *ud) {
    auto *self = static_cast<Timeout *>(ud);
    self->task_.cancel();
    self->state_ = State::expiring;
  }

  void cancel_timer() noexcept {
    uvrun_handle_cancel(timer_);
    uvrun_handle_unref(std::exchange(timer_, nullptr));
  }

  std::optional<double> when_;
  State state_ = State::created;
  TaskHandle<> task_;
  int cancelling_ = 0;
  uvrun_handle_t *timer_ = nullptr;
};

namespace detail {

// `co_await timeout.run(body)`: enters, awaits the body inline, exits.
template <class A>
class TimeoutScope {
 public:
  template <class U>
  TimeoutScope(Timeout &t, U &&body) : timeout_(t), body_(std::forward<U>(body)) {}

  bool await_ready() {
    timeout_.enter();
    return body_.ready();
  }
  decltype(auto) await_suspend(std::coroutine_handle<> h) { return body_.suspend(h); }
  decltype(auto) await_resume() {
    return timeout_.exit([this]() -> decltype(auto) { return body_.resume(); });
  }

 private:
  Timeout &timeout_;
  Inline<A> body_;
};

// wait_for's awaitable: owns its Timeout.
template <class A>
class WaitFor {
 public:
  template <class U>
  WaitFor(double when, U &&aw) : timeout_(when), scope_(timeout_, std::forward<U>(aw)) {}

  bool await_ready() { return scope_.await_ready(); }
  decltype(auto) await_suspend(std::coroutine_handle<> h) { return scope_.await_suspend(h); }
  decltype(auto) await_resume() { return scope_.await_resume(); }

 private:
  Timeout timeout_;
  TimeoutScope<A> scope_;
};

}  // namespace detail

// asyncio.timeout(delay): a deadline `delay` from now.
[[nodiscard]] inline Timeout timeout(std::chrono::duration<double> delay) {
  return Timeout(loop_time() + delay.count());
}
// asyncio.timeout_at(when): a deadline on the loop's clock; nullopt: none.
[[nodiscard]] inline Timeout timeout_at(std::optional<double> when) { return Timeout(when); }

// asyncio.wait_for (3.12): awaits `aw` inline under timeout(delay); on
// expiry the inner await is cancelled and waited for, then TimeoutError.
// If the inner swallows the cancellation, its result is returned.
template <class A>
[[nodiscard]] detail::WaitFor<std::remove_cvref_t<A>> wait_for(A &&aw, std::chrono::duration<double> delay) {
  return detail::WaitFor<std::remove_cvref_t<A>>(loop_time() + delay.count(), std::forward<A>(aw));
}

}  // namespace uvrun
