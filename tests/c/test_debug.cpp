// Debug mode and reports (D7, R19-R29, R32, R61, R64-R66, X8).
#include <doctest/doctest.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace {

// Sets UVRUN_DEBUG (nullptr: unset) for its lifetime, then restores it.
struct DebugEnv {
  bool had;
  std::string old;
  explicit DebugEnv(const char *value) {
    const char *v = getenv("UVRUN_DEBUG");
    had = v != nullptr;
    if (had) old = v;
    if (value != nullptr) setenv("UVRUN_DEBUG", value, 1);
    else unsetenv("UVRUN_DEBUG");
  }
  ~DebugEnv() {
    if (had) setenv("UVRUN_DEBUG", old.c_str(), 1);
    else unsetenv("UVRUN_DEBUG");
  }
};

// The debug flag a fresh standalone loop gets.
int fresh_loop_debug() {
  t::LogCapture quiet;  // a debug loop logs its close
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  int debug = uvrun_loop_get_debug(loop);
  CHECK(uvrun_loop_free(loop) == 0);
  return debug;
}

// The debug flag of the loop a runner with these options builds.
int runner_loop_debug(const uvrun_options_t *opts) {
  t::LogCapture quiet;
  uvrun_runner_t *r = nullptr;
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_new(opts, &r) == 0);
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  int debug = uvrun_loop_get_debug(loop);
  uvrun_runner_free(r);
  return debug;
}

// A loop factory whose loop has debug set to *(int *)ud.
int debug_factory(void *ud, uvrun_loop_t **out) {
  int rc = uvrun_loop_new(out);
  if (rc == 0) uvrun_loop_set_debug(*out, *static_cast<int *>(ud));
  return rc;
}

// A task with a name and creation site; the task owns the lambda.
uvrun_task_t *spawn_at(uvrun_loop_t *loop, std::function<int(uvrun_task_t *, int)> fn,
                       const char *name, const char *site) {
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.name = name;
  opts.site = site;
  opts.arg_free = t::Lambda::destroy;
  uvrun_task_t *task = nullptr;
  if (uvrun_task_new(loop, t::Lambda::run, new t::Lambda{std::move(fn)}, &opts, &task) < 0)
    return nullptr;
  return task;
}

void busy_wait(double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
  }
}

void noop(void *) {}
void mark(void *ud) { static_cast<std::atomic<int> *>(ud)->fetch_add(1); }
void resolve(void *ud) { uvrun_future_set_result(static_cast<uvrun_future_t *>(ud), nullptr, nullptr); }

int fail_with(uvrun_task_t *task, int code, const char *message) {
  return uvrun_task_raise(task, uvrun_error_new(code, message, nullptr, nullptr));
}

// Records message and creation site of each report.
struct SiteReport {
  std::string message;
  bool has_source = false;
  std::string source;
};
void site_handler(uvrun_loop_t *, const uvrun_exception_context_t *ctx, void *ud) {
  SiteReport r;
  r.message = ctx->message;
  r.has_source = ctx->source != nullptr;
  if (ctx->source) r.source = ctx->source;
  static_cast<std::vector<SiteReport> *>(ud)->push_back(r);
}

std::vector<std::string> lines_at(const t::LogCapture &log, int level) {
  std::vector<std::string> out;
  for (auto &l : log.lines)
    if (l.first == level) out.push_back(l.second);
  return out;
}

}  // namespace

// ---- D7 / R19: the environment switch --------------------------------------

TEST_CASE("D7 UVRUN_DEBUG=1, true or yes turns debug mode on for a new loop") {
  for (const char *v : {"1", "true", "yes"}) {
    CAPTURE(v);
    DebugEnv env(v);
    CHECK(fresh_loop_debug() == 1);
  }
}

TEST_CASE("D7 UVRUN_DEBUG unset, empty or 0 leaves debug mode off") {
  {
    DebugEnv env(nullptr);
    CHECK(fresh_loop_debug() == 0);
  }
  for (const char *v : {"", "0"}) {
    CAPTURE(v);
    DebugEnv env(v);
    CHECK(fresh_loop_debug() == 0);
  }
}

TEST_CASE("R19 UVRUN_DEBUG is read when a loop is constructed, not later") {
  t::LogCapture quiet;
  uvrun_loop_t *before = nullptr, *after = nullptr;
  {
    DebugEnv off(nullptr);
    REQUIRE(uvrun_loop_new(&before) == 0);
  }
  {
    DebugEnv on("1");
    CHECK(uvrun_loop_get_debug(before) == 0);  // built before the switch
    REQUIRE(uvrun_loop_new(&after) == 0);
  }
  CHECK(uvrun_loop_get_debug(after) == 1);  // unsetting later changes nothing
  CHECK(uvrun_loop_free(before) == 0);
  CHECK(uvrun_loop_free(after) == 0);
}

