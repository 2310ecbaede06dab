// The runner, part 3: shutdown (R47-R63), threads and fork (R67-R69) of
// docs/semantics.md, and X2 (a deadline for cancelling leftover tasks).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runner_support.h"

TEST_SUITE_BEGIN("runner");

using namespace rt;

// ---- H. shutdown ----------------------------------------------------------------------------

namespace {
struct OrderState {
  Order order;
  std::atomic<bool> gen_closed{false};
};
int order_job(void *ud, void **) {
  auto *s = static_cast<OrderState *>(ud);
  auto t0 = std::chrono::steady_clock::now();
  while (!s->gen_closed.load() && since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s->order.add("executor job done");
  return 0;
}
}  // namespace

TEST_CASE("R47 close order: leftover tasks, then async generators, then the executor, then the loop") {
  OrderState st;
  Gen gen;
  Factory fx;
  uvrun_task_t *lo = nullptr;
  gen.on_close = [&] {
    st.order.add(lo != nullptr && uvrun_future_done(uvrun_task_future(lo)) ? "asyncgen (task done)" : "asyncgen");
    st.gen_closed = true;
  };
  t::Options opts;
  opts.executor_shutdown_timeout = 10;
  fx.install(&opts);
  t::LogCapture log;
  uvrun_runner_t *r = new_runner(&opts);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          uvrun_loop_t *loop = uvrun_task_loop(task);
          REQUIRE(gen.reg(loop) == 0);
          lo = leftover(loop, "lo", [&](uvrun_task_t *t2, int rc) {
            st.order.add("task cleanup");
            // The executor is still up: the job is queued, and shutdown waits for it.
            uvrun_future_unref(uvrun_run_in_executor(uvrun_task_loop(t2), order_job, &st));
            return rc;
          });
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  st.order.add("closed");
  CHECK(fx.loop_closed());
  CHECK(st.order.v == std::vector<std::string>{"task cleanup", "asyncgen (task done)", "executor job done", "closed"});
  CHECK_FALSE(log.contains("did not finishing"));
  uvrun_task_unref(lo);
  uvrun_runner_free(r);
}

TEST_CASE("R47 with nothing to shut down, the async generator and executor steps still iterate the loop") {
  // Each callback queues the next: the main task's runs in run(), the
  // second in step 2's iteration, the third in step 3's.
  struct Chain {
    uvrun_loop_t *loop;
    int ran = 0;
  } chain;
  static const uvrun_callback_fn next = [](void *ud) {
    auto *c = static_cast<Chain *>(ud);
    if (++c->ran < 3) uvrun_loop_call_soon(c->loop, next, c, nullptr);
  };
  uvrun_runner_t *r = new_runner();
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          chain.loop = uvrun_task_loop(task);
          uvrun_loop_call_soon(chain.loop, next, &chain, nullptr);
          return finish(task);
        }) == 0);
  CHECK(chain.ran == 1);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(chain.ran == 3);
  uvrun_runner_free(r);
}

TEST_CASE("R48 a task created during the cancel step is not cancelled and is dropped at loop close") {
  t::Reports reports;
  t::Options opts(reports);
  bool late_started = false, late_cancelled = false;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_task_unref(leftover(uvrun_task_loop(task), "lo", [&](uvrun_task_t *t2, int rc) {
                uvrun_task_unref(t::spawn(
                    uvrun_task_loop(t2),
                    [&](uvrun_task_t *late, int step) {
                      if (step == 0) {
                        late_started = true;
                        return uvrun_task_await(late, uvrun_sleep(late, 30));
                      }
                      late_cancelled = uvrun_task_resume(late, nullptr) == UVRUN_E_CANCELLED;
                      return uvrun_task_resume(late, nullptr);
                    },
                    "late"));
                return rc;
              }));
              return finish(task);
            },
            &opts) == 0);
  CHECK(late_started);
  CHECK_FALSE(late_cancelled);
  reports.check_one("Task was destroyed but it is pending!", "late");
}

