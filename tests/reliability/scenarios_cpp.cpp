// The C++ layer's scenarios: tasks, a Runner, timeouts, gather and
// TaskGroup, Queue, Event/Lock/Semaphore and shield, to_thread, an async
// generator and shutdown, each checking its own values. They run
// with operator new counted and failed too, so an injected failure comes
// out of uvrun::run as std::bad_alloc or as uvrun::Error(UVRUN_E_NOMEM);
// outcome() maps that to UVRUN_E_NOMEM, and any other exception or failed
// check to an outcome the sweep rejects.
#include <uvrun/uvrun.hpp>

#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios.h"

namespace scn {
namespace {

using namespace std::chrono_literals;
using uvrun::Task;

// The first failed check: a literal, so recording it allocates nothing and
// no injected failure can hide it.
const char *bad = nullptr;
struct Wrong {};  // unwinds a scenario after a failed check

void expect(bool ok, const char *what) {
  if (ok) return;
  if (bad == nullptr) bad = what;
  throw Wrong{};
}

// An injected failure: std::bad_alloc, uvrun's NOMEM, or a TaskGroup's
// errors with one of those among them.
bool is_nomem(const std::exception_ptr &e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc &) {
    return true;
  } catch (const uvrun::Error &x) {
    return x.code() == UVRUN_E_NOMEM;
  } catch (const uvrun::ExceptionGroup &g) {
    for (const auto &x : g.exceptions())
      if (is_nomem(x)) return true;
    return false;
  } catch (...) {
    return false;
  }
}

// What a scenario passes up unchanged: an injected failure, or the
// cancellation of a main task whose run failed for one (the shutdown that
// follows cancels it).
bool passes_up(const std::exception_ptr &e) { return is_nomem(e) || uvrun::detail::holds<uvrun::CancelledError>(e); }

// e must be the std::runtime_error(message) a scenario threw on purpose;
// what passes up in its place is rethrown.
void expect_failure(const std::exception_ptr &e, const char *message) {
  expect(e != nullptr, message);
  if (passes_up(e)) std::rethrow_exception(e);
  try {
    std::rethrow_exception(e);
  } catch (const std::runtime_error &x) {
    expect(std::strcmp(x.what(), message) == 0, message);
  } catch (...) {
    expect(false, message);
  }
}

// Runs a scenario's body and maps how it ended onto an Outcome.
template <class F>
oom::Outcome outcome(F body) {
  std::exception_ptr error;
  try {
    body();
  } catch (...) {
    error = std::current_exception();
  }
  oom::disarm();
  uvrun_error_unref(uvrun_take_error());  // the thread's last error is no leak
  oom::Outcome o;
  if (bad != nullptr) {
    o.rc = UVRUN_E_INVALID_STATE;
    o.ok = false;
    o.what = bad;
  } else if (error && is_nomem(error)) {
    o.rc = UVRUN_E_NOMEM;
  } else if (error) {
    o.rc = uvrun::detail::code_of(error);
    o.ok = false;
    o.what = "exception: " + uvrun::detail::message_of(error);
  }
  bad = nullptr;
  return o;
}

Task<int> value_after(std::chrono::milliseconds d, int v) {
  co_await uvrun::sleep(d);
  co_return v;
}

Task<void> fail_after(std::chrono::milliseconds d) {
  co_await uvrun::sleep(d);
  throw std::runtime_error("child failed");
}

// Longer than the small-string buffer: copies allocate.
std::string text(int i) { return "item " + std::to_string(i) + " of a scenario, long enough to allocate"; }

// ---- uvrun::run, create_task, await ----

Task<std::string> text_after_yield(int i) {
  co_await uvrun::yield();
  co_return text(i);
}

Task<int> spawner() {
  auto a = uvrun::create_task(value_after(0ms, 1));
  auto b = uvrun::create_task(text_after_yield(2), "text");
  auto c = uvrun::create_task(value_after(1ms, 3));
  int inline_value = co_await value_after(0ms, 4);  // awaited inline, no task
  int x = co_await a;
  std::string y = co_await b;
  int z = co_await c;
  expect(x == 1 && z == 3 && inline_value == 4, "task results");
  expect(y == text(2), "a task's string result");
  co_return x + z + inline_value;
}

oom::Outcome run_create_task() {
  return outcome([] { expect(uvrun::run(spawner()) == 8, "run's result"); });
}

// ---- Runner: three runs in one context ----

Task<std::string> read_label(const uvrun::ContextVar<std::string> &label) {
  co_await uvrun::yield();
  co_return label.get();
}

Task<int> runner_main(uvrun::ContextVar<std::string> &label, int i) {
  std::string before = label.get();
  expect(before == (i == 0 ? std::string("unset") : text(i - 1)), "the runner's context keeps the last run's set");
  auto child = uvrun::create_task(read_label(label));
  label.set(text(i));  // not seen by the child: it has a copy
  expect(co_await child == before, "a child task sees its parent's context as it was created");
  co_return 100 + i;
}

oom::Outcome runner_runs() {
  return outcome([] {
    uvrun::ContextVar<std::string> label("label", "unset");
    uvrun::Options opts;
    opts.debug = true;  // sites and never-awaited warnings allocate too
    uvrun::Runner runner(opts);
    for (int i = 0; i < 3; i++) expect(runner.run(runner_main(label, i)) == 100 + i, "run results");
    runner.close();
  });
}

// ---- sleep, wait_for, timeout scopes ----

Task<int> reschedule_then_value(uvrun::Timeout &scope) {
  scope.reschedule(uvrun::loop_time() + 30);
  co_return co_await value_after(1ms, 4);
}

Task<void> timeouts() {
  bool timed_out = false;
  try {
    co_await uvrun::wait_for(value_after(30s, 1), 2ms);
  } catch (const uvrun::TimeoutError &) {
    timed_out = true;
  }
  expect(timed_out, "wait_for times out");
  expect(co_await uvrun::wait_for(value_after(1ms, 2), 30s) == 2, "wait_for in time");

  auto scope = uvrun::timeout(2ms);
  timed_out = false;
  try {
    co_await scope.run(value_after(30s, 3));
  } catch (const uvrun::TimeoutError &) {
    timed_out = true;
  }
  expect(timed_out && scope.expired(), "a timeout scope expires");

  auto open = uvrun::timeout_at(std::nullopt);
  int v = co_await open.run(reschedule_then_value(open));
  expect(v == 4 && !open.expired(), "a rescheduled timeout scope in time");
}

oom::Outcome timeout_scopes() {
  return outcome([] { uvrun::run(timeouts()); });
}

// ---- gather and TaskGroup with a failing child ----

// e must be a TaskGroup's ExceptionGroup holding just the "child failed"
// error; an injected failure in it, or what passes up in its place, is
// rethrown.
void expect_group_failure(const std::exception_ptr &e) {
  expect(e != nullptr, "a TaskGroup raises");
  if (passes_up(e)) std::rethrow_exception(e);
  try {
    std::rethrow_exception(e);
  } catch (const uvrun::ExceptionGroup &g) {
    expect(g.exceptions().size() == 1, "a TaskGroup raises its one failure");
    expect_failure(g.exceptions().front(), "child failed");
  } catch (...) {
    expect(false, "a TaskGroup raises an ExceptionGroup");
  }
}

Task<void> note_cancel(bool &cancelled) {
  try {
    co_await uvrun::sleep(30s);
  } catch (const uvrun::CancelledError &) {
    cancelled = true;
    throw;
  }
}

Task<void> append_after(std::vector<int> &to, std::chrono::milliseconds d, int v) {
  to.push_back(co_await value_after(d, v));
}

// Runs as a TaskGroup's body; the children of a group use its locals.
Task<void> group_body(uvrun::TaskGroup &g, bool &sibling_cancelled) {
  std::vector<int> values;
  {
    uvrun::TaskGroup inner;
    inner.create_task(append_after(values, 1ms, 5));
    inner.create_task(append_after(values, 0ms, 6));
    co_await inner;
  }
  expect((values == std::vector<int>{6, 5}), "a TaskGroup waits for its children");
  g.create_task(fail_after(1ms));
  g.create_task(note_cancel(sibling_cancelled));
  co_await uvrun::sleep(30s);  // the failing child cancels the body
}

Task<void> gathers() {
  std::exception_ptr failure;
  try {
    co_await uvrun::gather(value_after(1ms, 1), fail_after(0ms));
  } catch (...) {
    failure = std::current_exception();
  }
  expect_failure(failure, "child failed");

  auto [good, failed] = co_await uvrun::gather_settled(value_after(1ms, 2), fail_after(1ms));
  expect(good.value() == 2, "gather_settled's value");  // value() rethrows an injected failure
  expect_failure(failed.exception(), "child failed");

  failure = nullptr;
  bool sibling_cancelled = false;
  try {
    uvrun::TaskGroup g;
    co_await g.run(group_body(g, sibling_cancelled));
  } catch (...) {
    failure = std::current_exception();
  }
  expect_group_failure(failure);
  expect(sibling_cancelled, "a failing child cancels its siblings");
}

oom::Outcome gather_taskgroup() {
  return outcome([] { uvrun::run(gathers()); });
}

// ---- Queue: producer and consumer ----

Task<void> produce(uvrun::Queue<std::string> &q, int n) {
  for (int i = 0; i < n; i++) co_await q.put(text(i));
  co_await q.join();
  q.shutdown();  // the consumer stops
}

Task<std::vector<std::string>> consume(uvrun::Queue<std::string> &q) {
  std::vector<std::string> got;
  for (;;) {
    std::optional<std::string> item;
    try {
      item = co_await q.get();
    } catch (const uvrun::QueueShutDown &) {
      break;
    }
    got.push_back(std::move(*item));
    q.task_done();
  }
  co_return got;
}

oom::Outcome queue() {
  return outcome([] {
    uvrun::Queue<std::string> q(2);  // bounded: the producer waits too
    auto main = [&]() -> Task<void> {
      // The first failure ends gather (and the run): the other side is
      // cancelled at shutdown, and q outlives it.
      auto [none, got] = co_await uvrun::gather(produce(q, 6), consume(q));
      expect(got.size() == 6, "every item arrives");
      for (int i = 0; i < 6; i++) expect(got[i] == text(i), "items arrive in order");
    };
    uvrun::run(main());
  });
}

// ---- Event, Lock, Semaphore, shield ----

// What the tasks share; it outlives the run, as leftover tasks may.
struct Sync {
  uvrun::Event go;
  uvrun::Lock lock;
  uvrun::Semaphore slots{2};
  std::vector<int> order;
};

Task<int> worker(Sync &s, int v) {
  co_await s.go.wait();
  auto slot = co_await s.slots.scoped();
  auto held = co_await s.lock.scoped();
  co_await uvrun::sleep(0ms);  // holds the lock across an await
  s.order.push_back(v);
  co_return v;
}

Task<int> shielded(uvrun::TaskHandle<int> inner) { co_return co_await uvrun::shield(inner); }

Task<void> sync_main(Sync &s) {
  auto a = uvrun::create_task(worker(s, 1));
  auto b = uvrun::create_task(worker(s, 2));
  auto c = uvrun::create_task(worker(s, 3));
  co_await uvrun::yield();
  expect(s.order.empty(), "workers wait for the event");
  s.go.set();
  int x = co_await a, y = co_await b, z = co_await c;
  expect(x + y + z == 6 && (s.order == std::vector<int>{1, 2, 3}), "the lock admits them in turn");

  auto inner = uvrun::create_task(value_after(1ms, 7));
  auto outer = uvrun::create_task(shielded(inner));
  co_await uvrun::yield();  // outer waits behind its shield
  outer.cancel();
  std::exception_ptr e;
  try {
    co_await outer;
  } catch (...) {
    e = std::current_exception();
  }
  if (is_nomem(e)) std::rethrow_exception(e);
  expect(uvrun::detail::holds<uvrun::CancelledError>(e), "cancelling the awaiter of a shield");
  expect(co_await inner == 7, "the shielded task runs on");
}

oom::Outcome sync_shield() {
  return outcome([] {
    Sync s;
    uvrun::run(sync_main(s));
  });
}

// ---- to_thread ----

Task<void> threads(uvrun::ContextVar<std::string> &label) {
  label.set(text(1));
  std::string s = co_await uvrun::to_thread(
      [&label](const std::string &prefix, int n) { return prefix + std::to_string(n) + label.get(); }, text(0), 7);
  expect(s == text(0) + "7" + text(1), "a job's result, computed in the caller's context");
  std::exception_ptr failure;
  try {
    co_await uvrun::to_thread([] { throw std::runtime_error("child failed"); });
  } catch (...) {
    failure = std::current_exception();
  }
  expect_failure(failure, "child failed");
}

oom::Outcome to_thread() {
  return outcome([] {
    uvrun::ContextVar<std::string> label("worker label");
    uvrun::run(threads(label));
  });
}

// ---- an async generator closed at shutdown ----

uvrun::AsyncGenerator<std::string> lines(bool &closed) {
  bool closing = false;
  for (int i = 0; !closing; i++) {
    co_await uvrun::sleep(0ms);
    try {
      co_yield text(i);
    } catch (const uvrun::GeneratorExit &) {
      closing = true;
    }
  }
  co_await uvrun::sleep(1ms);  // its cleanup awaits
  closed = true;
}

oom::Outcome asyncgen_shutdown() {
  return outcome([] {
    bool closed = false;
    int reports = 0;
    std::optional<uvrun::AsyncGenerator<std::string>> gen;  // outlives the run
    uvrun::Options opts;
    opts.exception_handler = [&reports](uvrun_loop_t *, const uvrun_exception_context_t &) { reports++; };
    auto main = [&]() -> Task<void> {
      gen.emplace(lines(closed));
      std::optional<std::string> a = co_await gen->next();
      std::optional<std::string> b = co_await gen->next();
      expect(a == text(0) && b == text(1), "the generator's values");
    };
    uvrun::run(main(), opts);
    // Out of memory its close may fail instead: reported, like any failing
    // close at shutdown (R55).
    expect((closed && gen->done() && reports == 0) || (!closed && reports == 1),
           "shutdown closed the generator, running its cleanup, or reported why not");
  });
}

// ---- leftover tasks cancelled at shutdown ----

// How the leftovers ended: cancelled, or failed (each failure reported once).
struct Leftovers {
  int cancelled = 0, reports = 0;
};

Task<void> leftover(Leftovers &s, bool cleanup_fails) {
  try {
    co_await uvrun::sleep(30s);
  } catch (const uvrun::CancelledError &) {  // at shutdown
  }
  co_await uvrun::sleep(1ms);  // its cleanup awaits
  if (cleanup_fails) throw std::runtime_error("cleanup failed");
  s.cancelled++;
  throw uvrun::CancelledError();
}

Task<int> leave_tasks(Leftovers &s) {
  for (int i = 0; i < 4; i++) uvrun::create_task(leftover(s, i == 3));
  co_await uvrun::yield();  // they start
  co_return 42;
}

oom::Outcome shutdown_leftovers() {
  return outcome([] {
    Leftovers s;
    uvrun::Options opts;
    opts.exception_handler = [&s](uvrun_loop_t *, const uvrun_exception_context_t &) { s.reports++; };
    expect(uvrun::run(leave_tasks(s), opts) == 42, "run's result");
    // Out of memory a leftover may fail instead, but none is left behind,
    // and the last one's cleanup always fails.
    expect(s.cancelled + s.reports == 4 && s.cancelled <= 3, "each leftover cancelled or reported once");
  });
}

}  // namespace

const std::vector<Scenario> &cpp() {
  static const std::vector<Scenario> list = {
      {"C++ run: create_task and await", run_create_task},
      {"C++ Runner: three runs and a ContextVar", runner_runs},
      {"C++ sleep, wait_for and timeout scopes", timeout_scopes},
      {"C++ gather and TaskGroup with a failing child", gather_taskgroup},
      {"C++ Queue: producer and consumer", queue},
      {"C++ Event, Lock, Semaphore and shield", sync_shield},
      {"C++ to_thread", to_thread},
      {"C++ async generator closed at shutdown", asyncgen_shutdown},
      {"C++ shutdown with leftover tasks", shutdown_leftovers},
  };
  return list;
}

}  // namespace scn