TEST_CASE("R19 a default-path run picks the environment up: the main task sees a debug loop") {
  t::LogCapture quiet;
  DebugEnv env("yes");
  int seen = -1;
  int rc = t::run([&](uvrun_task_t *task, int) {
    seen = uvrun_loop_get_debug(uvrun_task_loop(task));
    return 0;
  });
  CHECK(rc == 0);
  CHECK(seen == 1);
}

// ---- R20: the tri-state option ---------------------------------------------

TEST_CASE("R20 debug=ON forces debug on without the environment, OFF forces it off with it") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  CHECK(opts.debug == UVRUN_DEBUG_DEFAULT);
  {
    DebugEnv env(nullptr);
    opts.debug = UVRUN_DEBUG_ON;
    CHECK(runner_loop_debug(&opts) == 1);
    opts.debug = UVRUN_DEBUG_DEFAULT;
    CHECK(runner_loop_debug(&opts) == 0);
  }
  {
    DebugEnv env("1");
    opts.debug = UVRUN_DEBUG_OFF;
    CHECK(runner_loop_debug(&opts) == 0);
    opts.debug = UVRUN_DEBUG_DEFAULT;
    CHECK(runner_loop_debug(&opts) == 1);
  }
}

TEST_CASE("R20 debug=OFF in uvrun_run wins over UVRUN_DEBUG=1") {
  DebugEnv env("1");
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_OFF;
  int seen = -1;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              seen = uvrun_loop_get_debug(uvrun_task_loop(task));
              return 0;
            },
            &opts) == 0);
  CHECK(seen == 0);
}

TEST_CASE("R20 debug=DEFAULT leaves a factory loop's own setting alone; ON/OFF override it") {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.loop_factory = debug_factory;
  int factory_debug = 1;
  opts.loop_factory_data = &factory_debug;
  {
    DebugEnv env(nullptr);  // the factory turns debug on, the environment does not
    CHECK(runner_loop_debug(&opts) == 1);
    opts.debug = UVRUN_DEBUG_OFF;
    CHECK(runner_loop_debug(&opts) == 0);
  }
  {
    DebugEnv env("1");  // the factory turns debug off, the environment would not
    factory_debug = 0;
    opts.debug = UVRUN_DEBUG_DEFAULT;
    CHECK(runner_loop_debug(&opts) == 0);
    opts.debug = UVRUN_DEBUG_ON;
    CHECK(runner_loop_debug(&opts) == 1);
  }
}

// ---- R22: slow callbacks -----------------------------------------------------

TEST_CASE("R22 a slow task step is logged as 'Executing <Task ...> took N.NNN seconds'") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          uvrun_loop_set_slow_callback_duration(loop, 0.05);
          uvrun_task_t *slow = spawn_at(loop,
                                        [](uvrun_task_t *, int) {
                                          busy_wait(0.07);
                                          return 0;
                                        },
                                        "slowpoke", nullptr);
          REQUIRE(slow != nullptr);
          return uvrun_task_await(task, uvrun_task_future(slow));  // our reference moves
        }
        return uvrun_task_resume(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  std::regex re(R"(^Executing <Task pending name='slowpoke' [^\n]*> took (\d+\.\d{3}) seconds$)");
  std::vector<std::string> hits;
  for (auto &line : lines_at(log, UVRUN_LOG_WARNING)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) {
      hits.push_back(line);
      double took = std::stod(m[1].str());
      CHECK(took >= 0.07);
      CHECK(took < 5.0);
    }
  }
  INFO(log.all());
  CHECK(hits.size() == 1);
}

TEST_CASE("R22 a slow plain callback is logged with its handle") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  int marker = 0;  // the callback's ud names it in the line
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          uvrun_loop_set_slow_callback_duration(loop, 0.03);
          REQUIRE(uvrun_loop_call_soon(loop, [](void *) { busy_wait(0.04); }, &marker, nullptr) == 0);
          return uvrun_task_yield(task);
        }
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  char ud[32];
  snprintf(ud, sizeof ud, "ud=%p>", static_cast<void *>(&marker));
  std::regex re(R"(^Executing <Handle [^\n]*> took \d+\.\d{3} seconds$)");
  size_t n = 0;
  for (auto &line : lines_at(log, UVRUN_LOG_WARNING))
    n += std::regex_match(line, re) && line.find(ud) != std::string::npos;
  INFO(log.all());
  CHECK(n == 1);
}

