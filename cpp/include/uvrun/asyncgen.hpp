// uvrun/asyncgen.hpp -- AsyncGenerator<T>: a coroutine that can both
// `co_yield` values and `co_await`.
//
//   uvrun::AsyncGenerator<int> ticks(int n) {
//     for (int i = 0; i < n; i++) { co_await uvrun::sleep(1ms); co_yield i; }
//   }
//   auto gen = ticks(3);
//   while (auto v = co_await gen.next()) use(*v);
//
// Like `await agen.__anext__()`, next() runs the generator inline in the
// awaiting task. The first iteration on a running loop registers it with the
// loop; the loop's shutdown closes those still alive, all at once, and
// reports a failing close with "an error occurred during closing of
// asynchronous generator <name>".
//
// aclose() throws GeneratorExit at the suspended co_yield. C++ forbids
// co_await inside a catch block, so cleanup that awaits goes after it:
//
//   bool closing = false;
//   try { co_yield v; } catch (const uvrun::GeneratorExit &) { closing = true; }
//   if (closing) { co_await flush(); co_return; }
//
// Destroying a generator suspended at a co_yield does not destroy its frame
// at once: the loop closes it in a task of its own (the finalizer hook), and
// that task frees it. A generator never iterated on a running loop is not
// tracked and is destroyed directly, like one that finished.
#pragma once

#include <uvrun.h>

#include <coroutine>
#include <exception>
#include <new>
#include <optional>
#include <utility>

#include "errors.hpp"
#include "future.hpp"
#include "task.hpp"

namespace uvrun {

// Thrown at a generator's co_yield by aclose(). Like Python's, a
// BaseException: `catch (const std::exception &)` does not swallow it.
class GeneratorExit : public BaseException {
 public:
  GeneratorExit() : BaseException("GeneratorExit") {}
  int code() const noexcept override { return UVRUN_E_TASK_FAILED; }
};

template <class T>
class AsyncGenerator;

namespace detail {

struct AsyncGenPromiseBase {
  enum class State : unsigned char { created, suspended, running, finished };

  std::coroutine_handle<> consumer;  // the coroutine awaiting next()/aclose()
  PromiseBase::Inline inline_state = PromiseBase::Inline::detached;
  State state = State::created;
  bool closing = false;   // aclose() in progress: co_yield throws GeneratorExit
  bool orphaned = false;  // its AsyncGenerator is gone: the close frees it
  std::exception_ptr exception;
  detail::SourceLocation where;  // names the generator in reports
  uvrun_asyncgen_t *reg = nullptr;
  // Keeps the loop object readable after it closes: a closed loop has freed
  // `reg`, and only the loop tells whether it did.
  uvrun_future_t *anchor = nullptr;

  explicit AsyncGenPromiseBase(detail::SourceLocation w) noexcept : where(w) {}
  ~AsyncGenPromiseBase() { uvrun_future_unref(anchor); }

  bool loop_alive() const noexcept { return anchor != nullptr && !uvrun_loop_is_closed(uvrun_future_loop(anchor)); }

  // The generator finished or was closed: the loop need not close it.
  void forget() noexcept {
    if (reg != nullptr && loop_alive()) uvrun_asyncgen_unregister(reg);
    reg = nullptr;
  }

  // Control goes back to the consumer (co_yield, the end).
  std::coroutine_handle<> hand_back() noexcept {
    if (inline_state == PromiseBase::Inline::starting) {
      inline_state = PromiseBase::Inline::finished;  // the consumer's await goes on
      return std::noop_coroutine();
    }
    return resume_from_step(consumer);
  }

