// Where tasks come from and what they wait for: creation sites in reports
// in debug mode (R25), and uvrun_loop_dump_tasks (X8).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("debug");

namespace {

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

int fail_doomed(uvrun_task_t *task, int) { return t::fail(task, UVRUN_E_INVAL, "doomed"); }

}  // namespace

// ---- R25: creation sites ------------------------------------------------------------

TEST_CASE("R25 a task's creation site appears in reports in debug mode only") {
  for (int debug : {UVRUN_DEBUG_ON, UVRUN_DEBUG_OFF}) {
    CAPTURE(debug);
    t::LogCapture quiet;
    std::vector<SiteReport> reports;
    t::Options opts;
    opts.debug = debug;
    opts.exception_handler = site_handler;
    opts.exception_handler_data = &reports;
    std::string site;
    // Nobody will look at the child's error.
    t::run_with_child(&opts, [&](uvrun_loop_t *loop) {
      uvrun_task_opts_t o = UVRUN_TASK_OPTS_INIT;
      site = o.site;
      o.name = "doomed";
      o.arg_free = t::Lambda::destroy;
      uvrun_task_t *child = nullptr;
      REQUIRE(uvrun_task_new(loop, t::Lambda::run, new t::Lambda{fail_doomed}, &o, &child) == 0);
      return child;
    });
    CHECK(site.find("test_debug_sites.cpp:") != std::string::npos);
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
    t::Options opts;
    opts.debug = debug;
    t::run_with_child(&opts,
                      [](uvrun_loop_t *loop) { return t::spawn(loop, fail_doomed, "doomed", "made_here.c:42"); });
    auto errors = log.at(UVRUN_LOG_ERROR);
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

// ---- X8: introspection ----------------------------------------------------------------------

TEST_CASE("X8 uvrun_loop_dump_tasks lists pending tasks with name, site and what they await") {
  t::LogCapture log;
  t::Options opts;
  opts.debug = UVRUN_DEBUG_ON;
  std::vector<std::string> dump;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          uvrun_task_t *sleeper = t::spawn(
              loop,
              [](uvrun_task_t *k, int st) {
                return st == 0 ? uvrun_task_await(k, uvrun_sleep(k, 30.0)) : uvrun_task_resume(k, nullptr);
              },
              "sleeper", "sleeper.c:1");
          REQUIRE(sleeper != nullptr);
          uvrun_task_t *waiter = t::spawn(
              loop,
              [sleeper](uvrun_task_t *k, int st) {
                if (st > 0) return uvrun_task_resume(k, nullptr);
                return uvrun_task_await(k, uvrun_task_future(sleeper));  // our reference moves here
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
