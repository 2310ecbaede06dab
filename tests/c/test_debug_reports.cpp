// Debug mode's and the loop's reports: leaked handles (R27), the close log
// (R61), the standard reports (R66), the default and custom exception
// handlers (R64, R65) and the context a handler runs in (R32).
#include <doctest/doctest.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <cstring>
#include <string>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("debug");

// ---- R27: leaks are reported whatever the debug flag -------------------------------

TEST_CASE("R27 an unclosed raw libuv handle is reported and closed at loop close, debug or not") {
  for (int debug : {0, 1}) {
    CAPTURE(debug);
    t::LogCapture log;
    uvrun_loop_t *loop = t::new_loop();
    uvrun_loop_set_debug(loop, debug);
    auto *timer = new uv_timer_t;
    REQUIRE(uv_timer_init(uvrun_loop_get_uv(loop), timer) == 0);
    REQUIRE(uv_timer_start(
                timer, [](uv_timer_t *) { FAIL("timer fired"); }, 60000, 0) == 0);
    CHECK(uvrun_loop_free(loop) == 0);
    auto warnings = log.at(UVRUN_LOG_WARNING);
    size_t n = 0;
    for (auto &w : warnings) n += w.find("unclosed handle <timer") != std::string::npos;
    INFO(log.all());
    CHECK(n == 1);
    CHECK(log.count("uv_loop_close") == 0);  // closed before uv_loop_close: no EBUSY
    delete timer;                            // its close completed inside uvrun_loop_free
  }
}

// ---- R61: the close log ---------------------------------------------------------------

TEST_CASE("R61 closing a debug loop logs 'Close <uvrun loop ...>' at DEBUG, once") {
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 1);
  CHECK(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_loop_close(loop) == 0);  // idempotent: no second line
  auto debug_lines = log.at(UVRUN_LOG_DEBUG);
  REQUIRE(debug_lines.size() == 1);
  CHECK(debug_lines[0].rfind("Close <uvrun loop ", 0) == 0);
  CHECK(debug_lines[0].find("closed=False") != std::string::npos);
  CHECK(debug_lines[0].find("debug=True") != std::string::npos);
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(log.count("Close <") == 1);
}

TEST_CASE("R61 closing a loop without debug mode logs nothing") {
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 0);
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(log.lines.empty());
}

// ---- R66: standard reports ---------------------------------------------------------------

TEST_CASE("R66 a task that fails and is never awaited: 'Task exception was never retrieved'") {
  t::Reports reports;
  t::Options opts(reports);
  // The run returns 0: a report never changes the run's outcome.
  t::run_with_child(&opts, [](uvrun_loop_t *loop) {
    return t::spawn(
        loop, [](uvrun_task_t *k, int) { return t::fail(k, UVRUN_E_INVAL, "lonely"); }, "lonely");
  });
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Task exception was never retrieved");
  CHECK(reports.list[0].code == UVRUN_E_INVAL);
  CHECK(reports.list[0].error_message == "lonely");
  CHECK(reports.list[0].task_name == "lonely");
}

TEST_CASE("R66 a failed task whose error was awaited or read is not reported") {
  t::Reports reports;
  t::Options opts(reports);
  uvrun_task_t *read_later = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        auto fails = [](uvrun_task_t *k, int) { return t::fail(k, UVRUN_E_INVAL, "seen"); };
        if (step == 0) {
          read_later = t::spawn(loop, fails, "read");
          uvrun_task_t *dropped = t::spawn(loop, fails, "dropped");
          uvrun_task_unref(dropped);
          uvrun_task_t *awaited = t::spawn(loop, fails, "awaited");
          return uvrun_task_await(task, uvrun_task_future(awaited));  // our reference moves
        }
        if (step == 1) {
          CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_INVAL);
          return uvrun_task_await(task, uvrun_sleep(task, 0.01));
        }
        CHECK(uvrun_future_error(uvrun_task_future(read_later)) != nullptr);
        uvrun_task_unref(read_later);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  // Only the task whose reference was dropped without a look is reported.
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].task_name == "dropped");
}

TEST_CASE("R66 a future with an unread error: 'Future exception was never retrieved'") {
  t::Reports reports;
  uvrun_loop_t *loop = t::new_loop();
  reports.install(loop);
  uvrun_future_t *unread = t::new_future(loop), *read = t::new_future(loop);
  REQUIRE(uvrun_future_set_error_code(unread, UVRUN_E_TIMEDOUT, "nobody looked") == 0);
  REQUIRE(uvrun_future_set_error_code(read, UVRUN_E_TIMEDOUT, "looked") == 0);
  CHECK(uvrun_future_result(read, nullptr) == UVRUN_E_TIMEDOUT);
  uvrun_future_unref(read);
  CHECK(reports.list.empty());
  uvrun_future_unref(unread);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Future exception was never retrieved");
  CHECK(reports.list[0].code == UVRUN_E_TIMEDOUT);
  CHECK(reports.list[0].error_message == "nobody looked");
  CHECK(reports.list[0].has_future);
  CHECK(reports.list[0].task_name.empty());
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(reports.list.size() == 1);
}