TEST_CASE("R22 the threshold is inclusive (>=): duration 0 logs even an instant callback") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          uvrun_loop_set_slow_callback_duration(uvrun_task_loop(task), 0.0);
          REQUIRE(uvrun_loop_call_soon(uvrun_task_loop(task), noop, nullptr, nullptr) == 0);
          return uvrun_task_yield(task);
        }
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(log.count("Executing <Handle") >= 1);
  CHECK(log.count("Executing <Task") >= 2);  // both steps of the main task
}

TEST_CASE("R22 the default threshold is 0.1 s: a 20 ms step is not logged") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  int rc = t::run(
      [&](uvrun_task_t *, int) {
        busy_wait(0.02);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(log.count("Executing") == 0);
}

TEST_CASE("R22 no slow-callback warning when debug mode is off") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_OFF;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          uvrun_loop_set_slow_callback_duration(uvrun_task_loop(task), 0.0);
          return uvrun_task_yield(task);
        }
        busy_wait(0.02);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(log.count("Executing") == 0);
}

// ---- R23: thread checks ----------------------------------------------------------

namespace {
struct Attempt {
  int rc = 1;
  std::string msg;
};
const char *const kWrongThread =
    "Non-thread-safe operation invoked on an event loop other than the current one";
}  // namespace

TEST_CASE("R23 debug mode: call_soon/call_at/call_later from another thread fail while the loop runs") {
  t::LogCapture quiet;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  Attempt soon, at, later, threadsafe;
  std::atomic<int> ran{0};
  uvrun_future_t *done = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
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
      },
      &opts);
  CHECK(rc == 0);
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
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_OFF;
  std::atomic<int> ran{0};
  int other_rc = 1;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          uvrun_loop_t *loop = uvrun_task_loop(task);
          // The loop thread waits in join(): the queue is never touched concurrently.
          std::thread th([&] { other_rc = uvrun_loop_call_soon(loop, mark, &ran, nullptr); });
          th.join();
          return uvrun_task_yield(task);
        }
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(other_rc == 0);
  CHECK(ran == 1);
}

TEST_CASE("R23 debug mode does not check calls while the loop is not running") {
  t::LogCapture quiet;
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
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

// ---- R25: creation sites ------------------------------------------------------------

TEST_CASE("R25 a task's creation site appears in reports in debug mode only") {
  for (int debug : {UVRUN_DEBUG_ON, UVRUN_DEBUG_OFF}) {
    CAPTURE(debug);
    t::LogCapture quiet;
    std::vector<SiteReport> reports;
    uvrun_options_t opts;
    uvrun_options_init(&opts);
    opts.debug = debug;
    opts.exception_handler = site_handler;
    opts.exception_handler_data = &reports;
    std::string site;
    int rc = t::run(
        [&](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            uvrun_task_opts_t o = UVRUN_TASK_OPTS_INIT;
            site = o.site;
            o.name = "doomed";
            o.arg_free = t::Lambda::destroy;
            uvrun_task_t *child = nullptr;
            auto *body = new t::Lambda{[](uvrun_task_t *t, int) { return fail_with(t, UVRUN_E_INVAL, "doomed"); }};
            REQUIRE(uvrun_task_new(uvrun_task_loop(task), t::Lambda::run, body, &o, &child) == 0);
            uvrun_task_unref(child);  // nobody will look at its error
            return uvrun_task_await(task, uvrun_sleep(task, 0.01));
          }
          return 0;
        },
        &opts);
    CHECK(rc == 0);
    CHECK(site.find("test_debug.cpp:") != std::string::npos);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].message == "Task exception was never retrieved");
    if (debug == UVRUN_DEBUG_ON) {
      CHECK(reports[0].has_source);
      CHECK(reports[0].source == site);
    } else {
      CHECK_FALSE(reports[0].has_source);
    }
  }
}

