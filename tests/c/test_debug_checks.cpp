// Debug mode's checks: slow callbacks are logged (R22), and the loop's
// non-thread-safe calls are refused from other threads while it runs (R23).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("debug");

namespace {

// Runs fn as uvrun_run's main task with the debug option `debug`; the run
// must return 0.
void run_debug(int debug, std::function<int(uvrun_task_t *, int)> fn) {
  t::Options opts;
  opts.debug = debug;
  CHECK(t::run(std::move(fn), &opts) == 0);
}

// Whether `line` is a slow-callback line: `prefix`, anything, then "> took
// S.mmm seconds" at the end; the seconds go to *took if it is not null.
bool slow_line(const std::string &line, const std::string &prefix, double *took) {
  static const std::string took_ = "> took ", seconds = " seconds";
  size_t at = line.rfind(took_);
  if (line.rfind(prefix, 0) != 0 || at == std::string::npos || at < prefix.size()) return false;
  std::string num = line.substr(at + took_.size());
  if (num.size() <= seconds.size() || num.compare(num.size() - seconds.size(), seconds.size(), seconds) != 0)
    return false;
  num.resize(num.size() - seconds.size());
  size_t dot = num.find('.');
  if (dot == std::string::npos || dot == 0 || num.size() - dot != 4 ||
      num.find_first_not_of("0123456789.") != std::string::npos || num.find('.', dot + 1) != std::string::npos)
    return false;  // digits, a dot, three decimals
  if (took != nullptr) *took = std::stod(num);
  return true;
}

void noop(void *) {}
void mark(void *ud) { static_cast<std::atomic<int> *>(ud)->fetch_add(1); }
void resolve(void *ud) { uvrun_future_set_result(static_cast<uvrun_future_t *>(ud), nullptr, nullptr); }

}  // namespace

// ---- R22: slow callbacks -----------------------------------------------------

TEST_CASE("R22 a slow task step is logged as 'Executing <Task ...> took N.NNN seconds'") {
  t::LogCapture log;
  run_debug(UVRUN_DEBUG_ON, [&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      uvrun_loop_set_slow_callback_duration(loop, 0.05);
      uvrun_task_t *slow = t::spawn(
          loop,
          [](uvrun_task_t *, int) {
            t::busy_wait(0.07);
            return 0;
          },
          "slowpoke", nullptr);
      REQUIRE(slow != nullptr);
      return uvrun_task_await(task, uvrun_task_future(slow));  // our reference moves
    }
    return uvrun_task_resume(task, nullptr);
  });
  std::vector<std::string> hits;
  for (auto &line : log.at(UVRUN_LOG_WARNING)) {
    double took = 0;
    if (slow_line(line, "Executing <Task pending name='slowpoke' ", &took)) {
      hits.push_back(line);
      CHECK(took >= 0.07);
      CHECK(took < 5.0);
    }
  }
  INFO(log.all());
  CHECK(hits.size() == 1);
}

TEST_CASE("R22 a slow plain callback is logged with its handle") {
  t::LogCapture log;
  int marker = 0;  // the callback's ud names it in the line
  run_debug(UVRUN_DEBUG_ON, [&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      uvrun_loop_set_slow_callback_duration(loop, 0.03);
      REQUIRE(uvrun_loop_call_soon(
                  loop, [](void *) { t::busy_wait(0.04); }, &marker, nullptr) == 0);
      return uvrun_task_yield(task);
    }
    return 0;
  });
  char ud[32];
  snprintf(ud, sizeof ud, "ud=%p>", static_cast<void *>(&marker));
  size_t n = 0;
  for (auto &line : log.at(UVRUN_LOG_WARNING))
    n += slow_line(line, "Executing <Handle ", nullptr) && line.find(ud) != std::string::npos;
  INFO(log.all());
  CHECK(n == 1);
}

TEST_CASE("R22 the threshold is inclusive (>=): duration 0 logs even an instant callback") {
  t::LogCapture log;
  run_debug(UVRUN_DEBUG_ON, [&](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      uvrun_loop_set_slow_callback_duration(uvrun_task_loop(task), 0.0);
      REQUIRE(uvrun_loop_call_soon(uvrun_task_loop(task), noop, nullptr, nullptr) == 0);
      return uvrun_task_yield(task);
    }
    return 0;
  });
  CHECK(log.count("Executing <Handle") >= 1);
  CHECK(log.count("Executing <Task") >= 2);  // both steps of the main task
}