  struct YieldAwaiter {
    AsyncGenPromiseBase &p;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) noexcept {
      p.state = State::suspended;
      return p.hand_back();
    }
    void await_resume() const {
      if (p.closing) throw GeneratorExit();
    }
  };
  struct FinalAwaiter {
    AsyncGenPromiseBase &p;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) noexcept {
      p.state = State::finished;
      return p.hand_back();
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return {*this}; }
  void return_void() const noexcept {}
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

// Runs the generator inline until it yields, finishes, or suspends the task
// on a future; registers it with the running loop on the first run.
template <class Promise>
struct DriveAwaiter {
  std::coroutine_handle<Promise> h;

  bool await_ready() const noexcept { return h.promise().state == AsyncGenPromiseBase::State::finished; }
  bool await_suspend(std::coroutine_handle<> caller) {
    using Inline = PromiseBase::Inline;
    Promise &p = h.promise();
    if (p.state == AsyncGenPromiseBase::State::running)
      throw RuntimeError(UVRUN_E_INVALID_STATE, "asynchronous generator is already running");
    if (p.state == AsyncGenPromiseBase::State::created) p.track();
    p.state = AsyncGenPromiseBase::State::running;
    p.consumer = caller;
    p.inline_state = Inline::starting;
    if (resume_inline(h) && p.inline_state == Inline::finished) return false;
    p.inline_state = Inline::detached;
    return true;
  }
  void await_resume() const noexcept {}
};

// Owns a generator frame the loop closes: frees it when the close task ends
// (or is dropped unstarted) if its AsyncGenerator is gone by then.
template <class Promise>
struct OrphanGuard {
  std::coroutine_handle<Promise> h;
  explicit OrphanGuard(std::coroutine_handle<Promise> gen) noexcept : h(gen) {}
  OrphanGuard(OrphanGuard &&o) noexcept : h(std::exchange(o.h, {})) {}
  ~OrphanGuard() {
    if (h && h.promise().orphaned) h.destroy();
  }
};

template <class T>
struct AsyncGenPromise final : AsyncGenPromiseBase {
  using Handle = std::coroutine_handle<AsyncGenPromise>;
  std::optional<T> current;

  // GCC and clang evaluate the default argument where the coroutine starts, so it
  // names the generator function.
  AsyncGenPromise(detail::SourceLocation w = detail::SourceLocation::current()) noexcept : AsyncGenPromiseBase(w) {}

  AsyncGenerator<T> get_return_object() noexcept;
  template <class U>
  YieldAwaiter yield_value(U &&v) {
    current.emplace(std::forward<U>(v));
    return {*this};
  }

  // asyncio's aclose(): GeneratorExit at the co_yield; the body may await
  // while it unwinds. RuntimeError if it yields again.
  static Task<void> close(OrphanGuard<AsyncGenPromise> gen) {
    AsyncGenPromise &p = gen.h.promise();
    if (p.state == State::running)
      throw RuntimeError(UVRUN_E_INVALID_STATE, "aclose(): asynchronous generator is already running");
    if (p.state == State::suspended) {
      p.closing = true;
      co_await DriveAwaiter<AsyncGenPromise>{gen.h};
      p.closing = false;
      if (p.state != State::finished) {
        p.state = State::finished;
        p.forget();
        throw RuntimeError(UVRUN_E_INVALID_STATE, "async generator ignored GeneratorExit");
      }
    }
    p.state = State::finished;
    p.forget();
    if (std::exception_ptr e = std::exchange(p.exception, nullptr)) {
      try {
        std::rethrow_exception(e);
      } catch (const GeneratorExit &) {
        // the expected way out
      }
    }
  }

  // uvrun_aclose_fn: the loop's shutdown or finalizer closes it in a task.
  static int aclose_for_loop(void *obj, uvrun_loop_t *loop, uvrun_future_t **out) noexcept {
    auto &p = *static_cast<AsyncGenPromise *>(obj);
    p.reg = nullptr;  // the loop frees the registration itself now
    uvrun_task_opts_t opts;
    uvrun_task_opts_init(&opts);
    opts.arg_free = destroy_frame;
    Task<void> closing;
    try {
      closing = close(OrphanGuard<AsyncGenPromise>(Handle::from_promise(p)));
    } catch (const std::bad_alloc &) {
      return UVRUN_E_NOMEM;  // no frame for the close (an orphan went with its guard)
    }
    uvrun_task_t *task = nullptr;
    int rc = uvrun_task_new(loop, step<void>, closing.release().address(), &opts, &task);
    if (rc < 0) return rc;  // the frame (and an orphan) was freed
    *out = uvrun_future_ref(uvrun_task_future(task));
    uvrun_task_unref(task);
    return 0;
  }