TEST_CASE("R25 the default handler shows 'created at file:line' in debug mode only") {
  for (int debug : {UVRUN_DEBUG_ON, UVRUN_DEBUG_OFF}) {
    CAPTURE(debug);
    t::LogCapture log;
    uvrun_options_t opts;
    uvrun_options_init(&opts);
    opts.debug = debug;
    const char *site = "made_here.c:42";
    int rc = t::run(
        [&](uvrun_task_t *task, int step) -> int {
          if (step == 0) {
            uvrun_task_t *child = spawn_at(uvrun_task_loop(task),
                                           [](uvrun_task_t *t, int) { return fail_with(t, UVRUN_E_INVAL, "doomed"); },
                                           "doomed", site);
            REQUIRE(child != nullptr);
            uvrun_task_unref(child);
            return uvrun_task_await(task, uvrun_sleep(task, 0.01));
          }
          return 0;
        },
        &opts);
    CHECK(rc == 0);
    auto errors = lines_at(log, UVRUN_LOG_ERROR);
    REQUIRE(errors.size() == 1);
    const std::string &text = errors[0];
    CHECK(text.rfind("Task exception was never retrieved\n", 0) == 0);
    CHECK(text.find("name='doomed'") != std::string::npos);
    if (debug == UVRUN_DEBUG_ON) {
      CHECK(text.find("created at made_here.c:42") != std::string::npos);
      CHECK(text.find("Object created at made_here.c:42") != std::string::npos);
    } else {
      CHECK(text.find("made_here.c") == std::string::npos);
    }
  }
}

// ---- R27: leaks are reported whatever the debug flag -------------------------------

TEST_CASE("R27 an unclosed raw libuv handle is reported and closed at loop close, debug or not") {
  for (int debug : {0, 1}) {
    CAPTURE(debug);
    t::LogCapture log;
    uvrun_loop_t *loop = nullptr;
    REQUIRE(uvrun_loop_new(&loop) == 0);
    uvrun_loop_set_debug(loop, debug);
    auto *timer = new uv_timer_t;
    REQUIRE(uv_timer_init(uvrun_loop_get_uv(loop), timer) == 0);
    REQUIRE(uv_timer_start(timer, [](uv_timer_t *) { FAIL("timer fired"); }, 60000, 0) == 0);
    CHECK(uvrun_loop_free(loop) == 0);
    auto warnings = lines_at(log, UVRUN_LOG_WARNING);
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
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  uvrun_loop_set_debug(loop, 1);
  CHECK(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_loop_close(loop) == 0);  // idempotent: no second line
  auto debug_lines = lines_at(log, UVRUN_LOG_DEBUG);
  REQUIRE(debug_lines.size() == 1);
  CHECK(debug_lines[0].rfind("Close <uvrun loop ", 0) == 0);
  CHECK(debug_lines[0].find("closed=False") != std::string::npos);
  CHECK(debug_lines[0].find("debug=True") != std::string::npos);
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(log.count("Close <") == 1);
}

TEST_CASE("R61 closing a loop without debug mode logs nothing") {
  t::LogCapture log;
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  uvrun_loop_set_debug(loop, 0);
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(log.lines.empty());
}

// ---- R66: standard reports ---------------------------------------------------------------

TEST_CASE("R66 a task that fails and is never awaited: 'Task exception was never retrieved'") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          uvrun_task_t *child =
              t::spawn(uvrun_task_loop(task), [](uvrun_task_t *t, int) { return fail_with(t, UVRUN_E_INVAL, "lonely"); },
                       "lonely");
          REQUIRE(child != nullptr);
          uvrun_task_unref(child);
          return uvrun_task_await(task, uvrun_sleep(task, 0.01));
        }
        return 0;
      },
      &opts);
  CHECK(rc == 0);  // never changes the run's outcome
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Task exception was never retrieved");
  CHECK(reports.list[0].code == UVRUN_E_INVAL);
  CHECK(reports.list[0].error_message == "lonely");
  CHECK(reports.list[0].task_name == "lonely");
}