TEST_CASE("R22 the default threshold is 0.1 s: a 20 ms step is not logged") {
  t::LogCapture log;
  run_debug(UVRUN_DEBUG_ON, [&](uvrun_task_t *, int) {
    t::busy_wait(0.02);
    return 0;
  });
  CHECK(log.count("Executing") == 0);
}

TEST_CASE("R22 no slow-callback warning when debug mode is off") {
  t::LogCapture log;
  run_debug(UVRUN_DEBUG_OFF, [&](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      uvrun_loop_set_slow_callback_duration(uvrun_task_loop(task), 0.0);
      return uvrun_task_yield(task);
    }
    t::busy_wait(0.02);
    return 0;
  });
  CHECK(log.count("Executing") == 0);
}

// ---- R23: thread checks ----------------------------------------------------------

namespace {
struct Attempt {
  int rc = 1;
  std::string msg;
};
const char *const kWrongThread = "Non-thread-safe operation invoked on an event loop other than the current one";
}  // namespace

TEST_CASE("R23 debug mode: call_soon/call_at/call_later from another thread fail while the loop runs") {
  t::LogCapture quiet;
  Attempt soon, at, later, threadsafe;
  std::atomic<int> ran{0};
  uvrun_future_t *done = nullptr;
  run_debug(UVRUN_DEBUG_ON, [&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      REQUIRE(uvrun_future_new(loop, &done) == 0);
      std::thread th([&] {
        soon.rc = uvrun_loop_call_soon(loop, mark, &ran, nullptr);
        soon.msg = uvrun_errmsg();
        at.rc = uvrun_loop_call_at(loop, uvrun_loop_time(loop), mark, &ran, nullptr);
        at.msg = uvrun_errmsg();
        later.rc = uvrun_loop_call_later(loop, 0.0, mark, &ran, nullptr);
        later.msg = uvrun_errmsg();
        // R23: call_soon_threadsafe is never checked.
        threadsafe.rc = uvrun_loop_call_soon_threadsafe(loop, resolve, done);
      });
      th.join();
      return uvrun_task_await(task, uvrun_future_ref(done));
    }
    uvrun_future_unref(done);
    return uvrun_task_resume(task, nullptr);
  });
  CHECK(soon.rc == UVRUN_E_WRONG_THREAD);
  CHECK(soon.msg == kWrongThread);
  CHECK(at.rc == UVRUN_E_WRONG_THREAD);
  CHECK(at.msg == kWrongThread);
  CHECK(later.rc == UVRUN_E_WRONG_THREAD);
  CHECK(later.msg == kWrongThread);
  CHECK(threadsafe.rc == 0);  // and its callback resolved `done`, or the run would hang
  CHECK(ran == 0);            // nothing rejected was queued
}

TEST_CASE("R23 without debug mode call_soon from another thread is not checked") {
  std::atomic<int> ran{0};
  int other_rc = 1;
  run_debug(UVRUN_DEBUG_OFF, [&](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      uvrun_loop_t *loop = uvrun_task_loop(task);
      // The loop thread waits in join(): the queue is never touched concurrently.
      std::thread th([&] { other_rc = uvrun_loop_call_soon(loop, mark, &ran, nullptr); });
      th.join();
      return uvrun_task_yield(task);
    }
    return 0;
  });
  CHECK(other_rc == 0);
  CHECK(ran == 1);
}

TEST_CASE("R23 debug mode does not check calls while the loop is not running") {
  t::LogCapture quiet;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 1);
  std::atomic<int> ran{0};
  int soon_rc = 1, at_rc = 1;
  std::thread th([&] {
    soon_rc = uvrun_loop_call_soon(loop, mark, &ran, nullptr);
    at_rc = uvrun_loop_call_later(loop, 10.0, mark, &ran, nullptr);
  });
  th.join();
  CHECK(soon_rc == 0);
  CHECK(at_rc == 0);
  CHECK(uvrun_loop_free(loop) == 0);  // R61: discarded, not run
  CHECK(ran == 0);
}
