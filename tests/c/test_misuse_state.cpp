// Misuse of the C API, wrong states and wrong threads: closed runners and
// loops, calls from inside a running loop, a runner used from another
// thread (R3, R9, R10, R34, R61, D5, D6).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <string>
#include <thread>

#include "misuse_support.h"

TEST_SUITE_BEGIN("misuse");

using namespace misuse;

// ---- states -------------------------------------------------------------------------------------

TEST_CASE("R3 a closed runner refuses run, run_future and get_loop with CLOSED 'Runner is closed'") {
  uvrun_runner_t *r = rt::new_runner();
  int ran = 0;
  REQUIRE(uvrun_runner_run(r, step_count, &ran, nullptr, nullptr) == 0);
  uvrun_loop_t *loop = rt::loop_of(r);
  int freed = 0;
  uvrun_future_t *fut = counted_future(loop, &freed);
  REQUIRE(uvrun_runner_close(r) == 0);
  CHECK(uvrun_runner_close(r) == 0);  // R6: idempotent

  CHECK_FAILS(UVRUN_E_CLOSED, uvrun_runner_run(r, step_count, &ran, nullptr, nullptr));
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(ran == 1);
  CHECK_FAILS(UVRUN_E_CLOSED, uvrun_runner_run_future(r, fut, nullptr));
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(freed == 1);
  loop = reinterpret_cast<uvrun_loop_t *>(&loop);
  CHECK_FAILS(UVRUN_E_CLOSED, uvrun_runner_get_loop(r, &loop));
  CHECK(loop == nullptr);
  uvrun_runner_free(r);
}

TEST_CASE(
    "R9 uvrun_run inside a running loop fails with LOOP_RUNNING; the outer run reports it as the main task's error") {
  int inner_ran = 0, inner_rc = 1;
  std::string inner_msg;
  int rc = t::run([&](uvrun_task_t *, int) {
    inner_rc = uvrun_run(step_count, &inner_ran, nullptr, nullptr);
    inner_msg = uvrun_errmsg();
    return inner_rc;  // propagate it
  });
  CHECK(inner_rc == UVRUN_E_LOOP_RUNNING);
  CHECK(inner_msg == "uvrun_run() cannot be called from a running event loop");
  CHECK(inner_ran == 0);
  CHECK(rc == UVRUN_E_TASK_FAILED);
  t::TakenError err = t::take_error();
  CHECK(err.code == UVRUN_E_LOOP_RUNNING);
  CHECK(err.message == "uvrun_run() cannot be called from a running event loop");
}

TEST_CASE("R10 uvrun_runner_run inside a running loop fails with LOOP_RUNNING, for its own runner or another") {
  uvrun_runner_t *r = rt::new_runner(), *other = rt::new_runner();
  int inner_ran = 0, own_rc = 1, other_rc = 1, future_rc = 1;
  std::string own_msg, other_msg;
  int freed = 0;
  t::Lambda main{[&](uvrun_task_t *task, int) {
    own_rc = uvrun_runner_run(r, step_count, &inner_ran, nullptr, nullptr);
    own_msg = uvrun_errmsg();
    other_rc = uvrun_runner_run(other, step_count, &inner_ran, nullptr, nullptr);
    other_msg = uvrun_errmsg();
    future_rc = uvrun_runner_run_future(r, counted_future(uvrun_task_loop(task), &freed), nullptr);
    return own_rc;
  }};
  int rc = uvrun_runner_run(r, t::Lambda::run, &main, nullptr, nullptr);
  const char *expected = "uvrun_runner_run() cannot be called from a running event loop";
  CHECK(own_rc == UVRUN_E_LOOP_RUNNING);
  CHECK(own_msg == expected);
  CHECK(other_rc == UVRUN_E_LOOP_RUNNING);
  CHECK(other_msg == expected);
  CHECK(future_rc == UVRUN_E_LOOP_RUNNING);
  CHECK(freed == 1);  // the rejected future was released
  CHECK(inner_ran == 0);
  CHECK(rc == UVRUN_E_TASK_FAILED);
  t::TakenError err = t::take_error();
  CHECK(err.code == UVRUN_E_LOOP_RUNNING);
  CHECK(err.message == expected);
  // Both runners still work afterwards.
  CHECK(uvrun_runner_run(r, step_count, &inner_ran, nullptr, nullptr) == 0);
  CHECK(uvrun_runner_run(other, step_count, &inner_ran, nullptr, nullptr) == 0);
  CHECK(inner_ran == 2);
  uvrun_runner_free(other);
  uvrun_runner_free(r);
}