TEST_CASE("R49 R50 every leftover task is waited for; only those that failed are reported") {
  t::Reports reports;
  t::Options opts(reports);
  uvrun_task_t *slow = nullptr, *fails = nullptr, *swallows = nullptr, *plain = nullptr;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_loop_t *loop = uvrun_task_loop(task);
              fails = leftover(loop, "fails", [](uvrun_task_t *t2, int) {
                return uvrun_task_raise(t2, new_error(-EDOM, "division by zero"));
              });
              // Its cleanup awaits: the wait goes on past the failure above.
              slow = t::spawn(
                  loop,
                  [](uvrun_task_t *t2, int step) {
                    if (step == 0) return uvrun_task_await(t2, uvrun_sleep(t2, 30));
                    if (step == 1) return uvrun_task_await(t2, uvrun_sleep(t2, 0.05));
                    return uvrun_task_raise(t2, new_error(UVRUN_E_CANCELLED, ""));
                  },
                  "slow");
              swallows =
                  leftover(loop, "swallows", [](uvrun_task_t *t2, int) { return uvrun_task_return(t2, t::iv(1)); });
              plain = leftover(loop, "plain", [](uvrun_task_t *, int rc) { return rc; });
              return finish(task);
            },
            &opts) == 0);
  for (uvrun_task_t *tk : {slow, fails, swallows, plain}) {
    REQUIRE(tk != nullptr);
    CHECK(uvrun_future_done(uvrun_task_future(tk)));
  }
  CHECK(uvrun_future_cancelled(uvrun_task_future(slow)));
  CHECK(uvrun_future_cancelled(uvrun_task_future(plain)));
  CHECK_FALSE(uvrun_future_cancelled(uvrun_task_future(swallows)));
  REQUIRE(reports.list.size() == 1);  // no "never retrieved" either
  CHECK(reports.list[0].message == "unhandled exception during uvrun_run() shutdown");
  CHECK(reports.list[0].task_name == "fails");
  CHECK(reports.list[0].code == -EDOM);
  for (uvrun_task_t *tk : {slow, fails, swallows, plain}) uvrun_task_unref(tk);
}

TEST_CASE(
    "R49 R7 a leftover task raising UVRUN_E_INTERRUPTED in cleanup makes close() return it and skips the later steps") {
  Factory fx;
  Gen gen;
  t::Reports reports;
  t::Options opts(fx, reports);
  uvrun_runner_t *r = new_runner(&opts);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          REQUIRE(gen.reg(uvrun_task_loop(task)) == 0);
          leave_kbd_interrupt(uvrun_task_loop(task));
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == UVRUN_E_INTERRUPTED);
  CHECK(gen.closes == 0);   // shutdown_asyncgens skipped
  CHECK(fx.loop_closed());  // the finally part ran
  CHECK(reports.list.empty());
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  uvrun_runner_free(r);
}

TEST_CASE("R49 R61 a task that raised UVRUN_E_INTERRUPTED during cleanup is freed when the runner closes") {
  t::Reports reports;
  t::Options opts(reports);
  int freed = 0;
  uvrun_runner_t *r = new_runner(&opts);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          spawn_counted(uvrun_task_loop(task), "kbd", &freed, [](uvrun_task_t *lo, int step) {
            if (step == 0) return uvrun_task_await(lo, uvrun_sleep(lo, 30));
            return uvrun_task_raise(lo, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
          });
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == UVRUN_E_INTERRUPTED);
  CHECK(freed == 1);  // nothing keeps a finished task alive past the loop
  uvrun_runner_free(r);
}

TEST_CASE("R50 the default handler logs the shutdown failure with the task's name and error") {
  t::LogCapture log;
  void *result = nullptr;
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              leave_failing(uvrun_task_loop(task), "doomed", -EDOM, "division by zero");
              return uvrun_task_return(task, t::iv(123));
            },
            nullptr, &result) == 0);
  CHECK(t::vi(result) == 123);
  INFO(log.all());
  REQUIRE(log.count("unhandled exception during uvrun_run() shutdown") == 1);
  for (auto &l : log.lines) {
    if (l.second.find("unhandled exception during uvrun_run() shutdown") == std::string::npos) continue;
    CHECK(l.first == UVRUN_LOG_ERROR);
    CHECK(l.second.rfind("unhandled exception during uvrun_run() shutdown", 0) == 0);
    CHECK(l.second.find("task: <Task finished name='doomed'") != std::string::npos);
    CHECK(l.second.find("division by zero") != std::string::npos);
  }
}

TEST_CASE("R50 Runner.close() reports with the same uvrun_run() message") {
  t::Reports reports;
  t::Options opts(reports);
  uvrun_runner_t *r = new_runner(&opts);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) {
          leave_failing(uvrun_task_loop(task), "doomed", -EDOM, "division by zero");
          return finish(task);
        }) == 0);
  CHECK(reports.list.empty());
  CHECK(uvrun_runner_close(r) == 0);  // reports never change the outcome
  reports.check_one("unhandled exception during uvrun_run() shutdown", "doomed");
  uvrun_runner_free(r);
}

namespace {
std::atomic<int> late_job_state{0};  // static: the job outlives the test
int late_job(void *, void **) {
  late_job_state = 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  late_job_state = 2;
  return 0;
}
}  // namespace

