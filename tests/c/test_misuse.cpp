// Misuse of the C API: NULL arguments, wrong states, wrong threads, bad
// options (R3, R4, R9, R10, R34, R58, R61, D5, D6). Every misuse returns a
// code with a message and never crashes.
#include <doctest/doctest.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "support.h"

namespace {

// Leaves a last error (INVALID_STATE, fixed text) that no check below
// expects, so each check can tell that its call recorded its own failure.
std::string sentinel() {
  static bool locked = [] {  // the allocator locks once an object exists
    uvrun_loop_t *loop = nullptr;
    uvrun_loop_new(&loop);
    uvrun_loop_free(loop);
    return true;
  }();
  (void)locked;
  uvrun_set_allocator(nullptr);
  return uvrun_errmsg();
}

void check_last(int code, const std::string &before, const char *what) {
  INFO(what);
  std::string msg = uvrun_errmsg();
  CHECK(!msg.empty());
  CHECK(msg != before);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == code);
  CHECK(std::string(uvrun_error_message(err)) == msg);
  uvrun_error_unref(err);
}

// `expr` returns `code` and records a message of its own.
#define CHECK_FAILS(code, expr)                    \
  do {                                             \
    std::string before_ = sentinel();              \
    int rc_ = (expr);                              \
    INFO(#expr);                                   \
    CHECK(rc_ == (code));                          \
    check_last((code), before_, #expr);            \
  } while (0)
#define CHECK_INVAL(expr) CHECK_FAILS(UVRUN_E_INVAL, expr)
// `expr` returns NULL and records an INVAL failure.
#define CHECK_NULL_INVAL(expr)                     \
  do {                                             \
    std::string before_ = sentinel();              \
    auto p_ = (expr);                              \
    INFO(#expr);                                   \
    CHECK(p_ == nullptr);                          \
    check_last(UVRUN_E_INVAL, before_, #expr);     \
  } while (0)

void noop(void *) {}
void done_noop(uvrun_future_t *, void *) {}
int step_ok(uvrun_task_t *, void *) { return 0; }
int step_count(uvrun_task_t *, void *arg) {
  ++*static_cast<int *>(arg);
  return 0;
}
int job_ok(void *, void **) { return 0; }
int aclose_none(void *, uvrun_loop_t *, uvrun_future_t **) { return UVRUN_E_INVAL; }
void count_free(void *p) { ++*static_cast<int *>(p); }

// An error whose payload counts its release.
uvrun_error_t *counted_error(int *freed) { return uvrun_error_new(UVRUN_E_INVAL, "payload", freed, count_free); }
// A done future whose value counts its release.
uvrun_future_t *counted_future(uvrun_loop_t *loop, int *freed) {
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  REQUIRE(uvrun_future_set_result(fut, freed, count_free) == 0);
  return fut;
}

uvrun_loop_t *new_loop() {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  return loop;
}

}  // namespace

// ---- NULL arguments ----------------------------------------------------------------------

TEST_CASE("misuse: loop functions reject NULL with INVAL; NULL queries and destructors are no-ops") {
  t::LogCapture log;
  uvrun_loop_t *loop = new_loop();
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  void *value = &value;

  CHECK_INVAL(uvrun_loop_new(nullptr));
  uvrun_loop_t *borrowed = nullptr;
  CHECK_INVAL(uvrun_loop_new_borrowed(nullptr, &borrowed));
  CHECK(borrowed == nullptr);
  CHECK_INVAL(uvrun_loop_close(nullptr));
  CHECK_INVAL(uvrun_loop_run_until_complete(nullptr, fut, &value));
  CHECK(value == nullptr);
  CHECK_INVAL(uvrun_loop_run_until_complete(loop, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_soon(nullptr, noop, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_soon(loop, nullptr, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_later(nullptr, 1.0, noop, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_later(loop, 1.0, nullptr, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_later(loop, NAN, noop, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_at(nullptr, 1.0, noop, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_at(loop, 1.0, nullptr, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_at(loop, NAN, noop, nullptr, nullptr));
  CHECK_INVAL(uvrun_loop_call_soon_threadsafe(nullptr, noop, nullptr));
  CHECK_INVAL(uvrun_loop_call_soon_threadsafe(loop, nullptr, nullptr));
  CHECK_INVAL(uvrun_all_tasks(nullptr, [](uvrun_task_t *, void *) {}, nullptr));
  CHECK_INVAL(uvrun_all_tasks(loop, nullptr, nullptr));

  CHECK(uvrun_loop_free(nullptr) == 0);
  CHECK(uvrun_loop_is_closed(nullptr) == 1);  // a NULL loop is no open loop
  CHECK(uvrun_loop_is_running(nullptr) == 0);
  CHECK(uvrun_loop_get_debug(nullptr) == 0);
  CHECK(uvrun_loop_get_uv(nullptr) == nullptr);
  CHECK(uvrun_loop_time(nullptr) > 0);
  CHECK(uvrun_current_task(nullptr) == nullptr);
  uvrun_loop_stop(nullptr);
  uvrun_loop_set_debug(nullptr, 1);
  uvrun_loop_set_slow_callback_duration(nullptr, 1.0);
  uvrun_loop_set_exception_handler(nullptr, nullptr, nullptr);
  uvrun_exception_context_t c;
  std::memset(&c, 0, sizeof c);
  c.size = sizeof c;
  c.message = "never shown";
  uvrun_loop_call_exception_handler(nullptr, &c);
  uvrun_loop_call_exception_handler(loop, nullptr);
  uvrun_loop_default_exception_handler(loop, nullptr);
  uvrun_loop_dump_tasks(nullptr, UVRUN_LOG_ERROR);
  uvrun_handle_cancel(nullptr);
  CHECK(uvrun_handle_cancelled(nullptr) == 0);
  uvrun_handle_unref(nullptr);
  CHECK(log.lines.empty());

  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("misuse: future functions reject NULL with INVAL and release what they were given") {
  uvrun_loop_t *loop = new_loop();
  uvrun_future_t *fut = reinterpret_cast<uvrun_future_t *>(&fut);
  CHECK_INVAL(uvrun_future_new(nullptr, &fut));
  CHECK(fut == nullptr);
  CHECK_INVAL(uvrun_future_new(loop, nullptr));
  REQUIRE(uvrun_future_new(loop, &fut) == 0);

  int freed = 0;
  CHECK_INVAL(uvrun_future_set_result(nullptr, nullptr, nullptr));
  CHECK_INVAL(uvrun_future_set_error(nullptr, counted_error(&freed)));
  CHECK(freed == 1);  // the reference was taken over even on failure
  CHECK_INVAL(uvrun_future_set_error(fut, nullptr));
  CHECK_INVAL(uvrun_future_set_error_code(nullptr, UVRUN_E_INVAL, "x"));
  CHECK_INVAL(uvrun_future_set_error_code(fut, 0, "not an error"));
  CHECK_INVAL(uvrun_future_set_error_code(fut, 5, "not an error"));
  CHECK_FALSE(uvrun_future_done(fut));  // none of that touched it
  void *value = &value;
  CHECK_INVAL(uvrun_future_result(nullptr, &value));
  CHECK(value == nullptr);
  CHECK_INVAL(uvrun_future_add_done_callback(nullptr, done_noop, nullptr));
  CHECK_INVAL(uvrun_future_add_done_callback(fut, nullptr, nullptr));

  CHECK(uvrun_future_ref(nullptr) == nullptr);
  uvrun_future_unref(nullptr);
  CHECK(uvrun_future_loop(nullptr) == nullptr);
  CHECK(uvrun_future_cancel(nullptr, "x") == 0);
  CHECK(uvrun_future_done(nullptr) == 0);
  CHECK(uvrun_future_cancelled(nullptr) == 0);
  CHECK(uvrun_future_error(nullptr) == nullptr);
  CHECK(uvrun_future_remove_done_callback(nullptr, done_noop, nullptr) == 0);

  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("misuse: task functions reject NULL with INVAL; a rejected step never runs and its arg is freed (D1)") {
  uvrun_loop_t *loop = new_loop();
  int freed = 0;  // the arg: a step that ran would count it too
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.arg_free = count_free;
  uvrun_task_t *task = reinterpret_cast<uvrun_task_t *>(&task);
  CHECK_INVAL(uvrun_task_new(nullptr, step_count, &freed, &opts, &task));
  CHECK(task == nullptr);
  CHECK(freed == 1);
  CHECK_INVAL(uvrun_task_new(loop, nullptr, &freed, &opts, &task));
  CHECK(freed == 2);

  CHECK(uvrun_task_ref(nullptr) == nullptr);
  uvrun_task_unref(nullptr);
  CHECK(uvrun_task_future(nullptr) == nullptr);
  CHECK(uvrun_task_loop(nullptr) == nullptr);
  CHECK(uvrun_task_resume_error(nullptr) == nullptr);
  CHECK(uvrun_task_cancel(nullptr, "x") == 0);
  CHECK(uvrun_task_cancelling(nullptr) == 0);
  CHECK(uvrun_task_uncancel(nullptr) == 0);
  CHECK(std::string(uvrun_task_name(nullptr)).empty());
  CHECK(uvrun_task_context(nullptr) == nullptr);
  uvrun_task_opts_init(nullptr);
  uvrun_options_init(nullptr);

  int value_freed = 0;
  CHECK_INVAL(uvrun_task_await(nullptr, counted_future(loop, &value_freed)));
  CHECK(value_freed == 1);  // await took the reference over
  CHECK_INVAL(uvrun_task_yield(nullptr));
  void *value = &value;
  CHECK_INVAL(uvrun_task_resume(nullptr, &value));
  CHECK(value == nullptr);
  CHECK_INVAL(uvrun_task_return(nullptr, nullptr));
  CHECK_INVAL(uvrun_task_return_owned(nullptr, nullptr, nullptr));
  int err_freed = 0;
  CHECK_INVAL(uvrun_task_raise(nullptr, counted_error(&err_freed)));
  CHECK(err_freed == 1);
  CHECK_INVAL(uvrun_task_set_name(nullptr, "x"));
  // A NULL future hands on the error of the helper that failed to make it.
  CHECK(uvrun_task_await(nullptr, uvrun_sleep(nullptr, 1.0)) == UVRUN_E_INVAL);

  // The same calls with a real task but NULL for the other argument.
  int rc = t::run([&](uvrun_task_t *self, int) {
    CHECK_INVAL(uvrun_task_raise(self, nullptr));
    CHECK_INVAL(uvrun_task_set_name(self, nullptr));
    CHECK(uvrun_task_await(self, uvrun_sleep_value(nullptr, 1.0, nullptr)) == UVRUN_E_INVAL);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("misuse: helpers given NULL return NULL with the reason, releasing what they took over") {
  uvrun_loop_t *loop = new_loop();
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  uvrun_future_t *one[] = {fut};
  uvrun_future_t *holes[] = {fut, nullptr};

  CHECK_NULL_INVAL(uvrun_sleep(nullptr, 1.0));
  CHECK_NULL_INVAL(uvrun_sleep_value(nullptr, 1.0, nullptr));
  CHECK_NULL_INVAL(uvrun_sleep_value(loop, NAN, nullptr));
  CHECK_NULL_INVAL(uvrun_gather(nullptr, one, 1, 0));
  CHECK_NULL_INVAL(uvrun_gather(loop, nullptr, 2, 0));
  CHECK_NULL_INVAL(uvrun_gather(loop, holes, 2, 1));
  CHECK_NULL_INVAL(uvrun_wait_any(nullptr, one, 1));
  CHECK_NULL_INVAL(uvrun_wait_any(loop, nullptr, 0));
  CHECK(std::string(uvrun_errmsg()) == "Set of awaitables is empty.");
  CHECK_NULL_INVAL(uvrun_wait_for(nullptr, 1.0));
  int freed = 0;
  CHECK_NULL_INVAL(uvrun_wait_for(counted_future(loop, &freed), NAN));
  CHECK(freed == 1);
  CHECK_NULL_INVAL(uvrun_run_in_executor(nullptr, job_ok, nullptr));
  CHECK_NULL_INVAL(uvrun_run_in_executor(loop, nullptr, nullptr));

  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("misuse: context functions reject NULL with INVAL") {
  uvrun_context_t *ctx = nullptr;
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_context_new(&ctx) == 0);
  REQUIRE(uvrun_contextvar_new("v", 1, nullptr, &var) == 0);
  void *value = nullptr;

  CHECK_INVAL(uvrun_context_new(nullptr));
  CHECK_INVAL(uvrun_context_copy_current(nullptr));
  CHECK_INVAL(uvrun_context_copy(nullptr, &ctx));
  CHECK_INVAL(uvrun_context_copy(ctx, nullptr));
  CHECK_INVAL(uvrun_context_run(nullptr, noop, nullptr));
  CHECK_INVAL(uvrun_context_run(ctx, nullptr, nullptr));
  CHECK_INVAL(uvrun_context_get(nullptr, var, &value));
  CHECK_INVAL(uvrun_context_get(ctx, nullptr, &value));
  CHECK_INVAL(uvrun_context_get(ctx, var, nullptr));
  CHECK_INVAL(uvrun_contextvar_new(nullptr, 0, nullptr, &var));
  CHECK_INVAL(uvrun_contextvar_new("w", 0, nullptr, nullptr));
  CHECK_INVAL(uvrun_contextvar_get(nullptr, &value));
  CHECK_INVAL(uvrun_contextvar_get(var, nullptr));
  CHECK_INVAL(uvrun_contextvar_set(nullptr, nullptr, nullptr));
  uvrun_token_t *token = nullptr;
  REQUIRE(uvrun_contextvar_set(var, &value, &token) == 0);
  CHECK_INVAL(uvrun_contextvar_reset(nullptr, token));  // frees the token anyway
  CHECK_INVAL(uvrun_contextvar_reset(var, nullptr));

  uvrun_context_free(nullptr);
  uvrun_contextvar_free(nullptr);
  uvrun_token_free(nullptr);
  uvrun_contextvar_free(var);
  uvrun_context_free(ctx);
}

TEST_CASE("misuse: runner, async finalizer and error functions reject NULL") {
  int ran = 0;
  CHECK_INVAL(uvrun_run(nullptr, nullptr, nullptr, nullptr));
  uvrun_runner_t *r = reinterpret_cast<uvrun_runner_t *>(&r);
  CHECK_INVAL(uvrun_runner_new(nullptr, nullptr));
  CHECK_INVAL(uvrun_runner_run(nullptr, step_count, &ran, nullptr, nullptr));
  CHECK_INVAL(uvrun_runner_close(nullptr));
  CHECK_INVAL(uvrun_runner_get_loop(nullptr, nullptr));
  uvrun_runner_free(nullptr);
  CHECK(ran == 0);

  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  CHECK_INVAL(uvrun_runner_get_loop(r, nullptr));
  CHECK_INVAL(uvrun_runner_run(r, nullptr, nullptr, nullptr, nullptr));
  CHECK_INVAL(uvrun_runner_run_future(r, nullptr, nullptr));
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  int freed = 0;
  CHECK_INVAL(uvrun_runner_run_future(nullptr, counted_future(loop, &freed), nullptr));
  CHECK(freed == 1);  // run_future owns its future in every case

  uvrun_asyncgen_t *gen = reinterpret_cast<uvrun_asyncgen_t *>(&gen);
  CHECK_INVAL(uvrun_asyncgen_register(nullptr, nullptr, "g", aclose_none, &gen));
  CHECK(gen == nullptr);
  CHECK_INVAL(uvrun_asyncgen_register(loop, nullptr, "g", nullptr, &gen));
  CHECK_INVAL(uvrun_asyncgen_register(loop, nullptr, "g", aclose_none, nullptr));
  uvrun_asyncgen_unregister(nullptr);
  uvrun_asyncgen_finalize(nullptr);
  CHECK(uvrun_asyncgen_object(nullptr) == nullptr);
  CHECK(std::string(uvrun_asyncgen_name(nullptr)).empty());
  uvrun_runner_free(r);

  CHECK(uvrun_error_ref(nullptr) == nullptr);
  uvrun_error_unref(nullptr);
  CHECK(uvrun_error_code(nullptr) == 0);
  CHECK(std::string(uvrun_error_message(nullptr)).empty());
  CHECK(uvrun_error_payload(nullptr) == nullptr);
  uvrun_error_t *err = uvrun_error_new(UVRUN_E_CANCELLED, nullptr, nullptr, nullptr);
  REQUIRE(err != nullptr);
  CHECK(std::string(uvrun_error_message(err)) == uvrun_strerror(UVRUN_E_CANCELLED));
  uvrun_error_unref(err);
  CHECK(uvrun_errmsg() != nullptr);

  t::LogCapture log;
  uvrun_log(UVRUN_LOG_INFO, nullptr);
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].second.empty());
}

// ---- states -------------------------------------------------------------------------------------

TEST_CASE("R3 a closed runner refuses run, run_future and get_loop with CLOSED 'Runner is closed'") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  int ran = 0;
  REQUIRE(uvrun_runner_run(r, step_count, &ran, nullptr, nullptr) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
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

TEST_CASE("R9 uvrun_run inside a running loop fails with LOOP_RUNNING; the outer run reports it as the main task's error") {
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
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == UVRUN_E_LOOP_RUNNING);
  CHECK(std::string(uvrun_error_message(err)) == "uvrun_run() cannot be called from a running event loop");
  uvrun_error_unref(err);
}

TEST_CASE("R10 uvrun_runner_run inside a running loop fails with LOOP_RUNNING, for its own runner or another") {
  uvrun_runner_t *r = nullptr, *other = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  REQUIRE(uvrun_runner_new(nullptr, &other) == 0);
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
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == UVRUN_E_LOOP_RUNNING);
  CHECK(std::string(uvrun_error_message(err)) == expected);
  uvrun_error_unref(err);
  // Both runners still work afterwards.
  CHECK(uvrun_runner_run(r, step_count, &inner_ran, nullptr, nullptr) == 0);
  CHECK(uvrun_runner_run(other, step_count, &inner_ran, nullptr, nullptr) == 0);
  CHECK(inner_ran == 2);
  uvrun_runner_free(other);
  uvrun_runner_free(r);
}

TEST_CASE("D5 uvrun_runner_close inside the running loop fails up front, with no side effects") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
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
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}

TEST_CASE("D5 uvrun_runner_free inside the running loop logs an error and frees nothing") {
  t::LogCapture log;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
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
  uvrun_loop_t *other = new_loop();
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
  uvrun_loop_t *loop = new_loop();
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
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
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
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
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);  // CREATED: not bound yet
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

// ---- executor -------------------------------------------------------------------------------------

namespace {
int job_sleep(void *, void **) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return 0;
}
}  // namespace

TEST_CASE("R58 run_in_executor after the executor shutdown started fails with 'Executor shutdown has been called'") {
  int late_rc = 1;
  std::string late_msg;
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_future_t *job = uvrun_run_in_executor(loop, job_sleep, nullptr);  // keeps the shutdown waiting
    REQUIRE(job != nullptr);
    uvrun_future_unref(job);
    // A leftover task that, once cancelled (R47 step 1), starts a task no
    // snapshot knows about; that one calls the executor during step 3.
    uvrun_task_t *leftover = t::spawn(
        loop,
        [&](uvrun_task_t *t, int step) -> int {
          if (step == 0) return uvrun_task_await(t, uvrun_sleep(t, 10.0));
          uvrun_task_t *late = t::spawn(
              uvrun_task_loop(t),
              [&](uvrun_task_t *l, int s) -> int {
                if (s == 0) return uvrun_task_await(l, uvrun_sleep(l, 0.1));
                uvrun_future_t *f = uvrun_run_in_executor(uvrun_task_loop(l), job_ok, nullptr);
                CHECK(f == nullptr);
                uvrun_error_t *err = uvrun_take_error();
                late_rc = uvrun_error_code(err);
                late_msg = uvrun_error_message(err);
                uvrun_error_unref(err);
                uvrun_future_unref(f);
                return 0;
              },
              "late");
          uvrun_task_unref(late);
          return uvrun_task_resume(t, nullptr);
        },
        "leftover");
    uvrun_task_unref(leftover);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(late_rc == UVRUN_E_EXECUTOR_SHUTDOWN);
  CHECK(late_msg == "Executor shutdown has been called");
}

// ---- options ---------------------------------------------------------------------------------------

TEST_CASE("misuse: bad options are rejected with INVAL before anything runs") {
  struct Case {
    const char *what;
    void (*edit)(uvrun_options_t *);
  };
  const Case cases[] = {
      {"size 0", [](uvrun_options_t *o) { o->size = 0; }},
      {"debug 7", [](uvrun_options_t *o) { o->debug = 7; }},
      {"debug -2", [](uvrun_options_t *o) { o->debug = -2; }},
      {"negative max workers", [](uvrun_options_t *o) { o->executor_max_workers = -1; }},
      {"NaN executor timeout", [](uvrun_options_t *o) { o->executor_shutdown_timeout = NAN; }},
      {"negative executor timeout", [](uvrun_options_t *o) { o->executor_shutdown_timeout = -1; }},
      {"NaN cancel timeout", [](uvrun_options_t *o) { o->cancel_timeout = NAN; }},
  };
  for (const Case &c : cases) {
    CAPTURE(c.what);
    uvrun_options_t opts;
    uvrun_options_init(&opts);
    c.edit(&opts);
    uvrun_runner_t *r = reinterpret_cast<uvrun_runner_t *>(&r);
    CHECK_INVAL(uvrun_runner_new(&opts, &r));
    CHECK(r == nullptr);
    int ran = 0;
    CHECK_INVAL(uvrun_run(step_count, &ran, &opts, nullptr));
    CHECK(ran == 0);
  }
}

TEST_CASE("misuse: an older, smaller options struct still works") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.size = offsetof(uvrun_options_t, loop_factory);  // size and debug only
  opts.debug = UVRUN_DEBUG_ON;
  opts.executor_max_workers = -1;  // beyond its size: ignored
  t::LogCapture quiet;
  int debug = -1;
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        debug = uvrun_loop_get_debug(uvrun_task_loop(task));
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(debug == 1);
}

// ---- tasks and futures used wrongly ------------------------------------------------------------------

namespace {
// Runs fn as the main task; expects TASK_FAILED and returns the error.
std::pair<int, std::string> main_failure(std::function<int(uvrun_task_t *, int)> fn) {
  int rc = t::run(std::move(fn));
  CHECK(rc == UVRUN_E_TASK_FAILED);
  uvrun_error_t *err = uvrun_take_error();
  if (err == nullptr) return {0, ""};
  std::pair<int, std::string> out{uvrun_error_code(err), uvrun_error_message(err)};
  uvrun_error_unref(err);
  return out;
}
}  // namespace

TEST_CASE("misuse: awaiting a future of another loop fails the task with INVAL") {
  uvrun_loop_t *other = new_loop();
  int freed = 0;
  auto failure = main_failure([&](uvrun_task_t *task, int) {
    return uvrun_task_await(task, counted_future(other, &freed));
  });
  CHECK(failure.first == UVRUN_E_INVAL);
  CHECK(failure.second == "Task got Future attached to a different loop");
  CHECK(freed == 1);  // the foreign future was released
  CHECK(uvrun_loop_free(other) == 0);
}

TEST_CASE("misuse: a task awaiting itself fails with INVAL") {
  auto failure = main_failure([&](uvrun_task_t *task, int) {
    return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(task)));
  });
  CHECK(failure.first == UVRUN_E_INVAL);
  CHECK(failure.second.rfind("Task cannot await on itself", 0) == 0);
}

TEST_CASE("misuse: a step returning UVRUN_SUSPEND without awaiting fails the task with INVALID_STATE") {
  auto failure = main_failure([&](uvrun_task_t *, int) { return UVRUN_SUSPEND; });
  CHECK(failure.first == UVRUN_E_INVALID_STATE);
  CHECK(failure.second.find("UVRUN_SUSPEND") != std::string::npos);
}

TEST_CASE("misuse: awaiting twice in one step fails with INVALID_STATE and releases both futures") {
  int freed_first = 0, freed_second = 0;
  auto failure = main_failure([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    CHECK(uvrun_task_await(task, counted_future(loop, &freed_first)) == UVRUN_SUSPEND);
    return uvrun_task_await(task, counted_future(loop, &freed_second));
  });
  CHECK(failure.first == UVRUN_E_INVALID_STATE);
  CHECK(freed_first == 1);
  CHECK(freed_second == 1);
}

TEST_CASE("misuse: completing a done future fails with INVALID_STATE and keeps the first outcome") {
  uvrun_loop_t *loop = new_loop();
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  int first = 1, second = 2, err_freed = 0;
  REQUIRE(uvrun_future_set_result(fut, &first, nullptr) == 0);
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_result(fut, &second, nullptr));
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_error_code(fut, UVRUN_E_INVAL, "late"));
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_error(fut, counted_error(&err_freed)));
  CHECK(err_freed == 1);
  CHECK(uvrun_future_cancel(fut, "late") == 0);
  void *value = nullptr;
  CHECK(uvrun_future_result(fut, &value) == 0);
  CHECK(value == &first);
  uvrun_future_unref(fut);

  // A pending future has no result yet.
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_result(fut, &value));
  uvrun_future_unref(fut);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("misuse: a task's outcome cannot be set from outside") {
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_future_t *self = uvrun_task_future(task);
    CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_result(self, nullptr, nullptr));
    CHECK(std::string(uvrun_errmsg()) == "Task does not support set_result() operation");
    CHECK_FAILS(UVRUN_E_INVALID_STATE, uvrun_future_set_error_code(self, UVRUN_E_INVAL, "x"));
    CHECK_FALSE(uvrun_future_done(self));
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("misuse: uvrun_set_allocator once objects exist fails with INVALID_STATE") {
  uvrun_loop_t *loop = new_loop();
  uvrun_allocator_t a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.malloc_fn = [](size_t n, void *) { return std::malloc(n); };
  a.realloc_fn = [](void *p, size_t n, void *) { return std::realloc(p, n); };
  a.free_fn = [](void *p, void *) { std::free(p); };
  uvrun_loop_close(nullptr);  // some other last error first
  CHECK(uvrun_set_allocator(&a) == UVRUN_E_INVALID_STATE);
  CHECK(std::string(uvrun_errmsg()) == "uvrun_set_allocator() must be called before any other uvrun call");
  CHECK(uvrun_set_allocator(nullptr) == UVRUN_E_INVALID_STATE);  // restoring too
  CHECK(uvrun_loop_free(loop) == 0);
}

// ---- codes and versions -------------------------------------------------------------------------------

TEST_CASE("misuse: uvrun_err_name and uvrun_strerror cover every code of UVRUN_ERRNO_MAP") {
  std::set<int> values;
  size_t n = 0;
#define XX(name, value, msg)                                                   \
  {                                                                            \
    CAPTURE(#name);                                                            \
    CHECK(std::string(uvrun_err_name(value)) == "UVRUN_E_" #name);             \
    CHECK(std::string(uvrun_strerror(value)) == msg);                          \
    CHECK((value) < 0);                                                        \
    values.insert(value);                                                      \
    n++;                                                                       \
  }
  UVRUN_ERRNO_MAP(XX)
#undef XX
  CHECK(values.size() == n);  // no two codes share a value
  for (int v : values) {
    CAPTURE(v);
    bool errno_like = v > -4096;
    bool own = v <= -20000 && v > UVRUN_E_MAX_ - 1;
    CHECK((errno_like || own));
  }
  for (int unknown : {-19999, -20099, -1234567, 42}) {
    CAPTURE(unknown);
    REQUIRE(uvrun_err_name(unknown) != nullptr);
    REQUIRE(uvrun_strerror(unknown) != nullptr);
    CHECK(std::string(uvrun_err_name(unknown)).rfind("UVRUN_E_", 0) == 0);
    CHECK(!std::string(uvrun_strerror(unknown)).empty());
  }
}

TEST_CASE("misuse: the version macros agree with uvrun_version() and uvrun_version_string()") {
  CHECK(uvrun_version() == (unsigned)UVRUN_VERSION_HEX);
  CHECK(UVRUN_VERSION_HEX ==
        ((UVRUN_VERSION_MAJOR << 16) | (UVRUN_VERSION_MINOR << 8) | UVRUN_VERSION_PATCH));
  std::string expected = std::to_string(UVRUN_VERSION_MAJOR) + "." + std::to_string(UVRUN_VERSION_MINOR) + "." +
                         std::to_string(UVRUN_VERSION_PATCH);
  CHECK(std::string(uvrun_version_string()) == expected);
}

// ---- loop factories -------------------------------------------------------------------------------------

namespace {
struct Factory {
  int calls = 0;
  int fail = 0;       // return this code
  bool no_loop = false;
};
int factory(void *ud, uvrun_loop_t **out) {
  auto *f = static_cast<Factory *>(ud);
  f->calls++;
  if (f->fail < 0) return f->fail;
  if (f->no_loop) return 0;
  return uvrun_loop_new(out);
}
}  // namespace

TEST_CASE("R4 a failing loop factory returns its error and leaves the runner CREATED for a retry") {
  Factory f;
  f.fail = UVRUN_E_NOMEM;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.loop_factory = factory;
  opts.loop_factory_data = &f;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  int ran = 0;
  CHECK_FAILS(UVRUN_E_NOMEM, uvrun_runner_run(r, step_count, &ran, nullptr, nullptr));
  CHECK(f.calls == 1);
  CHECK(ran == 0);
  uvrun_loop_t *loop = reinterpret_cast<uvrun_loop_t *>(&loop);
  CHECK_FAILS(UVRUN_E_NOMEM, uvrun_runner_get_loop(r, &loop));
  CHECK(loop == nullptr);
  CHECK(f.calls == 2);
  CHECK(uvrun_runner_close(r) == 0);  // R6: CREATED stays CREATED
  f.fail = 0;
  CHECK(uvrun_runner_run(r, step_count, &ran, nullptr, nullptr) == 0);
  CHECK(f.calls == 3);
  CHECK(ran == 1);
  uvrun_runner_free(r);
}

TEST_CASE("R4 a loop factory that returns no loop is refused with INVAL") {
  Factory f;
  f.no_loop = true;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.loop_factory = factory;
  opts.loop_factory_data = &f;
  int ran = 0;
  CHECK_INVAL(uvrun_run(step_count, &ran, &opts, nullptr));
  CHECK(std::string(uvrun_errmsg()) == "loop factory returned no loop");
  CHECK(ran == 0);
  CHECK(f.calls == 1);
  f.no_loop = false;
  f.fail = UVRUN_E_TIMEDOUT;
  CHECK_FAILS(UVRUN_E_TIMEDOUT, uvrun_run(step_count, &ran, &opts, nullptr));
  CHECK(ran == 0);
}
