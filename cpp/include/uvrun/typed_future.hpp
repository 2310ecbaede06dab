// uvrun/typed_future.hpp -- Future<T>: a typed uvrun_future_t (asyncio.Future),
// and the one conversion every combinator needs: "the future behind an
// awaitable argument".
#pragma once

#include <uvrun.h>

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "errors.hpp"
#include "future.hpp"
#include "runner.hpp"
#include "task.hpp"

namespace uvrun {

namespace detail {

// What a result of type T is stored as in a tuple: void becomes monostate.
template <class T>
using value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// The boxed value of a done future, seen as T.
template <class T>
decltype(auto) value_ref(void *value) {
  if constexpr (std::is_void_v<T>) {
    (void)value;
  } else {
    return *static_cast<T *>(value);
  }
}

template <class E>
bool holds(const std::exception_ptr &e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E &) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace detail

// asyncio.Future: a result, an exception or a cancellation that arrives
// later. A reference-counted handle: copies share one future. Values are
// boxed on the C future and destroyed with it. A Future moved from is empty:
// every use but capi() throws InvalidStateError.
template <class T = void>
class Future {
  static_assert(!std::is_reference_v<T>, "Future<T&> is not supported: box a pointer");

 public:
  using value_type = T;

  // A pending future on the running loop.
  Future() : Future(running_loop()) {}
  explicit Future(uvrun_loop_t *loop) { detail::check(uvrun_future_new(loop, &f_)); }
  // Takes over a reference to `fut`.
  [[nodiscard]] static Future adopt(uvrun_future_t *fut) noexcept { return Future(fut, 0); }

  Future(const Future &o) noexcept : f_(uvrun_future_ref(o.f_)) {}
  Future(Future &&o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  Future &operator=(Future o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~Future() { uvrun_future_unref(f_); }

  // InvalidStateError when already done.
  template <class U = T>
  requires(!std::is_void_v<U>) void set_result(std::type_identity_t<U> value) {
    uvrun_future_t *f = checked();
    auto *box = new T(std::move(value));
    int rc = uvrun_future_set_result(f, box, detail::delete_value<T>);
    if (rc < 0) {
      delete box;
      detail::throw_last(rc);
    }
  }
  void set_result() requires std::is_void_v<T> { detail::check(uvrun_future_set_result(checked(), nullptr, nullptr)); }
  void set_exception(std::exception_ptr e) {
    uvrun_future_t *f = checked();
    uvrun_error_t *err = detail::error_from(std::move(e));
    if (err == nullptr) throw std::bad_alloc();
    detail::check(uvrun_future_set_error(f, err));
  }
  bool cancel(const char *msg = nullptr) { return uvrun_future_cancel(checked(), msg) == 1; }

  [[nodiscard]] bool done() const { return uvrun_future_done(checked()); }
  [[nodiscard]] bool cancelled() const { return uvrun_future_cancelled(checked()); }

  // The value (a reference into the future), or the exception thrown;
  // InvalidStateError while pending.
  decltype(auto) result() const {
    void *value = nullptr;
    uvrun_future_t *f = checked();
    if (uvrun_future_result(f, &value) < 0) {
      if (!done()) throw InvalidStateError("Result is not set.");
      detail::throw_error(uvrun_future_error(f));
    }
    return detail::value_ref<T>(value);
  }
  // asyncio's Future.exception(): null after a result; throws CancelledError
  // when cancelled and InvalidStateError while pending.
  [[nodiscard]] std::exception_ptr exception() const {
    if (!done()) throw InvalidStateError("Exception is not set.");
    if (cancelled()) detail::throw_error(uvrun_future_error(f_));
    uvrun_error_t *err = uvrun_future_error(f_);
    return err != nullptr ? detail::exception_of(err) : nullptr;
  }

  // Awaiting gives a reference to the value (like awaiting a TaskHandle).
  auto operator co_await() const {
    struct Awaiter : detail::BorrowedFutureAwaiter {
      using detail::BorrowedFutureAwaiter::BorrowedFutureAwaiter;
      decltype(auto) await_resume() { return detail::value_ref<T>(detail::BorrowedFutureAwaiter::await_resume()); }
    };
    return Awaiter(checked());
  }

  uvrun_future_t *capi() const noexcept { return f_; }

 private:
  uvrun_future_t *checked() const {
    if (f_ == nullptr) detail::throw_empty("uvrun::Future");
    return f_;
  }
  Future(uvrun_future_t *adopted, int) noexcept : f_(adopted) {}
  uvrun_future_t *f_ = nullptr;
};

namespace detail {

// A child of gather()/shield(): the future behind an argument, and whether
// we are its only reader (a Task we started), so its value may be moved out.
// A shared child's value is copied, unless its type is move-only.
template <class T>
struct Child {
  Future<T> future;
  bool sole_reader;

  value_t<T> take() {
    if constexpr (std::is_void_v<T>) {
      future.result();
      return {};
    } else if constexpr (std::is_copy_constructible_v<T>) {
      if (sole_reader) return std::move(future.result());
      return future.result();
    } else {
      return std::move(future.result());  // move-only: the caller passed it on
    }
  }
};

// Task<T> arguments start as tasks (asyncio's ensure_future); TaskHandle<T>
// and Future<T> arguments are shared.
template <class T>
Child<T> as_child(Task<T> &&task) {
  TaskHandle<T> h = create_task(std::move(task));
  return {Future<T>::adopt(uvrun_future_ref(h.future())), true};
}
template <class T>
Child<T> as_child(const TaskHandle<T> &h) {
  return {Future<T>::adopt(uvrun_future_ref(h.future())), false};
}
template <class T>
Child<T> as_child(const Future<T> &f) {
  return {f, false};
}

template <class A>
using child_result_t = typename decltype(as_child(std::declval<A>()).future)::value_type;

}  // namespace detail
}  // namespace uvrun