TEST_CASE("R58 executor shutdown gives up after executor_shutdown_timeout with the exact warning") {
  t::LogCapture log;
  t::Options opts;
  opts.executor_shutdown_timeout = 0.2;
  late_job_state = 0;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_future_unref(uvrun_run_in_executor(uvrun_task_loop(task), late_job, nullptr));
              return finish(task);
            },
            &opts) == 0);
  double took = since(t0);
  CHECK(took >= 0.15);
  CHECK(took < 1.3);
  CHECK(late_job_state != 2);  // left to finish on its own
  INFO(log.all());
  CHECK(log.contains("The executor did not finishing joining its threads within 0.2 seconds."));
  for (auto &l : log.lines)
    if (l.second.find("did not finishing") != std::string::npos) CHECK(l.first == UVRUN_LOG_WARNING);
}

TEST_CASE("R61 after close the loop is closed: call_soon, tasks and run_until_complete say Event loop is closed") {
  Factory fx;
  bool later_ran = false;
  t::Options opts(fx);
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_loop_call_later(
                  uvrun_task_loop(task), 30, [](void *ud) { *static_cast<bool *>(ud) = true; }, &later_ran, nullptr);
              return finish(task);
            },
            &opts) == 0);
  REQUIRE(fx.loop_closed());
  uvrun_loop_t *loop = uvrun_future_loop(fx.keep);
  CHECK_FALSE(later_ran);  // discarded, not run
  CHECK(uvrun_loop_call_soon(
            loop, [](void *) {}, nullptr, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  CHECK(uvrun_loop_call_soon_threadsafe(
            loop, [](void *) {}, nullptr) == UVRUN_E_LOOP_CLOSED);
  uvrun_task_t *task = nullptr;
  CHECK(uvrun_task_new(
            loop, [](uvrun_task_t *, void *) { return 0; }, nullptr, nullptr, &task) == UVRUN_E_LOOP_CLOSED);
  CHECK(task == nullptr);
  CHECK(uvrun_loop_run_until_complete(loop, fx.keep, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
}

TEST_CASE("R62 uvrun_run: a close error wins over a successful result") {
  t::Reports reports;
  t::Options opts(reports);
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              leave_kbd_interrupt(uvrun_task_loop(task));
              return uvrun_task_return(task, t::iv(42));
            },
            &opts) == UVRUN_E_INTERRUPTED);
}

TEST_CASE("R62 uvrun_run: an interrupt while closing wins over the main task's error, which stays its context") {
  t::Reports reports;
  t::Options opts(reports);
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              leave_kbd_interrupt(uvrun_task_loop(task));
              return uvrun_task_raise(task, new_error(-EDOM, "main failed"));
            },
            &opts) == UVRUN_E_INTERRUPTED);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == UVRUN_E_INTERRUPTED);
  CHECK(std::string(uvrun_error_message(err)) == "KeyboardInterrupt");
  const uvrun_error_t *main_err = uvrun_error_context(err);
  REQUIRE(main_err != nullptr);
  CHECK(uvrun_error_code(main_err) == -EDOM);
  CHECK(std::string(uvrun_error_message(main_err)) == "main failed");
  CHECK(uvrun_error_context(main_err) == nullptr);
  uvrun_error_unref(err);
  // The error that lost is reported too.
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "the main task's error, superseded by an interrupt while closing the loop");
  CHECK(reports.list[0].code == -EDOM);
}

TEST_CASE("R62 uvrun_run: an ordinary close error loses to the main task's error and stays its context") {
  t::Reports reports;
  t::Options opts(reports);
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              // Cancelled at shutdown, it stops the loop before its cleanup
              // is done: the close fails with "Event loop stopped ...".
              uvrun_task_unref(leftover(uvrun_task_loop(task), "stopper", [](uvrun_task_t *lo, int) {
                uvrun_loop_stop(uvrun_task_loop(lo));
                return uvrun_task_await(lo, uvrun_sleep(lo, 30));
              }));
              return uvrun_task_raise(task, new_error(-EDOM, "main failed"));
            },
            &opts) == UVRUN_E_TASK_FAILED);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == -EDOM);
  const uvrun_error_t *close_err = uvrun_error_context(err);
  REQUIRE(close_err != nullptr);
  CHECK(uvrun_error_code(close_err) == UVRUN_E_LOOP_STOPPED);
  uvrun_error_unref(err);
  // The stopper, still pending when the loop closes, is reported too.
  REQUIRE(reports.list.size() == 2);
  CHECK(reports.list[0].message == "error while closing the loop after a failed run");
  CHECK(reports.list[0].code == UVRUN_E_LOOP_STOPPED);
  CHECK(reports.list[1].message == "Task was destroyed but it is pending!");
}

