// uvrun/thread.hpp -- work handed to a loop in another thread:
// submit_threadsafe(), ThreadFuture<T> and BackgroundRunner.
//
//     uvrun::BackgroundRunner bg;                       // a loop on its own thread
//     auto f = bg.submit(fetch(url));                   // from this thread
//     if (f.wait_for(2s)) use(f.get()); else f.cancel();
//
// A ThreadFuture may also be awaited by a task on another loop, which keeps
// running meanwhile: `auto page = co_await bg.submit(fetch(url));`.
#pragma once

#include <uvrun.h>

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include "errors.hpp"
#include "future.hpp"
#include "runner.hpp"
#include "task.hpp"

namespace uvrun {

// The thread-safe future of a task started with submit_threadsafe
// (concurrent.futures.Future). Any thread may wait on it, cancel it or read
// it; the value stays in it.
template <class T = void>
class ThreadFuture {
 public:
  ThreadFuture() noexcept = default;
  explicit ThreadFuture(uvrun_cfuture_t *adopted) noexcept : cf_(adopted) {}
  ThreadFuture(ThreadFuture &&o) noexcept : cf_(std::exchange(o.cf_, nullptr)) {}
  ThreadFuture &operator=(ThreadFuture o) noexcept {
    std::swap(cf_, o.cf_);
    return *this;
  }
  ThreadFuture(const ThreadFuture &) = delete;
  ~ThreadFuture() { uvrun_cfuture_unref(cf_); }

  bool done() const { return uvrun_cfuture_done(checked()); }
  bool cancelled() const { return uvrun_cfuture_cancelled(checked()); }
  // From any thread: true if it cancelled the future (its task is cancelled
  // on its loop; one not started never runs), false if it was done.
  bool cancel() { return uvrun_cfuture_cancel(checked()) == 1; }

  // Blocks until done or `timeout` passes: whether it is done. On the thread
  // of the loop that runs the task it throws RuntimeError (would deadlock).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return wait(std::chrono::duration<double>(timeout).count());
  }
  void wait() const { wait(-1.0); }

  // Waits, then gives the task's result (moved out: call it once) or throws
  // its exception (the same object), CancelledError if cancelled.
  T get() {
    wait();
    void *value = nullptr;
    if (uvrun_cfuture_result(cf_, &value) < 0) rethrow();
    if constexpr (std::is_void_v<T>) {
      (void)value;
    } else if constexpr (std::is_reference_v<T>) {
      return *static_cast<std::remove_reference_t<T> *>(value);
    } else {
      return T(std::move(*static_cast<T *>(value)));
    }
  }

  // fn() runs once the future is done, on the thread that completes it (the
  // loop's, or the one that cancels), or at once if it is done already.
  void add_done_callback(std::function<void()> fn) {
    auto *box = new std::function<void()>(std::move(fn));
    int rc = uvrun_cfuture_add_done_callback(
        checked(),
        [](uvrun_cfuture_t *, void *ud) {
          std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()> *>(ud));
          try {
            (*f)();
          } catch (...) {
            uvrun_log(UVRUN_LOG_ERROR, "a ThreadFuture done callback threw");
          }
        },
        box);
    if (rc < 0) {
      delete box;
      detail::throw_last(rc);
    }
  }

  // Awaited from a task on any loop (its own included) without blocking it:
  // the result by reference (valid while this future lives). Cancelling the
  // awaiting task cancels this future.
  auto operator co_await() const {
    struct Awaiter : detail::FutureAwaiter {
      using detail::FutureAwaiter::FutureAwaiter;
      decltype(auto) await_resume() {
        void *value = detail::FutureAwaiter::await_resume();
        if constexpr (std::is_void_v<T>) {
          (void)value;
        } else {
          return *static_cast<std::remove_reference_t<T> *>(value);
        }
      }
    };
    return Awaiter(uvrun_wrap_cfuture(running_loop(), checked()));
  }

  uvrun_cfuture_t *capi() const noexcept { return cf_; }
  explicit operator bool() const noexcept { return cf_ != nullptr; }

 private:
  uvrun_cfuture_t *checked() const {
    if (cf_ == nullptr) detail::throw_empty("uvrun::ThreadFuture");
    return cf_;
  }
  bool wait(double seconds) const {
    int rc = uvrun_cfuture_wait(checked(), seconds);
    if (rc == UVRUN_E_TIMEDOUT) return false;
    if (rc < 0) detail::throw_last(rc);
    return true;
  }
  [[noreturn]] void rethrow() const {
    std::unique_ptr<uvrun_error_t, decltype(&uvrun_error_unref)> err(uvrun_cfuture_error(cf_), uvrun_error_unref);
    detail::throw_error(err.get());
  }
  uvrun_cfuture_t *cf_ = nullptr;
};

// Starts `task` on `loop` from any thread (asyncio.run_coroutine_threadsafe):
// it runs in a copy of this thread's context. Throws RuntimeError if the
// loop is closed.
template <class T>
ThreadFuture<T> submit_threadsafe(uvrun_loop_t *loop, Task<T> task, const char *name = nullptr) {
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.name = name;
  opts.arg_free = detail::destroy_frame;
  uvrun_cfuture_t *cf = nullptr;
  // Boxed: the value outlives the task, whose frame goes with it.
  detail::check(uvrun_submit_threadsafe(loop, detail::step<T, true>, task.take().address(), &opts, &cf));
  return ThreadFuture<T>(cf);
}

// A runner on a thread of its own: submit work from any thread, stop (the
// runner's full shutdown on its thread, then join). Ctrl-C handling is off:
// signals belong to the main thread. The destructor stops it and never
// throws.
class BackgroundRunner final {
 public:
  explicit BackgroundRunner(Options options = {}) : options_(std::move(options)) {
    uvrun_options_t c = detail::to_c(options_);
    detail::check(uvrun_background_start(&c, &bg_));
  }
  BackgroundRunner(const BackgroundRunner &) = delete;
  BackgroundRunner &operator=(const BackgroundRunner &) = delete;
  ~BackgroundRunner() {
    if (uvrun_background_free(bg_) == UVRUN_E_WOULD_DEADLOCK)
      uvrun_log(UVRUN_LOG_ERROR, "a BackgroundRunner destroyed on its own thread was not stopped");
  }

  uvrun_loop_t *loop() const noexcept { return uvrun_background_loop(bg_); }
  template <class T>
  ThreadFuture<T> submit(Task<T> task, const char *name = nullptr) {
    return submit_threadsafe(loop(), std::move(task), name);
  }
  // Idempotent; throws what the shutdown failed with.
  void stop() { detail::check(uvrun_background_stop(bg_)); }

 private:
  Options options_;  // the C options point into it
  uvrun_background_t *bg_ = nullptr;
};

}  // namespace uvrun
