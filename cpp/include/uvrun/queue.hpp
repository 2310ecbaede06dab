// uvrun/queue.hpp -- asyncio.Queue<T> with Python 3.13's shutdown().
//
// As in asyncio, a woken getter or putter is not handed a slot: it rechecks
// when it runs, and one that was woken and then cancelled passes the
// wake-up on. put()/get() that need not wait allocate nothing; a waiting
// one runs a small coroutine.
#pragma once

#include <algorithm>
#include <cstddef>
#include <coroutine>
#include <deque>
#include <stdexcept>
#include <utility>

#include "sync.hpp"
#include "task.hpp"
#include "waiters.hpp"

namespace uvrun {

struct QueueEmpty : std::runtime_error {
  QueueEmpty() : std::runtime_error("QueueEmpty") {}
};
struct QueueFull : std::runtime_error {
  QueueFull() : std::runtime_error("QueueFull") {}
};
// put() after shutdown(), or get() on a shut down queue once it is empty.
struct QueueShutDown : std::runtime_error {
  QueueShutDown() : std::runtime_error("QueueShutDown") {}
};

template <class T>
class Queue {
 public:
  // maxsize 0: unbounded.
  explicit Queue(std::size_t maxsize = 0) : maxsize_(maxsize) { finished_.set(); }
  Queue(const Queue &) = delete;
  Queue &operator=(const Queue &) = delete;

  [[nodiscard]] std::size_t qsize() const noexcept { return items_.size(); }
  [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] bool full() const noexcept { return maxsize_ > 0 && items_.size() >= maxsize_; }
  [[nodiscard]] bool is_shutdown() const noexcept { return shutdown_; }

  // QueueShutDown, QueueFull.
  void put_nowait(T item) {
    if (shutdown_) throw QueueShutDown();
    if (full()) throw QueueFull();
    items_.push_back(std::move(item));
    ++unfinished_;
    finished_.clear();
    getters_.pop_and_wake_next();
  }
  // QueueEmpty, or QueueShutDown once a shut down queue is empty.
  T get_nowait() {
    if (empty()) {
      if (shutdown_) throw QueueShutDown();
      throw QueueEmpty();
    }
    T item = std::move(items_.front());
    items_.pop_front();
    putters_.pop_and_wake_next();
    return item;
  }

  // Waits for a free slot. The item is destroyed with the awaiter if the
  // put is cancelled or fails.
  [[nodiscard]] auto put(T item) {
    struct Awaiter {
      Queue &q;
      T item;
      detail::Detour<void> wait;
      bool await_ready() const noexcept { return !q.full() || q.shutdown_; }
      bool await_suspend(std::coroutine_handle<> h) { return wait.start(q.wait_while(&Queue::full, q.putters_), h); }
      void await_resume() {
        if (wait.started()) wait.result();
        q.put_nowait(std::move(item));
      }
    };
    return Awaiter{*this, std::move(item), {}};
  }
  // Waits for an item.
  [[nodiscard]] auto get() {
    struct Awaiter {
      Queue &q;
      detail::Detour<void> wait;
      bool await_ready() const noexcept { return !q.empty() || q.shutdown_; }
      bool await_suspend(std::coroutine_handle<> h) { return wait.start(q.wait_while(&Queue::empty, q.getters_), h); }
      T await_resume() {
        if (wait.started()) wait.result();
        return q.get_nowait();
      }
    };
    return Awaiter{*this, {}};
  }

  // std::invalid_argument (ValueError) when called more times than items
  // were put.
  void task_done() {
    if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
    if (--unfinished_ == 0) finished_.set();
  }
  // Waits until every item put has been marked task_done().
  [[nodiscard]] auto join() noexcept { return finished_.wait(); }

  // Python 3.13: put() raises QueueShutDown from now on, get() once the
  // queue is empty; `immediate` drops the items (each counting as done).
  // Every blocked put()/get() wakes to recheck.
  void shutdown(bool immediate = false) {
    shutdown_ = true;
    if (immediate) {
      std::size_t dropped = items_.size();
      items_.clear();
      unfinished_ -= std::min(unfinished_, dropped);
      if (unfinished_ == 0) finished_.set();
    }
    getters_.pop_and_wake_all();
    putters_.pop_and_wake_all();
  }

 private:
  // The waiting half of put()/get(): park while `blocked` holds.
  Task<void> wait_while(bool (Queue::*blocked)() const noexcept, detail::WaiterList &waiters) {
    while ((this->*blocked)()) {
      if (shutdown_) throw QueueShutDown();
      detail::Waiter w;
      try {
        co_await w.wait_on(waiters);
      } catch (...) {
        w.cancel();  // in case it was not woken
        // Woken, but leaving: the next in line gets the chance.
        if (!(this->*blocked)() && !w.cancelled()) waiters.pop_and_wake_next();
        throw;
      }
    }
  }

  std::size_t maxsize_;
  std::deque<T> items_;
  detail::WaiterList getters_;
  detail::WaiterList putters_;
  std::size_t unfinished_ = 0;
  Event finished_;
  bool shutdown_ = false;
};

}  // namespace uvrun
