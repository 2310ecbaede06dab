// uvrun/runner.hpp -- run(), Runner, create_task() and task handles.
#pragma once

#include <uvrun.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_set>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "detail/frame_cache.hpp"
#include "errors.hpp"
#include "future.hpp"
#include "task.hpp"

namespace uvrun {

struct Options {
  std::optional<bool> debug;  // unset: UVRUN_DEBUG decides
  // Returns a new loop (the runner owns it), or throws.
  std::function<uvrun_loop_t *()> loop_factory;
  int executor_max_workers = 0;  // 0: min(32, cores + 4)
  std::chrono::duration<double> executor_shutdown_timeout{300.0};
  bool handle_sigint = true;
  // Host mode: with handle_sigint, a run on the main thread takes SIGINT
  // over even from a host's own handler (not from SIG_IGN), and puts the
  // host's back exactly when it ends.
  bool host_sigint = false;
  std::chrono::duration<double> cancel_timeout{0.0};  // 0: wait forever
  std::function<void(uvrun_loop_t *, const uvrun_exception_context_t &)> exception_handler;
  // Sees each step of the runner's close begin and end (uvrun_shutdown_step_name
  // names event.step). What it throws is logged, and the close goes on.
  std::function<void(const uvrun_shutdown_event_t &)> shutdown_hook;
};

namespace detail {

inline int call_factory(void *ud, uvrun_loop_t **out) {
  try {
    *out = (*static_cast<std::function<uvrun_loop_t *()> *>(ud))();
    return 0;
  } catch (const Error &e) {
    return e.code();
  } catch (const std::bad_alloc &) {
    return UVRUN_E_NOMEM;
  } catch (...) {
    return UVRUN_E_INVAL;
  }
}

inline void call_handler(uvrun_loop_t *loop, const uvrun_exception_context_t *ctx, void *ud) {
  try {
    (*static_cast<decltype(Options::exception_handler) *>(ud))(loop, *ctx);
  } catch (...) {
    // A failing handler falls back to the default one.
    uvrun_exception_context_t fallback = *ctx;
    fallback.message = "Unhandled error in exception handler";
    uvrun_loop_default_exception_handler(loop, &fallback);
  }
}

inline void call_shutdown_hook(const uvrun_shutdown_event_t *event, void *ud) {
  try {
    (*static_cast<decltype(Options::shutdown_hook) *>(ud))(*event);
  } catch (const std::exception &e) {
    uvrun_log(UVRUN_LOG_ERROR, (std::string("shutdown hook threw: ") + e.what()).c_str());
  } catch (...) {
    uvrun_log(UVRUN_LOG_ERROR, "shutdown hook threw");
  }
}

// The C options for `o`; `o` must outlive their use.
inline uvrun_options_t to_c(const Options &o) {
  uvrun_options_t c;
  uvrun_options_init(&c);
  c.debug = !o.debug ? UVRUN_DEBUG_DEFAULT : *o.debug ? UVRUN_DEBUG_ON : UVRUN_DEBUG_OFF;
  if (o.loop_factory) {
    c.loop_factory = call_factory;
    c.loop_factory_data = const_cast<std::function<uvrun_loop_t *()> *>(&o.loop_factory);
  }
  c.executor_max_workers = o.executor_max_workers;
  c.executor_shutdown_timeout = o.executor_shutdown_timeout.count();
  c.handle_sigint = o.handle_sigint ? 1 : 0;
  c.host_sigint = o.host_sigint ? 1 : 0;
  c.cancel_timeout = o.cancel_timeout.count();
  if (o.exception_handler) {
    c.exception_handler = call_handler;
    c.exception_handler_data = const_cast<decltype(Options::exception_handler) *>(&o.exception_handler);
  }
  if (o.shutdown_hook) {
    c.shutdown_hook = call_shutdown_hook;
    c.shutdown_hook_data = const_cast<decltype(Options::shutdown_hook) *>(&o.shutdown_hook);
  }
  return c;
}

// Moves a main result out of the C core (never copied or formatted);
// a boxed one (see detail::finish) is freed after the move.
template <class T, bool Boxed>
T take_result(void *result) {
  if constexpr (std::is_void_v<T>) {
    (void)result;
  } else if constexpr (std::is_reference_v<T>) {
    return *static_cast<std::remove_reference_t<T> *>(result);
  } else if constexpr (Boxed) {
    std::unique_ptr<T> box(static_cast<T *>(result));  // freed even if the move throws
    return T(std::move(*box));
  } else {
    return T(std::move(*static_cast<T *>(result)));
  }
}

// "file:line" kept for the life of the process: the C core borrows sites.
// Only called in debug mode.
inline const char *intern_site(const detail::SourceLocation &loc) {
  static std::mutex mu;
  static std::unordered_set<std::string> sites;
  std::lock_guard<std::mutex> lock(mu);
  return sites.insert(std::string(loc.file_name()) + ":" + std::to_string(loc.line())).first->c_str();
}

// Destroys a coroutine frame when it goes out of scope.
struct FrameGuard {
  std::coroutine_handle<> h;
  ~FrameGuard() {
    if (h) h.destroy();
  }
};

}  // namespace detail

// asyncio.run(): runs `main` on a fresh loop, shuts everything down, returns
// its result or throws its exception (the same object).
template <class T>
T run(Task<T> main, const Options &options = {}) {
  uvrun_options_t c = detail::to_c(options);
  void *result = nullptr;
  detail::FrameCacheDecayAtExit decay;
  // The frame outlives the C task: uvrun_run frees it before returning.
  detail::FrameGuard frame{main.take()};
  detail::check(uvrun_run(detail::step<T>, frame.h.address(), &c, &result));
  return detail::take_result<T, false>(result);  // from the frame, still alive
}

// A reference to a C task, typed by its result.
template <class T = void>
class TaskHandle {
 public:
  TaskHandle() noexcept = default;
  explicit TaskHandle(uvrun_task_t *adopted) noexcept : t_(adopted) {}
  TaskHandle(const TaskHandle &o) noexcept : t_(uvrun_task_ref(o.t_)) {}
  TaskHandle(TaskHandle &&o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  TaskHandle &operator=(TaskHandle o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~TaskHandle() { uvrun_task_unref(t_); }

  // Every use but capi(), future() and the bool test throws
  // InvalidStateError on an empty handle.
  bool done() const { return uvrun_future_done(checked_future()); }
  bool cancelled() const { return uvrun_future_cancelled(checked_future()); }
  bool cancel(const char *msg = nullptr) { return uvrun_task_cancel(checked(), msg) == 1; }
  int cancelling() const { return uvrun_task_cancelling(checked()); }
  int uncancel() { return uvrun_task_uncancel(checked()); }
  std::string name() const { return uvrun_task_name(checked()); }
  void set_name(const std::string &name) { detail::check(uvrun_task_set_name(checked(), name.c_str())); }

  // The result of a done task, or its exception (InvalidStateError while
  // pending).
  decltype(auto) result() const {
    void *value = nullptr;
    uvrun_future_t *fut = checked_future();
    if (uvrun_future_result(fut, &value) < 0) detail::throw_error(uvrun_future_error(fut));
    return cast(value);
  }

  // Awaiting gives the task's result (a reference for non-void T).
  auto operator co_await() const {
    struct Awaiter : detail::BorrowedFutureAwaiter {
      using detail::BorrowedFutureAwaiter::BorrowedFutureAwaiter;
      decltype(auto) await_resume() { return cast(detail::BorrowedFutureAwaiter::await_resume()); }
    };
    return Awaiter(checked_future());
  }

  uvrun_task_t *capi() const noexcept { return t_; }
  uvrun_future_t *future() const noexcept { return uvrun_task_future(t_); }
  explicit operator bool() const noexcept { return t_ != nullptr; }

 private:
  uvrun_task_t *checked() const {
    if (t_ == nullptr) detail::throw_empty("uvrun::TaskHandle");
    return t_;
  }
  uvrun_future_t *checked_future() const { return uvrun_task_future(checked()); }
  static decltype(auto) cast(void *value) {
    if constexpr (std::is_void_v<T>) {
      (void)value;
    } else {
      return *static_cast<std::remove_reference_t<T> *>(value);
    }
  }
  uvrun_task_t *t_ = nullptr;
};

// Starts `task` concurrently on the running loop (asyncio.create_task). Its
// first step is queued, not run inline.
template <class T>
TaskHandle<T> create_task(Task<T> task, const char *name = nullptr,
                          detail::SourceLocation where = detail::SourceLocation::current()) {
  uvrun_loop_t *loop = running_loop();
  uvrun_task_opts_t opts{sizeof opts, name, nullptr, detail::destroy_frame, nullptr};
  if (uvrun_loop_get_debug(loop)) opts.site = detail::intern_site(where);
  uvrun_task_t *t = nullptr;
  detail::check(uvrun_task_new(loop, detail::step<T>, task.take().address(), &opts, &t));
  return TaskHandle<T>(t);
}

inline TaskHandle<> current_task() {
  return TaskHandle<>(uvrun_task_ref(uvrun_current_task(uvrun_get_running_loop())));
}

inline std::vector<TaskHandle<>> all_tasks() {
  std::vector<TaskHandle<>> out;
  uvrun_all_tasks(
      running_loop(),
      [](uvrun_task_t *t, void *ud) { static_cast<std::vector<TaskHandle<>> *>(ud)->emplace_back(uvrun_task_ref(t)); },
      &out);
  return out;
}

// asyncio.Runner: several top-level calls on one loop and one context. The
// destructor closes and never throws (close errors go to the log).
class Runner final {
 public:
  explicit Runner(Options options = {}) : options_(std::move(options)) {
    uvrun_options_t c = detail::to_c(options_);
    detail::check(uvrun_runner_new(&c, &r_));
  }
  Runner(const Runner &) = delete;
  Runner &operator=(const Runner &) = delete;
  ~Runner() { uvrun_runner_free(r_); }

  // Runs `main` as this runner's main task, in `context` or the runner's own.
  template <class T>
  T run(Task<T> main, uvrun_context_t *context = nullptr) {
    void *frame = main.take().address();
    uvrun_task_opts_t opts;
    uvrun_task_opts_init(&opts);
    opts.context = context;
    opts.arg_free = detail::destroy_frame;  // the C task may outlive this call
    void *result = nullptr;
    detail::FrameCacheDecayAtExit decay;
    // Boxed: the main task (and its frame) may be freed before we read it.
    detail::check(uvrun_runner_run_task(r_, detail::step<T, true>, frame, &opts, &result));
    return detail::take_result<T, true>(result);
  }

  uvrun_loop_t *get_loop() {
    uvrun_loop_t *loop = nullptr;
    detail::check(uvrun_runner_get_loop(r_, &loop));
    return loop;
  }
  void close() { detail::check(uvrun_runner_close(r_)); }
  uvrun_runner_t *capi() const noexcept { return r_; }

 private:
  Options options_;  // the C options point into it
  uvrun_runner_t *r_ = nullptr;
};

}  // namespace uvrun