  // Out of memory it throws, as Python's first-iteration hook would: an
  // untracked generator would escape the loop's closing.
  void track() {
    uvrun_loop_t *loop = uvrun_get_running_loop();
    if (loop == nullptr) return;  // not tracked
    check(uvrun_future_new(loop, &anchor));
    if (int rc = uvrun_asyncgen_register(loop, this, where.function_name(), aclose_for_loop, &reg); rc < 0) {
      uvrun_future_unref(std::exchange(anchor, nullptr));
      throw_last(rc);
    }
  }
};

}  // namespace detail

// An async generator yielding T. Move-only.
template <class T>
class [[nodiscard]] AsyncGenerator {
 public:
  using promise_type = detail::AsyncGenPromise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  explicit AsyncGenerator(handle_type h) noexcept : h_(h) {}
  AsyncGenerator(AsyncGenerator &&o) noexcept : h_(std::exchange(o.h_, {})) {}
  AsyncGenerator &operator=(AsyncGenerator o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~AsyncGenerator() { release(); }

  // `co_await gen.next()`: the next value, or std::nullopt once the
  // generator has finished; its exception comes out here. Like aclose()
  // and done(), InvalidStateError on a generator moved from.
  auto next() {
    struct Awaiter : detail::DriveAwaiter<promise_type> {
      std::optional<T> await_resume() {
        promise_type &p = this->h.promise();
        if (p.state == promise_type::State::finished) {
          p.forget();
          if (std::exception_ptr e = std::exchange(p.exception, nullptr)) std::rethrow_exception(e);
          return std::nullopt;
        }
        return std::exchange(p.current, std::nullopt);
      }
    };
    return Awaiter{{checked()}};
  }

  // Closes the generator (Python's aclose()); awaiting it runs the cleanup.
  Task<void> aclose() { return promise_type::close(detail::OrphanGuard<promise_type>(checked())); }

  bool done() const { return checked().promise().state == promise_type::State::finished; }

 private:
  handle_type checked() const {
    if (!h_) detail::throw_empty("uvrun::AsyncGenerator");
    return h_;
  }
  void release() noexcept {
    if (!h_) return;
    promise_type &p = h_.promise();
    using State = typename promise_type::State;
    bool loop_will_close = p.reg != nullptr && p.loop_alive() && p.state == State::suspended;
    if (loop_will_close || p.closing) {
      p.orphaned = true;  // a close task frees it
      if (loop_will_close) uvrun_asyncgen_finalize(p.reg);
      return;
    }
    p.forget();
    h_.destroy();
  }

  handle_type h_;
};

namespace detail {
template <class T>
AsyncGenerator<T> AsyncGenPromise<T>::get_return_object() noexcept {
  return AsyncGenerator<T>(std::coroutine_handle<AsyncGenPromise<T>>::from_promise(*this));
}
}  // namespace detail

// `co_await uvrun::shutdown_asyncgens()`, asyncio's loop.shutdown_asyncgens():
// closes every generator still alive on the running loop, all at once, and
// resumes when each close has ended; failed closes go to the exception
// handler (R55). Generators first iterated afterwards warn (R57), and the
// runner's close closes them. The closes start at the call.
inline detail::VoidAwaiter shutdown_asyncgens() {
  return detail::VoidAwaiter(uvrun_shutdown_asyncgens(running_loop()));
}

}  // namespace uvrun
