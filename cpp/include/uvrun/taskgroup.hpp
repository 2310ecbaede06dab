// uvrun/taskgroup.hpp -- asyncio.TaskGroup (3.13 semantics).
//
// Python's `async with TaskGroup() as g: body` becomes
//
//     uvrun::TaskGroup g;                       // binds to the current task
//     co_await g.run(body(g));                  // body, then wait for all
//  or, when nothing between can throw:
//     g.create_task(a()); g.create_task(b());
//     co_await g;                               // wait for all
//
// run() sees the body's exception and hands it to the group's exit, as
// __aexit__ does. A child failing cancels its siblings and the parent task
// (the body), and the errors come out together as an ExceptionGroup; the
// group's own cancellation of the parent is taken back with uncancel(), so
// an outer cancellation still propagates. A TaskGroup destroyed without
// being exited cancels its children and reports the errors it collected to
// the loop's exception handler, so they cannot vanish.
#pragma once

#include <uvrun.h>

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "future.hpp"
#include "runner.hpp"
#include "task.hpp"
#include "typed_future.hpp"
#include "waiters.hpp"

namespace uvrun {

// Python's ExceptionGroup: every error of a TaskGroup, in the order they
// happened.
class ExceptionGroup : public std::runtime_error {
 public:
  ExceptionGroup(const std::string &message, std::vector<std::exception_ptr> exceptions)
      : std::runtime_error(message + " (" + std::to_string(exceptions.size()) +
                           (exceptions.size() == 1 ? " sub-exception)" : " sub-exceptions)")),
        exceptions_(std::move(exceptions)) {}
  [[nodiscard]] const std::vector<std::exception_ptr> &exceptions() const noexcept { return exceptions_; }

 private:
  std::vector<std::exception_ptr> exceptions_;
};

namespace detail {

// Room for n more elements, growing geometrically as push_back does.
template <class V>
void make_room(V &v, std::size_t n) {
  if (v.capacity() - v.size() < n) v.reserve(std::max(v.size() + n, 2 * v.capacity()));
}

inline void report(uvrun_loop_t *loop, const char *message, const std::exception_ptr &e, uvrun_task_t *task) {
  uvrun_exception_context_t ctx{};
  ctx.size = sizeof ctx;
  ctx.message = message;
  ctx.error = error_from(e);
  ctx.task = task;
  uvrun_loop_call_exception_handler(loop, &ctx);
  uvrun_error_unref(ctx.error);
}

inline bool is_base_error(const std::exception_ptr &e) { return holds<KeyboardInterrupt>(e) || holds<SystemExit>(e); }

// The group's state lives on the heap: a child's done callback may already
// be queued when the TaskGroup object goes away. Each registered callback
// holds a reference.
struct GroupState {
  int refs = 1;
  bool orphaned = false;  // the TaskGroup is gone: callbacks only release
  bool exiting = false;
  bool aborting = false;
  bool parent_cancel_requested = false;
  // Borrowed: the TaskGroup lives in its parent's frame, so the parent
  // outlives it, and a reference would keep a parent abandoned pending at
  // loop close alive through its own frame (parent -> frame -> group).
  uvrun_task_t *parent = nullptr;
  std::vector<TaskHandle<>> tasks;         // children not done yet
  std::vector<std::exception_ptr> errors;  // with room for one per child in `tasks`
  std::exception_ptr base_error;           // KeyboardInterrupt/SystemExit: re-raised alone
  uvrun_future_t *on_completed = nullptr;  // the exit's wake-up, made with the group
  std::exception_ptr propagate_cancel;     // the exit re-raises the parent's cancellation
  Task<void> waiter;                       // wait_children(), made up front

  ~GroupState() {
    uvrun_future_unref(on_completed);
    // Never needed (no child was left at the exit): not a coroutine that
    // was forgotten, so no "never awaited" warning.
    if (waiter.valid()) {
      auto h = waiter.release();
      if (!h.promise().started()) h.promise().start(detail::PromiseBase::kStarted);
      h.destroy();
    }
  }

