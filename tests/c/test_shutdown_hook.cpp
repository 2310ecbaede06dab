// The shutdown hook (X9): a host sees each step of a runner's close begin
// and end, in R47's order, with its counts and bounds.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("runner");

namespace {

struct Trace {
  std::vector<uvrun_shutdown_event_t> events;
  static void hook(const uvrun_shutdown_event_t *ev, void *ud) { static_cast<Trace *>(ud)->events.push_back(*ev); }
  void install(uvrun_options_t *opts) {
    opts->shutdown_hook = hook;
    opts->shutdown_hook_data = this;
  }
  // "step:begin(count)" / "step:end(count,status)" for each event.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (auto &e : events) {
      std::string l = uvrun_shutdown_step_name(e.step);
      l += e.end ? ":end(" + std::to_string(e.count) + "," + std::to_string(e.status) + ")"
                 : ":begin(" + std::to_string(e.count) + ")";
      out.push_back(l);
    }
    return out;
  }
  std::string joined() const {
    std::string s;
    for (auto &l : lines()) s += l + " ";
    return s;
  }
};

// A task that, when cancelled, just ends.
uvrun_task_t *sleeper(uvrun_loop_t *loop) {
  return t::spawn(loop, [](uvrun_task_t *task, int step) {
    if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 30));
    return uvrun_task_resume(task, nullptr);
  });
}

int job_sleeps_300ms(void *ud, void **result) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  static_cast<std::atomic<bool> *>(ud)->store(true);
  *result = nullptr;
  return 0;
}

}  // namespace

TEST_CASE("X9 a clean close announces the four steps in order, each begun and ended with nothing left") {
  Trace trace;
  t::Options opts(trace);
  CHECK(t::run([](uvrun_task_t *task, int) { return uvrun_task_return(task, nullptr); }, &opts) == 0);
  INFO(trace.joined());
  CHECK(trace.lines() ==
        std::vector<std::string>{"cancel_tasks:begin(0)", "cancel_tasks:end(0,0)", "shutdown_asyncgens:begin(0)",
                                 "shutdown_asyncgens:end(0,0)", "shutdown_default_executor:begin(0)",
                                 "shutdown_default_executor:end(0,0)", "close_loop:begin(0)", "close_loop:end(0,0)"});
  REQUIRE(trace.events.size() == 8);
  for (auto &e : trace.events) CHECK(e.size == sizeof(uvrun_shutdown_event_t));
  CHECK(trace.events[0].timeout == 0);      // cancel_timeout 0: no bound
  CHECK(trace.events[4].timeout == 300.0);  // the executor's default
  for (size_t i = 1; i < 7; i++) CHECK(trace.events[i].time >= trace.events[i - 1].time);
  CHECK(trace.events[7].time == 0);  // the loop is gone
}

TEST_CASE("X9 a close with leftovers counts the tasks it cancels") {
  Trace trace;
  t::Options opts(trace);
  opts.cancel_timeout = 5;
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_task_unref(sleeper(uvrun_task_loop(task)));
              uvrun_task_unref(sleeper(uvrun_task_loop(task)));
              return uvrun_task_return(task, nullptr);
            },
            &opts) == 0);
  INFO(trace.joined());
  REQUIRE(trace.events.size() == 8);
  CHECK(trace.lines()[0] == "cancel_tasks:begin(2)");
  CHECK(trace.lines()[1] == "cancel_tasks:end(0,0)");
  CHECK(trace.events[0].timeout == 5);
}

TEST_CASE("X9 an executor timeout shows the job still running at the step's end") {
  Trace trace;
  t::LogCapture log;  // the timeout's warning stays off stderr
  t::Options opts(trace);
  opts.executor_shutdown_timeout = 0.05;
  std::atomic<bool> done{false};
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_future_unref(uvrun_run_in_executor(uvrun_task_loop(task), job_sleeps_300ms, &done));
              return uvrun_task_return(task, nullptr);
            },
            &opts) == 0);
  INFO(trace.joined());
  REQUIRE(trace.events.size() == 8);
  CHECK(trace.lines()[4] == "shutdown_default_executor:begin(1)");
  CHECK(trace.lines()[5] == "shutdown_default_executor:end(1,0)");
  CHECK(trace.events[4].timeout == 0.05);
  CHECK(trace.events[5].time - trace.events[4].time >= 0.04);
  CHECK_FALSE(done.load());
  while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

TEST_CASE("X9 a failing step ends the shutdown there; the loop still closes") {
  Trace trace;
  t::Reports reports;
  t::Options opts(trace, reports);
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_task_unref(t::spawn(uvrun_task_loop(task), [](uvrun_task_t *lo, int step) {
                if (step == 0) return uvrun_task_await(lo, uvrun_sleep(lo, 30));
                return uvrun_task_raise(lo,
                                        uvrun_error_new(UVRUN_E_INTERRUPTED, "KeyboardInterrupt", nullptr, nullptr));
              }));
              return uvrun_task_return(task, nullptr);
            },
            &opts) == UVRUN_E_INTERRUPTED);
  INFO(trace.joined());
  CHECK(trace.lines() == std::vector<std::string>{"cancel_tasks:begin(1)",
                                                  "cancel_tasks:end(0," + std::to_string(UVRUN_E_INTERRUPTED) + ")",
                                                  "close_loop:begin(0)", "close_loop:end(0,0)"});
}

TEST_CASE("X9 a runner closed by hand announces the same steps; closing again announces nothing") {
  Trace trace;
  t::Options opts(trace);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(trace.events.empty());  // never initialized: nothing to close
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(trace.events.size() == 8);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(trace.events.size() == 8);
  uvrun_runner_free(r);
}

TEST_CASE("X9 uvrun_shutdown_step_name names every step and nothing else") {
  CHECK(std::string(uvrun_shutdown_step_name(UVRUN_SHUTDOWN_CANCEL_TASKS)) == "cancel_tasks");
  CHECK(std::string(uvrun_shutdown_step_name(UVRUN_SHUTDOWN_ASYNCGENS)) == "shutdown_asyncgens");
  CHECK(std::string(uvrun_shutdown_step_name(UVRUN_SHUTDOWN_EXECUTOR)) == "shutdown_default_executor");
  CHECK(std::string(uvrun_shutdown_step_name(UVRUN_SHUTDOWN_CLOSE_LOOP)) == "close_loop");
  CHECK(std::string(uvrun_shutdown_step_name(0)) == "unknown");
  CHECK(std::string(uvrun_shutdown_step_name(5)) == "unknown");
}
