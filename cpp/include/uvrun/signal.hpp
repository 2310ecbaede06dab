// uvrun/signal.hpp -- wait_for_signal(): await a POSIX signal on the running
// loop (loop.add_signal_handler as an awaitable).
#pragma once

#include <uvrun.h>
#include <uvrun_uv.h>

#include <cstdint>
#include <utility>

#include "errors.hpp"
#include "future.hpp"

namespace uvrun {

namespace detail {

// A one-shot uv_signal_t that completes a future with the signal number.
// Its memory goes in the close callback (libuv's rule); uvrun's loop close
// runs pending close callbacks, so it never outlives the loop.
struct SignalWatch {
  uv_signal_t handle;
  uvrun_future_t *fut;  // a reference

  static void on_signal(uv_signal_t *h, int signum) {
    auto *w = static_cast<SignalWatch *>(h->data);
    if (!uvrun_future_done(w->fut))
      uvrun_future_set_result(w->fut, reinterpret_cast<void *>(static_cast<intptr_t>(signum)), nullptr);
  }
  static void on_closed(uv_handle_t *h) {
    auto *w = static_cast<SignalWatch *>(h->data);
    uvrun_future_unref(w->fut);
    delete w;
  }
  void close() noexcept { uv_close(reinterpret_cast<uv_handle_t *>(&handle), on_closed); }
};

// Watches from creation (a signal that comes before the await is not lost)
// until the awaiter goes: after the signal, a cancellation, or unawaited.
class SignalAwaiter : public FutureAwaiter {
 public:
  SignalAwaiter(uvrun_future_t *fut, SignalWatch *watch) : FutureAwaiter(fut), watch_(watch) {}
  SignalAwaiter(SignalAwaiter &&o) noexcept : FutureAwaiter(std::move(o)), watch_(std::exchange(o.watch_, nullptr)) {}
  ~SignalAwaiter() {
    if (watch_ == nullptr) return;
    uvrun_future_cancel(watch_->fut, nullptr);  // no-op once done
    watch_->close();
  }
  int await_resume() { return static_cast<int>(reinterpret_cast<intptr_t>(FutureAwaiter::await_resume())); }

 private:
  SignalWatch *watch_;
};

}  // namespace detail

// Completes with `signum` when the process receives it. Cancellable. The
// signal's disposition is libuv's while watched (SIG_DFL again after).
inline detail::SignalAwaiter wait_for_signal(int signum) {
  uvrun_loop_t *loop = running_loop();
  uvrun_future_t *fut = nullptr;
  detail::check(uvrun_future_new(loop, &fut));
  detail::SignalWatch *w;
  try {
    w = new detail::SignalWatch{{}, fut};  // the watch takes our reference
  } catch (...) {
    uvrun_future_unref(fut);
    throw;
  }
  int rc = uv_signal_init(uvrun_loop_get_uv(loop), &w->handle);
  if (rc < 0) {
    uvrun_future_unref(fut);
    delete w;
    throw Error(rc, uv_strerror(rc));
  }
  w->handle.data = w;
  rc = uv_signal_start_oneshot(&w->handle, detail::SignalWatch::on_signal, signum);
  if (rc < 0) {
    w->close();
    throw Error(rc, uv_strerror(rc));
  }
  return detail::SignalAwaiter(uvrun_future_ref(fut), w);
}

}  // namespace uvrun
