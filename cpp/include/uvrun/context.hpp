// uvrun/context.hpp -- contextvars for C++: Context and ContextVar<T> over
// the C context objects, so C and C++ code see the same variables.
//
// Ownership: a value is set as an immutable, reference-counted box, and the
// variable is made with uvrun_contextvar_new_owned(), so every context, copy
// and token that holds a box owns a reference to it. A box lives exactly as
// long as something can read it: a context copy that outlives a set, a task
// or an executor job that carries it, a token. get() returns a copy of T.
#pragma once

#include <uvrun.h>

#include <atomic>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "errors.hpp"
#include "future.hpp"

namespace uvrun {

template <class T>
class ContextVar;

namespace detail {

// A value as the contexts hold it. Any thread may drop the last reference.
template <class T>
struct ContextBox {
  std::atomic<long> refs{1};
  const T value;

  template <class... A>
  explicit ContextBox(A &&...a) : value(std::forward<A>(a)...) {}
  static void ref(void *p) noexcept { static_cast<ContextBox *>(p)->refs.fetch_add(1, std::memory_order_relaxed); }
  static void unref(void *p) noexcept {
    auto *box = static_cast<ContextBox *>(p);
    if (box->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete box;
  }
};

}  // namespace detail

// contextvars.Context: a mapping of variables to values. Move-only; copy()
// is O(1). Converts to uvrun_context_t*, so it goes wherever the C API or
// Runner::run takes a context. A Context moved from is empty: copy(), run()
// and get() throw InvalidStateError.
class Context {
 public:
  // An empty context (contextvars.Context()).
  Context() { detail::check(uvrun_context_new(&ctx_)); }
  explicit Context(uvrun_context_t *adopted) noexcept : ctx_(adopted) {}
  Context(Context &&o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
  Context &operator=(Context o) noexcept {
    std::swap(ctx_, o.ctx_);
    return *this;
  }
  ~Context() { uvrun_context_free(ctx_); }

  // contextvars.copy_context(): a snapshot of the current context.
  static Context copy_current() {
    uvrun_context_t *c = nullptr;
    detail::check(uvrun_context_copy_current(&c));
    return Context(c);
  }
  Context copy() const {
    uvrun_context_t *c = nullptr;
    detail::check(uvrun_context_copy(checked(), &c));
    return Context(c);
  }

  // Context.run(): calls fn inside this context and returns its result;
  // its exception comes out. RuntimeError if the context is entered already.
  template <class F>
  std::invoke_result_t<F &> run(F &&fn) {
    using R = std::invoke_result_t<F &>;
    struct Call {
      F &fn;
      std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
      std::exception_ptr error;
      static void invoke(void *ud) {
        auto *self = static_cast<Call *>(ud);
        try {
          if constexpr (std::is_void_v<R>) self->fn();
          else self->result.emplace(self->fn());
        } catch (...) {
          self->error = std::current_exception();
        }
      }
    } call{fn};
    detail::check(uvrun_context_run(checked(), Call::invoke, &call));
    if (call.error) std::rethrow_exception(call.error);
    if constexpr (!std::is_void_v<R>) return std::move(*call.result);
  }

  // Context.get(var): the value var has in this context (its default aside).
  template <class T>
  std::optional<T> get(const ContextVar<T> &var) const {
    return var.value_in(checked());
  }

  uvrun_context_t *capi() const noexcept { return ctx_; }
  operator uvrun_context_t *() const noexcept { return ctx_; }

 private:
  uvrun_context_t *checked() const {
    if (ctx_ == nullptr) detail::throw_empty("uvrun::Context");
    return ctx_;
  }
  uvrun_context_t *ctx_ = nullptr;
};

// What ContextVar::set() returns: ContextVar::reset() puts the old value
// back. Single use; destroying an unused token is fine.
class Token {
 public:
  Token(Token &&o) noexcept : t_(std::exchange(o.t_, nullptr)), used_(o.used_) {}
  Token &operator=(Token o) noexcept {
    std::swap(t_, o.t_);
    std::swap(used_, o.used_);
    return *this;
  }
  ~Token() { uvrun_token_free(t_); }
  bool used() const noexcept { return used_; }

 private:
  template <class T>
  friend class ContextVar;
  explicit Token(uvrun_token_t *t) noexcept : t_(t) {}
  uvrun_token_t *t_ = nullptr;
  bool used_ = false;
};

// contextvars.ContextVar holding T values. Like Python's, a variable should
// live as long as the contexts that hold values for it: declare variables at
// namespace scope (a value left behind is freed with its context anyway).
template <class T>
class ContextVar {
 public:
  explicit ContextVar(const std::string &name) {
    detail::check(uvrun_contextvar_new_owned(name.c_str(), 0, nullptr, Box::ref, Box::unref, &var_));
  }
  ContextVar(const std::string &name, T default_value) : default_(new Box(std::move(default_value))) {
    int rc = uvrun_contextvar_new_owned(name.c_str(), 1, default_, Box::ref, Box::unref, &var_);
    if (rc < 0) Box::unref(default_);
    detail::check(rc);
  }
  ContextVar(const ContextVar &) = delete;
  ContextVar &operator=(const ContextVar &) = delete;
  ~ContextVar() {
    uvrun_contextvar_free(var_);
    if (default_ != nullptr) Box::unref(default_);
  }

  std::string name() const { return uvrun_contextvar_name(var_); }

  // The value in the current context, else the default; LookupError if
  // there is neither.
  T get() const {
    void *v = nullptr;
    detail::check(uvrun_contextvar_get(var_, &v));
    return static_cast<Box *>(v)->value;
  }
  // The value in the current context, else `fallback` (before the default,
  // as Python's get(default)).
  T get(T fallback) const {
    void *v = nullptr;
    if (uvrun_contextvar_get(var_, &v) < 0 || v == default_) return fallback;
    return static_cast<Box *>(v)->value;
  }

  // Sets the value in the current context.
  Token set(T value) {
    Box *box = new Box(std::move(value));
    uvrun_token_t *t = nullptr;
    int rc = uvrun_contextvar_set(var_, box, &t);
    Box::unref(box);  // the context has its own reference now
    detail::check(rc);
    return Token(t);
  }
  // Restores what the variable held before the set() that made `token`.
  // RuntimeError if the token was used; Error (TOKEN_MISMATCH) if it comes
  // from another variable or context; InvalidStateError for a token moved
  // from.
  void reset(Token &token) {
    if (token.used_) throw RuntimeError(UVRUN_E_TOKEN_USED, uvrun_strerror(UVRUN_E_TOKEN_USED));
    if (token.t_ == nullptr) detail::throw_empty("uvrun::Token");
    token.used_ = true;
    detail::check(uvrun_contextvar_reset(var_, std::exchange(token.t_, nullptr)));
  }

  // The value this variable has in ctx, its default aside (Context::get).
  std::optional<T> value_in(const uvrun_context_t *ctx) const {
    void *v = nullptr;
    if (uvrun_context_get(ctx, var_, &v) < 0 || v == default_) return std::nullopt;
    return static_cast<Box *>(v)->value;
  }

  uvrun_contextvar_t *capi() const noexcept { return var_; }

 private:
  using Box = detail::ContextBox<T>;
  Box *default_ = nullptr;
  uvrun_contextvar_t *var_ = nullptr;
};

}  // namespace uvrun
