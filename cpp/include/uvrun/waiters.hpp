// uvrun/waiters.hpp -- the FIFO of parked coroutines behind Event, Lock,
// Semaphore and Queue (asyncio keeps a deque of futures; so do we, but
// intrusive: each node lives in the awaiting coroutine's frame).
#pragma once

#include <uvrun.h>

#include <coroutine>
#include <optional>

#include "future.hpp"

namespace uvrun::detail {

class WaiterList;

// One parked coroutine: a fresh future it awaits through FutureAwaiter (so
// it is resumed by its task's step, never from a callback), linked into a
// primitive's list until it leaves.
class Waiter {
 public:
  Waiter() = default;
  Waiter(const Waiter &) = delete;
  Waiter &operator=(const Waiter &) = delete;
  ~Waiter() {
    unlink();
    uvrun_future_unref(fut_);
  }

  // await_suspend: park on `list`. Allocates the future; nothing else.
  void park(WaiterList &list, std::coroutine_handle<> h);
  // await_resume: leave the list; throws CancelledError if cancelled.
  void resume() {
    unlink();
    await_->await_resume();
  }
  [[nodiscard]] bool parked() const noexcept { return await_.has_value(); }
  [[nodiscard]] bool done() const noexcept { return uvrun_future_done(fut_); }
  [[nodiscard]] bool cancelled() const noexcept { return uvrun_future_cancelled(fut_); }
  void wake() noexcept { uvrun_future_set_result(fut_, nullptr, nullptr); }
  void cancel() noexcept { uvrun_future_cancel(fut_, nullptr); }
  void unlink() noexcept;

  // `co_await w.wait_on(list)` inside a coroutine that handles the outcome.
  [[nodiscard]] auto wait_on(WaiterList &list) noexcept {
    struct Awaiter {
      Waiter &w;
      WaiterList &list;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) { w.park(list, h); }
      void await_resume() { w.resume(); }
    };
    return Awaiter{*this, list};
  }

 private:
  friend class WaiterList;
  uvrun_future_t *fut_ = nullptr;  // our own reference: await_ gives its own to the task
  std::optional<FutureAwaiter> await_;
  WaiterList *list_ = nullptr;
  Waiter *prev_ = nullptr;
  Waiter *next_ = nullptr;
};

class WaiterList {
 public:
  WaiterList() = default;
  WaiterList(const WaiterList &) = delete;
  WaiterList &operator=(const WaiterList &) = delete;
  // Waiters still parked when the primitive dies forget it.
  ~WaiterList() {
    while (head_ != nullptr) head_->unlink();
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  // The first waiter for which pred holds, or nullptr.
  template <class Pred>
  [[nodiscard]] Waiter *find(Pred pred) const {
    for (Waiter *w = head_; w != nullptr; w = w->next_)
      if (pred(*w)) return w;
    return nullptr;
  }
  [[nodiscard]] Waiter *front() const noexcept { return head_; }
  // asyncio's `any(not w.cancelled() for w in waiters)`.
  [[nodiscard]] bool has_live() const {
    return find([](const Waiter &w) { return !w.cancelled(); }) != nullptr;
  }
  // Wakes every waiter not woken yet (Event.set).
  void wake_all() noexcept {
    for (Waiter *w = head_; w != nullptr; w = w->next_)
      if (!w->done()) w->wake();
  }
  // Pops waiters until one is not done and wakes it (Queue._wakeup_next).
  void pop_and_wake_next() noexcept {
    while (Waiter *w = head_) {
      w->unlink();
      if (!w->done()) {
        w->wake();
        return;
      }
    }
  }
  // Pops and wakes every waiter (Queue.shutdown).
  void pop_and_wake_all() noexcept {
    while (Waiter *w = head_) {
      w->unlink();
      if (!w->done()) w->wake();
    }
  }

 private:
  friend class Waiter;
  Waiter *head_ = nullptr;
  Waiter *tail_ = nullptr;
};

inline void Waiter::park(WaiterList &list, std::coroutine_handle<> h) {
  uvrun_future_t *fut = nullptr;
  check(uvrun_future_new(running_loop(), &fut));
  uvrun_future_unref(std::exchange(fut_, fut));
  await_.emplace(uvrun_future_ref(fut));
  await_->await_suspend(h);  // throws outside a task: then nothing is linked
  list_ = &list;
  prev_ = list.tail_;
  (prev_ != nullptr ? prev_->next_ : list.head_) = this;
  list.tail_ = this;
}

inline void Waiter::unlink() noexcept {
  if (list_ == nullptr) return;
  (prev_ != nullptr ? prev_->next_ : list_->head_) = next_;
  (next_ != nullptr ? next_->prev_ : list_->tail_) = prev_;
  list_ = nullptr;
  prev_ = next_ = nullptr;
}

// Starts a coroutine from await_suspend only when an awaiter must wait, so
// the fast path allocates no frame. The coroutine runs inline, exactly as
// `co_await task` would.
template <class T>
class Detour {
 public:
  // await_suspend's answer: false when the coroutine finished at once.
  bool start(Task<T> task, std::coroutine_handle<> caller) {
    task_ = std::move(task);
    return task_.operator co_await().await_suspend(caller);
  }
  [[nodiscard]] bool started() const noexcept { return task_.valid(); }
  decltype(auto) result() { return task_.operator co_await().await_resume(); }

 private:
  Task<T> task_;
};

}  // namespace uvrun::detail