TEST_CASE("D5 uvrun_runner_close inside the running loop fails up front, with no side effects") {
  uvrun_runner_t *r = rt::new_runner();
  int close_rc = 1;
  std::string close_msg;
  int bystander_cancelled = -1;
  bool bystander_done = false;
  uvrun_task_t *bystander = nullptr;
  t::Lambda main{[&](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      bystander = t::spawn(
          uvrun_task_loop(task),
          [&](uvrun_task_t *t, int s) -> int {
            if (s == 0) return uvrun_task_await(t, uvrun_sleep(t, 0.02));
            bystander_done = true;
            return uvrun_task_resume(t, nullptr);
          },
          "bystander");
      REQUIRE(bystander != nullptr);
      close_rc = uvrun_runner_close(r);
      close_msg = uvrun_errmsg();
      bystander_cancelled = uvrun_task_cancelling(bystander);
      CHECK(uvrun_get_running_loop() == uvrun_task_loop(task));
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(bystander)));
    }
    return uvrun_task_resume(task, nullptr);
  }};
  int rc = uvrun_runner_run(r, t::Lambda::run, &main, nullptr, nullptr);
  CHECK(close_rc == UVRUN_E_LOOP_RUNNING);
  CHECK(close_msg == "uvrun_runner_close() cannot be called from a running event loop");
  CHECK(bystander_cancelled == 0);  // nothing was cancelled
  CHECK(rc == 0);                   // the main task went on
  CHECK(bystander_done);
  CHECK_FALSE(uvrun_future_cancelled(uvrun_task_future(bystander)));
  uvrun_task_unref(bystander);
  int ran = 0;
  CHECK(uvrun_runner_run(r, step_count, &ran, nullptr, nullptr) == 0);  // still INITIALIZED
  CHECK(ran == 1);
  rt::close_and_free(r);
}

TEST_CASE("D5 uvrun_runner_free inside the running loop logs an error and frees nothing") {
  t::LogCapture log;
  uvrun_runner_t *r = rt::new_runner();
  t::Lambda main{[&](uvrun_task_t *, int) {
    uvrun_runner_free(r);
    return 0;
  }};
  CHECK(uvrun_runner_run(r, t::Lambda::run, &main, nullptr, nullptr) == 0);
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].first == UVRUN_LOG_ERROR);
  CHECK(log.lines[0].second.find("uvrun_runner_free") != std::string::npos);
  CHECK(log.lines[0].second.find("cannot be called from a running event loop") != std::string::npos);
  int ran = 0;
  CHECK(uvrun_runner_run(r, step_count, &ran, nullptr, nullptr) == 0);  // alive and well
  CHECK(ran == 1);
  uvrun_runner_free(r);
  CHECK(log.lines.size() == 1);
}

