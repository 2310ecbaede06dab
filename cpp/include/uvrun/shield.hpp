// uvrun/shield.hpp -- asyncio.shield: await something without letting a
// cancellation of the awaiting task reach it.
#pragma once

#include <uvrun.h>

#include <coroutine>
#include <utility>

#include "future.hpp"
#include "typed_future.hpp"

namespace uvrun {
namespace detail {

// The awaiting task waits on `outer`, a plain future that mirrors the inner
// one; cancelling the task cancels only `outer`. Each callback holds a
// reference to the other future until it has run or been removed, or was
// dropped unrun (the loop closed with both pending).
template <class T>
class ShieldAwaiter {
 public:
  explicit ShieldAwaiter(Child<T> inner)
      : inner_(std::move(inner)), mirror_(make_outer(inner_.future.capi())), outer_(uvrun_future_ref(mirror_)) {}
  ShieldAwaiter(const ShieldAwaiter &) = delete;
  ShieldAwaiter &operator=(const ShieldAwaiter &) = delete;
  // Never awaited, or left early: drop the mirror (the inner runs on).
  ~ShieldAwaiter() {
    uvrun_future_cancel(mirror_, nullptr);
    uvrun_future_unref(mirror_);
  }

  bool await_ready() const noexcept { return outer_.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { outer_.await_suspend(h); }
  value_t<T> await_resume() {
    outer_.await_resume();
    return inner_.take();
  }

 private:
  static uvrun_future_t *make_outer(uvrun_future_t *inner) {
    if (uvrun_future_done(inner)) return uvrun_future_ref(inner);  // nothing to shield
    uvrun_future_t *outer = nullptr;
    check(uvrun_future_new(uvrun_future_loop(inner), &outer));
    if (uvrun_future_add_done_callback_owned(inner, on_inner_done, outer, drop_ref) < 0) {
      uvrun_future_unref(outer);
      throw_last(UVRUN_E_NOMEM);
    }
    uvrun_future_ref(outer);  // the inner callback's
    if (uvrun_future_add_done_callback_owned(outer, on_outer_done, inner, drop_ref) < 0) {
      uvrun_future_remove_done_callback(inner, on_inner_done, outer);
      uvrun_future_unref(outer);
      uvrun_future_unref(outer);
      throw_last(UVRUN_E_NOMEM);
    }
    uvrun_future_ref(inner);  // the outer callback's
    return outer;
  }
  static void drop_ref(void *fut) { uvrun_future_unref(static_cast<uvrun_future_t *>(fut)); }
  static void on_inner_done(uvrun_future_t *inner, void *ud) {
    auto *outer = static_cast<uvrun_future_t *>(ud);
    if (uvrun_future_cancelled(outer)) {
      uvrun_future_error(inner);  // nobody will read it: mark it retrieved
    } else if (uvrun_future_cancelled(inner)) {
      uvrun_future_cancel(outer, nullptr);
    } else if (uvrun_error_t *err = uvrun_future_error(inner)) {
      uvrun_future_set_error(outer, uvrun_error_ref(err));
    } else {
      uvrun_future_set_result(outer, nullptr, nullptr);  // the value stays on inner
    }
    uvrun_future_unref(outer);
  }
  static void on_outer_done(uvrun_future_t *outer, void *ud) {
    auto *inner = static_cast<uvrun_future_t *>(ud);
    // Cancelled first: the inner's callback will never be wanted.
    if (uvrun_future_remove_done_callback(inner, on_inner_done, outer) > 0) uvrun_future_unref(outer);
    uvrun_future_unref(inner);
  }

  Child<T> inner_;
  uvrun_future_t *mirror_;  // `outer`, which outer_ hands to the task
  FutureAwaiter outer_;
};

}  // namespace detail

// `co_await shield(t)`: cancelling the awaiting task raises CancelledError
// there, while `t` keeps running. A Task<T> argument starts as a task.
template <class A>
[[nodiscard]] auto shield(A &&aw) {
  using T = detail::child_result_t<A>;
  return detail::ShieldAwaiter<T>(detail::as_child(std::forward<A>(aw)));
}

}  // namespace uvrun