TEST_CASE("R66 a task still pending when its standalone loop is freed: 'Task was destroyed but it is pending!'") {
  t::Reports reports;
  uvrun_loop_t *loop = t::new_loop();
  reports.install(loop);
  uvrun_future_t *never = t::new_future(loop);
  uvrun_task_t *stuck = t::spawn(
      loop,
      [&](uvrun_task_t *k, int st) {
        return st == 0 ? uvrun_task_await(k, uvrun_future_ref(never)) : uvrun_task_resume(k, nullptr);
      },
      "stuck");
  REQUIRE(stuck != nullptr);
  uvrun_future_t *tick = uvrun_sleep_value(loop, 0.01, nullptr);
  REQUIRE(tick != nullptr);
  CHECK(uvrun_loop_run_until_complete(loop, tick, nullptr) == 0);
  uvrun_future_unref(tick);
  uvrun_future_unref(never);
  CHECK_FALSE(uvrun_future_done(uvrun_task_future(stuck)));
  uvrun_task_unref(stuck);
  CHECK(reports.list.empty());
  CHECK(uvrun_loop_free(loop) == 0);
  reports.check_one("Task was destroyed but it is pending!", "stuck");
  CHECK(reports.list[0].code == 0);
}

// ---- R64 / R65: the default handler ------------------------------------------------------

TEST_CASE("R65 the default handler prints the message, then the keys in sorted order, then the error") {
  t::LogCapture log;
  std::string text;
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_future_t *fut = t::new_future(loop);
    uvrun_asyncgen_t *gen = nullptr;
    REQUIRE(uvrun_asyncgen_register(
                loop, nullptr, "agen", [](void *, uvrun_loop_t *, uvrun_future_t **) { return 0; }, &gen) == 0);
    uvrun_exception_context_t c = t::exception_context("boom");
    c.error = uvrun_error_new(UVRUN_E_INVAL, "bad thing", nullptr, nullptr);
    c.task = task;
    c.future = fut;
    c.asyncgen = gen;
    c.source = "origin.c:7";
    size_t before = log.lines.size();
    uvrun_loop_default_exception_handler(loop, &c);
    REQUIRE(log.lines.size() == before + 1);
    CHECK(log.lines.back().first == UVRUN_LOG_ERROR);
    text = log.lines.back().second;
    uvrun_error_unref(c.error);
    uvrun_asyncgen_unregister(gen);
    uvrun_future_unref(fut);
    return 0;
  });
  CHECK(rc == 0);
  INFO(text);
  CHECK(text.rfind("boom\n", 0) == 0);
  size_t a = text.find("\nasyncgen: "), f = text.find("\nfuture: <Future pending"), s = text.find("origin.c:7"),
         tk = text.find("\ntask: <Task pending name='Task-"), e = text.find("\nUVRUN_E_INVAL: bad thing");
  REQUIRE(a != std::string::npos);
  REQUIRE(f != std::string::npos);
  REQUIRE(s != std::string::npos);
  REQUIRE(tk != std::string::npos);
  REQUIRE(e != std::string::npos);
  CHECK(text.find("agen") > a);
  CHECK(a < f);
  CHECK(f < s);  // source_traceback sorts between future and task
  CHECK(s < tk);
  CHECK(tk < e);  // the exception comes last, like a traceback
}

TEST_CASE("R65 an empty message becomes 'Unhandled exception in event loop'") {
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_exception_context_t c = t::exception_context("");
  uvrun_loop_default_exception_handler(loop, &c);
  // R64: without a custom handler, call_exception_handler uses the default one.
  uvrun_loop_call_exception_handler(loop, &c);
  CHECK(uvrun_loop_free(loop) == 0);
  REQUIRE(log.lines.size() == 2);
  for (auto &l : log.lines) {
    CHECK(l.first == UVRUN_LOG_ERROR);
    CHECK(l.second == "Unhandled exception in event loop");
  }
}

TEST_CASE("R64 a custom handler replaces the default one") {
  t::LogCapture log;
  t::Reports reports;
  uvrun_loop_t *loop = t::new_loop();
  reports.install(loop);
  uvrun_exception_context_t c = t::exception_context("custom");
  uvrun_loop_call_exception_handler(loop, &c);
  CHECK(uvrun_loop_free(loop) == 0);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "custom");
  CHECK(log.lines.empty());
}

// ---- R32: the handler runs in the task's context ----------------------------------------

namespace {
struct CtxProbe {
  uvrun_contextvar_t *var = nullptr;
  int rc = 1;
  void *value = nullptr;
  std::string message;
};
void ctx_handler(uvrun_loop_t *, const uvrun_exception_context_t *ctx, void *ud) {
  auto *p = static_cast<CtxProbe *>(ud);
  p->message = ctx->message;
  p->rc = uvrun_contextvar_get(p->var, &p->value);
}
}  // namespace

TEST_CASE("R32 a custom exception handler sees the context variables of the task it reports") {
  CtxProbe probe;
  REQUIRE(uvrun_contextvar_new("request_id", 0, nullptr, &probe.var) == 0);
  int marker = 7;
  t::Options opts;
  opts.exception_handler = ctx_handler;
  opts.exception_handler_data = &probe;
  t::run_with_child(
      &opts,
      [&](uvrun_loop_t *loop) {
        return t::spawn(
            loop,
            [&](uvrun_task_t *k, int) {
              REQUIRE(uvrun_contextvar_set(probe.var, &marker, nullptr) == 0);
              return t::fail(k, UVRUN_E_INVAL, "with context");
            },
            "ctx-child");
      },
      [&] {
        void *v = nullptr;  // the child's write stayed in the child's context
        CHECK(uvrun_contextvar_get(probe.var, &v) == UVRUN_E_NOTFOUND);
      });
  CHECK(probe.message == "Task exception was never retrieved");
  CHECK(probe.rc == 0);
  CHECK(probe.value == &marker);
  uvrun_contextvar_free(probe.var);
}