  void release() noexcept {
    if (--refs == 0) delete this;
  }

  void abort() noexcept {
    aborting = true;
    for (auto &t : tasks)
      if (!t.done()) t.cancel();
  }

  static void on_task_done(uvrun_future_t *fut, void *ud) noexcept {
    auto *s = static_cast<GroupState *>(ud);
    if (!s->orphaned) s->task_done(fut);
    s->release();
  }
  // The callback's reference when it can never run (the loop closed).
  static void drop_task_done(void *ud) noexcept { static_cast<GroupState *>(ud)->release(); }

  void task_done(uvrun_future_t *fut) noexcept {
    auto it = std::find_if(tasks.begin(), tasks.end(), [fut](const TaskHandle<> &t) { return t.future() == fut; });
    TaskHandle<> child = std::move(*it);
    tasks.erase(it);
    if (exiting && tasks.empty() && on_completed != nullptr && !uvrun_future_done(on_completed))
      uvrun_future_set_result(on_completed, nullptr, nullptr);
    if (uvrun_future_cancelled(fut)) return;
    uvrun_error_t *err = uvrun_future_error(fut);  // marks it retrieved
    if (err == nullptr) return;
    std::exception_ptr e = exception_of(err);
    errors.push_back(e);
    if (is_base_error(e) && !base_error) base_error = e;
    if (uvrun_future_done(uvrun_task_future(parent))) {
      report(uvrun_task_loop(parent), "Task has errored out but its parent task is already completed", e, child.capi());
      return;
    }
    if (!aborting && !parent_cancel_requested) {
      // Interrupt the body; exit() takes this cancellation back.
      abort();
      parent_cancel_requested = true;
      uvrun_task_cancel(parent, nullptr);
    }
  }

  // The waiting part of __aexit__: until every child is done, however often
  // the parent is cancelled meanwhile. Its frame and its wake-up are made
  // with the group, so the exit allocates nothing. A cancellation of the
  // parent cancels the wake-up too, and the next wait needs a new one;
  // without memory for it the exit polls once per loop iteration: out of
  // memory, the group still never ends before its children.
  Task<void> wait_children() {
    while (!tasks.empty()) {
      if (on_completed == nullptr || uvrun_future_done(on_completed)) {
        uvrun_future_unref(std::exchange(on_completed, nullptr));
        if (uvrun_future_new(uvrun_task_loop(parent), &on_completed) < 0) on_completed = nullptr;
      }
      try {
        if (on_completed != nullptr) {
          co_await BorrowedFutureAwaiter(on_completed);
        } else {
          co_await uvrun::yield();
        }
      } catch (...) {
        // The parent is being cancelled while children run (the exception
        // is a bad_alloc when the CancelledError could not be made).
        if (!aborting) {
          propagate_cancel = std::current_exception();
          abort();
        }
      }
    }
  }

  // The rest of __aexit__, once no child is left.
  void finish(const std::exception_ptr &body_error, std::exception_ptr cancel) {
    if (base_error) std::rethrow_exception(base_error);
    if (parent_cancel_requested && uvrun_task_uncancel(parent) == 0) cancel = nullptr;
    if (cancel && errors.empty()) std::rethrow_exception(cancel);
    if (body_error && !holds<CancelledError>(body_error)) errors.push_back(body_error);
    if (errors.empty()) return;
    if (uvrun_task_cancelling(parent) > 0) {
      // Cancelled from outside too: keep its count as it was.
      uvrun_task_uncancel(parent);
      uvrun_task_cancel(parent, nullptr);
    }
    throw ExceptionGroup("unhandled errors in a TaskGroup", std::exchange(errors, {}));
  }
};

// `co_await` of the group's exit with the body's outcome.
class GroupExit {
 public:
  GroupExit(GroupState &s, std::exception_ptr body_error) : s_(s), body_error_(std::move(body_error)) {}

