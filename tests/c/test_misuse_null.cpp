// Misuse of the C API, NULL arguments: every function given NULL where it
// needs an object fails with INVAL and a message, or is a documented no-op.
#include <doctest/doctest.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <cmath>
#include <cstring>
#include <string>

#include "misuse_support.h"

TEST_SUITE_BEGIN("misuse");

using namespace misuse;

// ---- NULL arguments ----------------------------------------------------------------------

TEST_CASE("misuse: loop functions reject NULL with INVAL; NULL queries and destructors are no-ops") {
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *fut = t::new_future(loop);
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
  CHECK_INVAL(uvrun_all_tasks(
      nullptr, [](uvrun_task_t *, void *) {}, nullptr));
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
  uvrun_exception_context_t c = t::exception_context("never shown");
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
  uvrun_loop_t *loop = t::new_loop();
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
  uvrun_loop_t *loop = t::new_loop();
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
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *fut = t::new_future(loop);
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
