// uvrun/executor.hpp -- blocking work off the loop: run_in_executor() and
// to_thread() run a callable on the loop's thread pool and give an
// awaitable for its result. The worker runs in a copy of the caller's
// context; an exception thrown there arrives intact where it is awaited.
#pragma once

#include <uvrun.h>

#include <chrono>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "errors.hpp"
#include "future.hpp"

namespace uvrun {

namespace detail {

// What a job leaves for its awaiter.
template <class R>
struct JobOutcome {
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
  std::exception_ptr error;
};

// Shared by the worker and the awaiter: a cancelled awaiter leaves, and the
// worker still finishes (Python cannot stop a running thread either).
template <class F, class R = std::invoke_result_t<F &>>
struct ExecutorJob : JobOutcome<R> {
  F fn;
  explicit ExecutorJob(F f) : fn(std::move(f)) {}

  // uvrun_work_fn: `ud` is the worker's reference, dropped when done.
  static int work(void *ud, void **out) {
    auto *ref = static_cast<std::shared_ptr<ExecutorJob> *>(ud);
    std::shared_ptr<ExecutorJob> self = std::move(*ref);
    delete ref;
    *out = nullptr;
    try {
      if constexpr (std::is_void_v<R>) self->fn();
      else self->result.emplace(self->fn());
      return 0;
    } catch (...) {
      self->error = std::current_exception();
      return code_of(self->error);  // C observers of the future see a failure
    }
  }
};

template <class R>
class ExecutorAwaiter : public FutureAwaiter {
 public:
  ExecutorAwaiter(uvrun_future_t *fut, std::shared_ptr<JobOutcome<R>> job) : FutureAwaiter(fut), job_(std::move(job)) {}

  R await_resume() {
    try {
      FutureAwaiter::await_resume();
    } catch (const CancelledError &) {
      throw;
    } catch (...) {
      if (job_->error) std::rethrow_exception(job_->error);  // not its C shadow
      throw;
    }
    if constexpr (!std::is_void_v<R>) return std::move(*job_->result);
  }

 private:
  std::shared_ptr<JobOutcome<R>> job_;
};

}  // namespace detail

// loop.run_in_executor(None, fn): submits fn now; await the result. Throws
// RuntimeError "Executor shutdown has been called" after shutdown.
template <class F>
auto run_in_executor(F fn) -> detail::ExecutorAwaiter<std::invoke_result_t<F &>> {
  using Job = detail::ExecutorJob<F>;
  auto job = std::make_shared<Job>(std::move(fn));
  auto *worker_ref = new std::shared_ptr<Job>(job);
  uvrun_future_t *fut = uvrun_run_in_executor(running_loop(), Job::work, worker_ref);
  if (fut == nullptr) delete worker_ref;  // the job will never run
  return detail::ExecutorAwaiter<std::invoke_result_t<F &>>(fut, std::move(job));
}

// asyncio.to_thread(fn, args...): the arguments are copied (or moved) into
// the job, as std::thread does.
template <class F, class... Args>
auto to_thread(F fn, Args... args) {
  return run_in_executor([fn = std::move(fn), tup = std::make_tuple(std::move(args)...)]() mutable {
    return std::apply(fn, std::move(tup));
  });
}

// `co_await uvrun::shutdown_default_executor(timeout)`, asyncio's
// loop.shutdown_default_executor(): run_in_executor() throws from the call
// on; resumes once the jobs already queued have run (R59), or after
// `timeout` (default: none), which logs R58's warning and leaves the jobs
// still running to finish on their own. Cancelling the awaiting task ends
// only its own wait.
inline detail::VoidAwaiter shutdown_default_executor(
    std::chrono::duration<double> timeout = std::chrono::duration<double>(std::numeric_limits<double>::infinity())) {
  return detail::VoidAwaiter(uvrun_shutdown_default_executor(running_loop(), timeout.count()));
}

}  // namespace uvrun