TEST_CASE("R61 closing or freeing the running loop fails with LOOP_RUNNING 'Cannot close a running event loop'") {
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    CHECK_FAILS(UVRUN_E_LOOP_RUNNING, uvrun_loop_close(loop));
    CHECK(std::string(uvrun_errmsg()) == "Cannot close a running event loop");
    CHECK_FAILS(UVRUN_E_LOOP_RUNNING, uvrun_loop_free(loop));
    CHECK(std::string(uvrun_errmsg()) == "Cannot close a running event loop");
    CHECK_FALSE(uvrun_loop_is_closed(loop));
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("R34 run_until_complete inside a running loop: 'This event loop is already running' / another loop") {
  uvrun_loop_t *other = t::new_loop();
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_future_t *mine = nullptr, *theirs = nullptr;
    REQUIRE(uvrun_future_new(loop, &mine) == 0);
    REQUIRE(uvrun_future_new(other, &theirs) == 0);
    CHECK_FAILS(UVRUN_E_LOOP_ALREADY_RUNNING, uvrun_loop_run_until_complete(loop, mine, nullptr));
    CHECK(std::string(uvrun_errmsg()) == "This event loop is already running");
    CHECK_FAILS(UVRUN_E_OTHER_LOOP_RUNNING, uvrun_loop_run_until_complete(other, theirs, nullptr));
    CHECK(std::string(uvrun_errmsg()) == "Cannot run the event loop while another loop is running");
    uvrun_future_unref(mine);
    uvrun_future_unref(theirs);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(uvrun_loop_free(other) == 0);
}

TEST_CASE("R61 a closed loop refuses new work with LOOP_CLOSED 'Event loop is closed'") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *fut = t::new_future(loop);
  REQUIRE(uvrun_loop_close(loop) == 0);
  int freed = 0;
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.arg_free = count_free;
  CHECK_FAILS(UVRUN_E_LOOP_CLOSED, uvrun_task_new(loop, step_ok, &freed, &opts, nullptr));
  CHECK(freed == 1);
  CHECK_FAILS(UVRUN_E_LOOP_CLOSED, uvrun_loop_call_soon(loop, noop, nullptr, nullptr));
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  CHECK_FAILS(UVRUN_E_LOOP_CLOSED, uvrun_loop_call_later(loop, 1.0, noop, nullptr, nullptr));
  CHECK_FAILS(UVRUN_E_LOOP_CLOSED, uvrun_loop_call_soon_threadsafe(loop, noop, nullptr));
  CHECK_FAILS(UVRUN_E_LOOP_CLOSED, uvrun_loop_run_until_complete(loop, fut, nullptr));
  uvrun_future_t *job = uvrun_run_in_executor(loop, job_ok, nullptr);
  CHECK(job == nullptr);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

// ---- threads (D6) ---------------------------------------------------------------------------------

TEST_CASE("D6 a runner used from another thread than the one that initialized it fails with WRONG_THREAD") {
  t::LogCapture log;
  uvrun_runner_t *r = rt::new_runner();
  uvrun_loop_t *loop = rt::loop_of(r);
  int ran = 0, freed = 0;
  uvrun_future_t *fut = counted_future(loop, &freed);
  int run_rc = 1, future_rc = 1, loop_rc = 1, close_rc = 1;
  std::string run_msg;
  std::thread th([&] {
    run_rc = uvrun_runner_run(r, step_count, &ran, nullptr, nullptr);
    run_msg = uvrun_errmsg();
    future_rc = uvrun_runner_run_future(r, fut, nullptr);
    uvrun_loop_t *l = nullptr;
    loop_rc = uvrun_runner_get_loop(r, &l);
    close_rc = uvrun_runner_close(r);
    uvrun_runner_free(r);  // refused: logged, not freed
  });
  th.join();
  CHECK(run_rc == UVRUN_E_WRONG_THREAD);
  CHECK(!run_msg.empty());
  CHECK(future_rc == UVRUN_E_WRONG_THREAD);
  CHECK(freed == 1);
  CHECK(loop_rc == UVRUN_E_WRONG_THREAD);
  CHECK(close_rc == UVRUN_E_WRONG_THREAD);
  CHECK(ran == 0);
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].first == UVRUN_LOG_ERROR);
  CHECK(log.lines[0].second.find("uvrun_runner_free") != std::string::npos);
  // The owning thread still has a working runner.
  CHECK(uvrun_runner_run(r, step_count, &ran, nullptr, nullptr) == 0);
  CHECK(ran == 1);
  uvrun_runner_free(r);
}

TEST_CASE("D6 a runner binds to the thread that initializes it, not the one that created it") {
  uvrun_runner_t *r = rt::new_runner();  // CREATED: not bound yet
  int ran = 0, first_rc = 1, close_rc = 1;
  std::atomic<bool> go{false}, stop{false};
  std::thread th([&] {
    first_rc = uvrun_runner_run(r, step_count, &ran, nullptr, nullptr);
    go = true;
    while (!stop) std::this_thread::yield();
    close_rc = uvrun_runner_close(r);
    uvrun_runner_free(r);
  });
  while (!go) std::this_thread::yield();
  CHECK_FAILS(UVRUN_E_WRONG_THREAD, uvrun_runner_run(r, step_count, &ran, nullptr, nullptr));
  stop = true;
  th.join();
  CHECK(first_rc == 0);
  CHECK(close_rc == 0);
  CHECK(ran == 1);
}