TEST_CASE("R62 uvrun_run: an interrupt of the main task keeps winning over an interrupt while closing") {
  t::Reports reports;
  t::Options opts(reports);
  CHECK(t::run(
            [](uvrun_task_t *task, int step) {
              if (step == 0) {
                leave_kbd_interrupt(uvrun_task_loop(task));
                return uvrun_task_yield(task);  // the leftover starts its sleep
              }
              return uvrun_task_raise(task, new_error(UVRUN_E_INTERRUPTED, "first"));
            },
            &opts) == UVRUN_E_INTERRUPTED);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(std::string(uvrun_error_message(err)) == "first");
  REQUIRE(uvrun_error_context(err) != nullptr);
  CHECK(std::string(uvrun_error_message(uvrun_error_context(err))) == "KeyboardInterrupt");
  uvrun_error_unref(err);
}

TEST_CASE("R62 uvrun_error_context of NULL or of an error without one is NULL") {
  CHECK(uvrun_error_context(nullptr) == nullptr);
  uvrun_error_t *err = new_error(-EDOM, "alone");
  CHECK(uvrun_error_context(err) == nullptr);
  uvrun_error_unref(err);
}

TEST_CASE("R63 D5 close() from inside the running loop fails with UVRUN_E_LOOP_RUNNING and changes nothing") {
  uvrun_runner_t *r = new_runner();
  int rc_close = 0, sibling_cancels = -1;
  std::string msg;
  uvrun_loop_t *loop_before = loop_of(r);
  uvrun_task_t *sibling = nullptr;
  CHECK(runner_run(r, [&](uvrun_task_t *task, int step) {
          if (step == 0) {
            sibling = leftover(uvrun_task_loop(task), "sibling", [](uvrun_task_t *, int rc) { return rc; });
            return uvrun_task_yield(task);
          }
          rc_close = uvrun_runner_close(r);
          msg = uvrun_errmsg();
          sibling_cancels = uvrun_task_cancelling(sibling);
          return finish(task);
        }) == 0);
  CHECK(rc_close == UVRUN_E_LOOP_RUNNING);
  CHECK(msg.find("cannot be called from a running event loop") != std::string::npos);
  CHECK(sibling_cancels == 0);  // nothing was cancelled
  CHECK(uvrun_get_current_loop() == loop_before);
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == 0);  // still INITIALIZED
  CHECK(loop == loop_before);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return finish(task); }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(uvrun_future_cancelled(uvrun_task_future(sibling)));
  uvrun_task_unref(sibling);
  uvrun_runner_free(r);
}

// ---- J. threads and fork ---------------------------------------------------------------------

TEST_CASE("R67 D6 a runner initialized in one thread refuses run, get_loop and close from another") {
  uvrun_runner_t *r = new_runner();
  loop_of(r);  // initialized here
  int rc_run = 0, rc_loop = 0, rc_close = 0;
  std::string msg;
  bool ran = false;
  std::thread th([&] {
    rc_run = runner_run(r, [&](uvrun_task_t *task, int) {
      ran = true;
      return finish(task);
    });
    msg = uvrun_errmsg();
    uvrun_loop_t *l = nullptr;
    rc_loop = uvrun_runner_get_loop(r, &l);
    rc_close = uvrun_runner_close(r);
  });
  th.join();
  CHECK(rc_run == UVRUN_E_WRONG_THREAD);
  CHECK_FALSE(msg.empty());
  CHECK(rc_loop == UVRUN_E_WRONG_THREAD);
  CHECK(rc_close == UVRUN_E_WRONG_THREAD);
  CHECK_FALSE(ran);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return finish(task); }) == 0);  // still fine here
  close_and_free(r);
}

TEST_CASE("D6 a runner binds to the thread that initialized it, not the one that allocated it") {
  uvrun_runner_t *r = new_runner();
  int rc_run = 1, rc_close = 1;
  std::thread th([&] {
    rc_run = runner_run(r, [](uvrun_task_t *task, int) { return finish(task); });
    rc_close = uvrun_runner_close(r);
  });
  th.join();
  CHECK(rc_run == 0);
  CHECK(rc_close == 0);
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  uvrun_runner_free(r);
}