TEST_CASE("R66 a failed task whose error was awaited or read is not reported") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  uvrun_task_t *read_later = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        auto fails = [](uvrun_task_t *t, int) { return fail_with(t, UVRUN_E_INVAL, "seen"); };
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
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  reports.install(loop);
  uvrun_future_t *unread = nullptr, *read = nullptr;
  REQUIRE(uvrun_future_new(loop, &unread) == 0);
  REQUIRE(uvrun_future_new(loop, &read) == 0);
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
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  reports.install(loop);
  uvrun_future_t *never = nullptr;
  REQUIRE(uvrun_future_new(loop, &never) == 0);
  uvrun_task_t *stuck = t::spawn(
      loop,
      [&](uvrun_task_t *t, int st) {
        return st == 0 ? uvrun_task_await(t, uvrun_future_ref(never)) : uvrun_task_resume(t, nullptr);
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
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Task was destroyed but it is pending!");
  CHECK(reports.list[0].task_name == "stuck");
  CHECK(reports.list[0].code == 0);
}

// ---- R64 / R65: the default handler ------------------------------------------------------

TEST_CASE("R65 the default handler prints the message, then the keys in sorted order, then the error") {
  t::LogCapture log;
  std::string text;
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_future_t *fut = nullptr;
    uvrun_asyncgen_t *gen = nullptr;
    REQUIRE(uvrun_future_new(loop, &fut) == 0);
    REQUIRE(uvrun_asyncgen_register(
                loop, nullptr, "agen", [](void *, uvrun_loop_t *, uvrun_future_t **) { return 0; }, &gen) == 0);
    uvrun_exception_context_t c;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    c.message = "boom";
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
  size_t a = text.find("\nasyncgen: "), f = text.find("\nfuture: <Future pending"),
         s = text.find("origin.c:7"), tk = text.find("\ntask: <Task pending name='Task-"),
         e = text.find("\nUVRUN_E_INVAL: bad thing");
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
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  uvrun_exception_context_t c;
  memset(&c, 0, sizeof c);
  c.size = sizeof c;
  c.message = "";
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
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  reports.install(loop);
  uvrun_exception_context_t c;
  memset(&c, 0, sizeof c);
  c.size = sizeof c;
  c.message = "custom";
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
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.exception_handler = ctx_handler;
  opts.exception_handler_data = &probe;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        if (step == 0) {
          uvrun_task_t *child = t::spawn(uvrun_task_loop(task),
                                         [&](uvrun_task_t *t, int) {
                                           REQUIRE(uvrun_contextvar_set(probe.var, &marker, nullptr) == 0);
                                           return fail_with(t, UVRUN_E_INVAL, "with context");
                                         },
                                         "ctx-child");
          REQUIRE(child != nullptr);
          uvrun_task_unref(child);
          return uvrun_task_await(task, uvrun_sleep(task, 0.01));
        }
        void *v = nullptr;  // the child's write stayed in the child's context
        CHECK(uvrun_contextvar_get(probe.var, &v) == UVRUN_E_NOTFOUND);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(probe.message == "Task exception was never retrieved");
  CHECK(probe.rc == 0);
  CHECK(probe.value == &marker);
  uvrun_contextvar_free(probe.var);
}

// ---- X8: introspection ----------------------------------------------------------------------

TEST_CASE("X8 uvrun_loop_dump_tasks lists pending tasks with name, site and what they await") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  std::vector<std::string> dump;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          uvrun_task_t *sleeper = spawn_at(
              loop,
              [](uvrun_task_t *t, int st) {
                return st == 0 ? uvrun_task_await(t, uvrun_sleep(t, 30.0)) : uvrun_task_resume(t, nullptr);
              },
              "sleeper",
              "sleeper.c:1");
          REQUIRE(sleeper != nullptr);
          uvrun_task_t *waiter = spawn_at(
              loop,
              [sleeper](uvrun_task_t *t, int st) {
                if (st > 0) return uvrun_task_resume(t, nullptr);
                return uvrun_task_await(t, uvrun_task_future(sleeper));  // our reference moves here
              },
              "waiter", "waiter.c:2");
          REQUIRE(waiter != nullptr);
          uvrun_task_unref(waiter);
          return uvrun_task_yield(task);  // both start and suspend
        }
        size_t before = log.lines.size();
        uvrun_loop_dump_tasks(loop, UVRUN_LOG_INFO);
        for (size_t i = before; i < log.lines.size(); i++) {
          CHECK(log.lines[i].first == UVRUN_LOG_INFO);
          dump.push_back(log.lines[i].second);
        }
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  std::string all;
  for (auto &l : dump) all += l + "\n";
  INFO(all);
  REQUIRE(dump.size() == 4);
  CHECK(dump[0] == "3 pending task(s)");
  auto line_with = [&](const char *name) -> std::string {
    for (auto &l : dump)
      if (l.find(name) != std::string::npos) return l;
    return "";
  };
  std::string s = line_with("name='sleeper'"), w = line_with("name='waiter'");
  CHECK(s.find("<Task pending") != std::string::npos);
  CHECK(s.find("created at sleeper.c:1") != std::string::npos);
  CHECK(s.find("wait_for=<Future pending") != std::string::npos);
  CHECK(w.find("created at waiter.c:2") != std::string::npos);
  CHECK(w.find("wait_for=<Task name='sleeper'>") != std::string::npos);
  CHECK(line_with("name='Task-").find("<Task pending") != std::string::npos);  // the main task itself
}
