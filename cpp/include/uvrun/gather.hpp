// uvrun/gather.hpp -- asyncio.gather over Task<T>, TaskHandle<T> and
// Future<T> arguments.
//
// Task<T> arguments start as tasks (their results are moved out); handles
// and futures are shared (their results are copied). Cancelling the gather
// cancels every child, and it then ends cancelled even in the settled form
// With the first failure, gather() throws and the other children
// keep running, as in asyncio.
#pragma once

#include <uvrun.h>

#include <array>
#include <exception>
#include <tuple>
#include <utility>
#include <variant>

#include "future.hpp"
#include "typed_future.hpp"

namespace uvrun {

// A child's outcome in gather_settled(): a value or the exception it ended
// with (CancelledError for a cancelled child).
template <class T>
class Result {
 public:
  explicit Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  explicit Result(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  // The value, or rethrows the exception.
  T &value() {
    if (!ok()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  [[nodiscard]] std::exception_ptr exception() const noexcept { return ok() ? nullptr : std::get<1>(v_); }

 private:
  std::variant<T, std::exception_ptr> v_;
};

namespace detail {

template <bool Settled, class... T>
class GatherAwaiter {
 public:
  explicit GatherAwaiter(Child<T>... children) : children_(std::move(children)...), await_(start(children_)) {}

  bool await_ready() const noexcept { return await_.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { await_.await_suspend(h); }
  auto await_resume() {
    await_.await_resume();  // CancelledError, or the first failure
    return std::apply([](auto &...c) { return std::make_tuple(outcome(c)...); }, children_);
  }

 private:
  static uvrun_future_t *start(std::tuple<Child<T>...> &children) {
    std::array<uvrun_future_t *, sizeof...(T)> futs{};
    std::apply([&](auto &...c) { futs = {c.future.capi()...}; }, children);
    return uvrun_gather(running_loop(), futs.data(), futs.size(), Settled ? 1 : 0);
  }
  template <class U>
  static auto outcome(Child<U> &c) {
    if constexpr (Settled) {
      using R = Result<value_t<U>>;
      if (c.future.cancelled()) return R(exception_of(uvrun_future_error(c.future.capi())));
      if (std::exception_ptr e = c.future.exception()) return R(std::move(e));
      return R(c.take());
    } else {
      return c.take();
    }
  }

  std::tuple<Child<T>...> children_;
  FutureAwaiter await_;
};

}  // namespace detail

// `auto [a, b] = co_await gather(f(), g());` -- a tuple of results in
// argument order (std::monostate for void). Throws the first failure.
template <class... A>
[[nodiscard]] auto gather(A &&...aws) {
  // Braces: children start in argument order.
  return detail::GatherAwaiter<false, detail::child_result_t<A>...>{detail::as_child(std::forward<A>(aws))...};
}

// asyncio.gather(..., return_exceptions=True): a tuple of Result<T>; only
// the gather's own cancellation throws.
template <class... A>
[[nodiscard]] auto gather_settled(A &&...aws) {
  return detail::GatherAwaiter<true, detail::child_result_t<A>...>{detail::as_child(std::forward<A>(aws))...};
}

}  // namespace uvrun