  bool await_ready() {
    s_.exiting = true;
    if (is_base_error(body_error_) && !s_.base_error) s_.base_error = body_error_;
    if (holds<CancelledError>(body_error_)) s_.propagate_cancel = body_error_;
    if (body_error_ && !s_.aborting) s_.abort();  // the body failed or was cancelled
    return s_.tasks.empty();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    return wait_.start(s_.waiter.valid() ? std::move(s_.waiter) : s_.wait_children(), h);
  }
  void await_resume() {
    if (wait_.started()) wait_.result();
    s_.finish(body_error_, std::exchange(s_.propagate_cancel, nullptr));
  }

 private:
  GroupState &s_;
  std::exception_ptr body_error_;
  Detour<void> wait_;
};

}  // namespace detail

class TaskGroup {
 public:
  // asyncio's __aenter__: binds to the current task.
  TaskGroup() : s_(new detail::GroupState) {
    s_->parent = uvrun_current_task(uvrun_get_running_loop());
    if (s_->parent == nullptr) {
      delete s_;
      throw RuntimeError(UVRUN_E_INVALID_STATE, "TaskGroup cannot determine the parent task");
    }
    try {
      s_->waiter = s_->wait_children();
      detail::check(uvrun_future_new(uvrun_task_loop(s_->parent), &s_->on_completed));
    } catch (...) {
      delete s_;
      throw;
    }
  }
  TaskGroup(const TaskGroup &) = delete;
  TaskGroup &operator=(const TaskGroup &) = delete;
  ~TaskGroup() {
    bool loop_open = !uvrun_loop_is_closed(uvrun_task_loop(s_->parent));
    for (auto &t : s_->tasks) {
      if (loop_open) t.cancel();
      s_->refs -= uvrun_future_remove_done_callback(t.future(), detail::GroupState::on_task_done, s_);
    }
    if (loop_open)
      for (auto &e : s_->errors)
        detail::report(uvrun_task_loop(s_->parent), "TaskGroup destroyed before its errors were raised", e, nullptr);
    s_->orphaned = true;
    s_->release();
  }

  // Starts `task` as a child. RuntimeError once the group is finished or
  // shutting down (the task is then destroyed without running).
  template <class T>
  TaskHandle<T> create_task(Task<T> task, const char *name = nullptr,
                            detail::SourceLocation where = detail::SourceLocation::current()) {
    if (s_->exiting && s_->tasks.empty()) throw RuntimeError(UVRUN_E_INVALID_STATE, "TaskGroup is finished");
    if (s_->aborting) throw RuntimeError(UVRUN_E_INVALID_STATE, "TaskGroup is shutting down");
    // Out of memory, fail before the child exists. Room for its error too:
    // on_task_done runs under the C core, where nothing may throw.
    detail::make_room(s_->tasks, 1);
    detail::make_room(s_->errors, s_->tasks.size() + 1);
    TaskHandle<T> h = uvrun::create_task(std::move(task), name, where);
    s_->tasks.emplace_back(uvrun_task_ref(h.capi()));
    if (int rc = uvrun_future_add_done_callback_owned(h.future(), detail::GroupState::on_task_done, s_,
                                                      detail::GroupState::drop_task_done);
        rc < 0) {
      // The group would wait for it forever: it never starts instead.
      s_->tasks.pop_back();
      h.cancel();
      detail::throw_last(rc);
    }
    ++s_->refs;
    return h;
  }

  // `async with`: awaits `body` inline, then the children; gives the body's
  // result. Errors come out as described above.
  template <class R>
  Task<R> run(Task<R> body) {
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
      try {
        co_await std::move(body);
      } catch (...) {
        error = std::current_exception();
      }
      co_await detail::GroupExit(*s_, std::move(error));
    } else {
      std::optional<R> result;
      try {
        result.emplace(co_await std::move(body));
      } catch (...) {
        error = std::current_exception();
      }
      co_await detail::GroupExit(*s_, std::move(error));
      co_return std::move(*result);
    }
  }

  // Waits for every child: the exit of an `async with` whose body did not
  // throw.
  [[nodiscard]] detail::GroupExit operator co_await() noexcept { return {*s_, nullptr}; }

 private:
  detail::GroupState *s_;
};

}  // namespace uvrun
