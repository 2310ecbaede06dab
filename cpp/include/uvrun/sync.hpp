// uvrun/sync.hpp -- asyncio's Event, Lock, Semaphore and BoundedSemaphore.
//
// Waiters are woken in FIFO order. A waiter that was woken and then
// cancelled before it ran passes its wake-up on, as in asyncio, so
// cancellation never loses one. Acquiring without waiting allocates nothing.
#pragma once

#include <coroutine>
#include <stdexcept>
#include <utility>

#include "errors.hpp"
#include "waiters.hpp"

namespace uvrun {

// asyncio.Event.
class Event {
 public:
  [[nodiscard]] bool is_set() const noexcept { return set_; }
  // Wakes every waiter; later waits return at once until clear().
  void set() noexcept {
    if (set_) return;
    set_ = true;
    waiters_.wake_all();
  }
  void clear() noexcept { set_ = false; }

  [[nodiscard]] auto wait() noexcept {
    struct Awaiter {
      Event &event;
      detail::Waiter waiter;
      bool await_ready() const noexcept { return event.set_; }
      void await_suspend(std::coroutine_handle<> h) { waiter.park(event.waiters_, h); }
      void await_resume() {
        if (waiter.parked()) waiter.resume();
      }
    };
    return Awaiter{*this, {}};
  }

 private:
  bool set_ = false;
  detail::WaiterList waiters_;
};

// Releases what it holds when it goes out of scope: `auto guard = co_await
// lock.scoped();`.
template <class Primitive>
class [[nodiscard]] Guard {
 public:
  explicit Guard(Primitive &p) noexcept : p_(&p) {}
  Guard(Guard &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Guard &operator=(Guard &&) = delete;
  ~Guard() {
    if (p_ != nullptr) p_->release();
  }

 private:
  Primitive *p_;
};

namespace detail {
// `co_await x.scoped()`: acquires like `co_await x.acquire()`, then hands
// back a Guard.
template <class Primitive, class Acquire>
struct ScopedAcquire : Acquire {
  Guard<Primitive> await_resume() {
    Acquire::await_resume();
    return Guard<Primitive>(this->owner);
  }
};
}  // namespace detail

// asyncio.Lock: not reentrant, fair.
class Lock {
  struct Acquire {
    Lock &owner;
    detail::Waiter waiter;
    bool await_ready() noexcept {
      // Free, and nobody queued who could still take it.
      if (owner.locked_ || owner.waiters_.has_live()) return false;
      owner.locked_ = true;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { waiter.park(owner.waiters_, h); }
    void await_resume() {
      if (!waiter.parked()) return;
      try {
        waiter.resume();
      } catch (...) {
        // Woken (or not) but leaving: make sure the next in line runs.
        if (!owner.locked_) owner.wake_up_first();
        throw;
      }
      owner.locked_ = true;
    }
  };

 public:
  [[nodiscard]] bool locked() const noexcept { return locked_; }
  [[nodiscard]] Acquire acquire() noexcept { return Acquire{*this, {}}; }
  [[nodiscard]] detail::ScopedAcquire<Lock, Acquire> scoped() noexcept { return {{*this, {}}}; }
  // RuntimeError when not locked.
  void release() {
    if (!locked_) throw RuntimeError(UVRUN_E_INVALID_STATE, "Lock is not acquired.");
    locked_ = false;
    wake_up_first();
  }

 private:
  void wake_up_first() noexcept {
    // A done head is already on its way to take the lock.
    if (detail::Waiter *w = waiters_.front(); w != nullptr && !w->done()) w->wake();
  }

  bool locked_ = false;
  detail::WaiterList waiters_;
};

// asyncio.Semaphore (3.12+ FIFO rules: a newcomer waits while anyone
// queued has not been cancelled, even if the count is positive).
class Semaphore {
  struct Acquire {
    Semaphore &owner;
    detail::Waiter waiter;
    bool await_ready() noexcept {
      if (owner.locked()) return false;
      --owner.value_;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { waiter.park(owner.waiters_, h); }
    void await_resume() {
      if (!waiter.parked()) return;
      // Whatever happens, wake as many as the count now allows.
      struct WakeAllowed {
        Semaphore &s;
        ~WakeAllowed() {
          while (s.value_ > 0 && s.wake_up_next()) {
          }
        }
      } wake_allowed{owner};
      try {
        waiter.resume();
      } catch (...) {
        // Woken but not acquiring: give the unit back.
        if (waiter.done() && !waiter.cancelled()) ++owner.value_;
        throw;
      }
    }
  };

 public:
  // std::invalid_argument (asyncio's ValueError) when value < 0.
  explicit Semaphore(int value = 1) : value_(value) {
    if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
  }
  // True when acquire() would wait.
  [[nodiscard]] bool locked() const { return value_ == 0 || waiters_.has_live(); }
  [[nodiscard]] int value() const noexcept { return value_; }
  [[nodiscard]] Acquire acquire() noexcept { return Acquire{*this, {}}; }
  [[nodiscard]] detail::ScopedAcquire<Semaphore, Acquire> scoped() noexcept { return {{*this, {}}}; }
  void release() noexcept {
    ++value_;
    wake_up_next();
  }

 protected:
  int value_;

 private:
  // Wakes the first waiter not woken yet, taking a unit for it.
  bool wake_up_next() noexcept {
    detail::Waiter *w = waiters_.find([](const detail::Waiter &x) { return !x.done(); });
    if (w == nullptr) return false;
    --value_;
    w->wake();
    return true;
  }

  detail::WaiterList waiters_;
};

// asyncio.BoundedSemaphore: releasing past the initial value is an error.
// (A Guard from scoped() releases only what it acquired.)
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : Semaphore(value), bound_(value) {}
  // std::invalid_argument (ValueError) when released too many times.
  void release() {
    if (value_ >= bound_) throw std::invalid_argument("BoundedSemaphore released too many times");
    Semaphore::release();
  }

 private:
  int bound_;
};

}  // namespace uvrun