TEST_CASE("D6 R9 runners on two threads run at the same time; a loop running elsewhere does not block uvrun_run") {
  std::atomic<int> started{0};
  auto body = [&](int *rc_out) {
    *rc_out = t::run([&](uvrun_task_t *task, int step) {
      if (step == 0) started++;
      if (started.load() >= 2) return uvrun_task_return(task, t::iv(1));
      if (step > 2000) return uvrun_task_return(task, t::iv(0));  // about 10 s: the other never came
      return uvrun_task_await(task, uvrun_sleep(task, 0.005));
    });
  };
  int rc1 = 1, rc2 = 1;
  std::thread th(body, &rc1);
  body(&rc2);
  th.join();
  CHECK(rc1 == 0);
  CHECK(rc2 == 0);
  CHECK(started.load() == 2);
}

TEST_CASE("R68 a child forked from inside a running task can call uvrun_run") {
  t::ChildResult res;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          res = t::in_child([] {
            if (uvrun_get_running_loop() != nullptr) return 2;
            if (uvrun_get_current_loop() != nullptr) return 3;
            void *result = nullptr;
            int rc = t::run(
                [](uvrun_task_t *t2, int step) {
                  if (step == 0) return uvrun_task_await(t2, uvrun_sleep(t2, 0.001));
                  return uvrun_task_return(t2, t::iv(42));
                },
                nullptr, &result);
            if (rc != 0) return 4;
            return t::vi(result) == 42 ? 0 : 5;
          });
          return finish(task);
        }) == 0);
  INFO(res.output);
  CHECK(res.exited);
  CHECK(res.code == 0);
}

TEST_CASE("R69 uvrun_run returns only after tasks, generators, executor and loop are all done") {
  Factory fx;
  Gen gen;
  static std::atomic<bool> job_done;
  job_done = false;
  uvrun_task_t *lo = nullptr;
  t::Options opts(fx);
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_loop_t *loop = uvrun_task_loop(task);
              REQUIRE(gen.reg(loop) == 0);
              lo = leftover(loop, "lo", [](uvrun_task_t *, int rc) { return rc; });
              uvrun_future_unref(uvrun_run_in_executor(
                  loop,
                  [](void *, void **) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    job_done = true;
                    return 0;
                  },
                  nullptr));
              return finish(task);
            },
            &opts) == 0);
  REQUIRE(lo != nullptr);
  CHECK(uvrun_future_done(uvrun_task_future(lo)));
  CHECK(gen.closes == 1);
  CHECK(job_done.load());
  CHECK(fx.loop_closed());
  CHECK(uvrun_get_current_loop() == nullptr);
  CHECK(uvrun_get_running_loop() == nullptr);
  uvrun_task_unref(lo);
}

// ---- X2. cancel deadline ------------------------------------------------------------------------

TEST_CASE("X2 cancel_timeout abandons a task that swallows cancellation forever, naming it; close returns") {
  t::LogCapture log;
  t::Reports reports;
  t::Options opts(reports);
  opts.cancel_timeout = 0.2;
  int cancels_seen = 0;
  auto t0 = std::chrono::steady_clock::now();
  uvrun_runner_t *r = new_runner(&opts);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          uvrun_task_unref(t::spawn(
              uvrun_task_loop(task),
              [&](uvrun_task_t *s, int step) {
                if (step > 0 && uvrun_task_resume(s, nullptr) == UVRUN_E_CANCELLED) cancels_seen++;
                return uvrun_task_await(s, uvrun_sleep(s, 0.02));  // forever
              },
              "stubborn"));
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  double took = since(t0);
  CHECK(took >= 0.15);
  CHECK(took < 5);
  CHECK(cancels_seen == 1);
  INFO(log.all());
  bool named = false;
  for (auto &l : log.lines)
    if (l.first == UVRUN_LOG_WARNING && l.second.find("name='stubborn'") != std::string::npos &&
        l.second.find("ignored cancellation") != std::string::npos)
      named = true;
  CHECK(named);
  uvrun_runner_free(r);
}

TEST_CASE("X2 R48 an abandoned task is dropped at loop close: reported as destroyed while pending, its state freed") {
  t::LogCapture log;
  t::Reports reports;
  t::Options opts(reports);
  opts.cancel_timeout = 0.1;
  int freed = 0;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              spawn_counted(uvrun_task_loop(task), "stubborn", &freed, [](uvrun_task_t *s, int) {
                return uvrun_task_await(s, uvrun_sleep(s, 0.02));  // ignores cancellation
              });
              return finish(task);
            },
            &opts) == 0);
  CHECK(freed == 1);
  bool reported = false;
  for (auto &rep : reports.list)
    if (rep.message == "Task was destroyed but it is pending!" && rep.task_name == "stubborn") reported = true;
  CHECK(reported);
}
