// Cancelling a C++ await in the loop iteration its operation completed,
// before the task resumes: shared by the stream and datagram cancel tests.
#pragma once
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <coroutine>
#include <utility>

namespace {

void cancel_task(uvrun_future_t *, void *task) { uvrun_task_cancel(static_cast<uvrun_task_t *>(task), nullptr); }

// Awaits `inner`, cancelling the awaiting task from a done callback of the
// future it suspended on: that callback runs before the task's wake-up, so
// the task is cancelled in the iteration the operation completed, its
// result untaken (the shape of the C tests' S3 case).
template <class A>
struct CancelledOnCompletion {
  A inner;
  bool await_ready() { return inner.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) {
    inner.await_suspend(h);
    uvrun::detail::StepState &st = uvrun::detail::step_state();
    CHECK(uvrun_future_add_done_callback(st.await, cancel_task, st.task) == 0);
  }
  decltype(auto) await_resume() { return inner.await_resume(); }
};

struct Plain {
  template <class A>
  A operator()(A aw) const {
    return aw;
  }
};
struct CancelOnCompletion {
  template <class A>
  CancelledOnCompletion<A> operator()(A aw) const {
    return {std::move(aw)};
  }
};

// Awaits a task expected to end cancelled.
template <class T>
uvrun::Task<bool> ended_cancelled(uvrun::TaskHandle<T> task) {
  try {
    co_await task;
  } catch (const uvrun::CancelledError &) {
    co_return true;
  }
  co_return false;
}

}  // namespace
