// Misuse of the C API, options: bad option values and smaller (older)
// options structs, and loop factories that fail or return no loop (R4).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <cmath>
#include <cstddef>
#include <string>

#include "misuse_support.h"

TEST_SUITE_BEGIN("misuse");

using namespace misuse;

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
    t::Options opts;
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
  t::Options opts;
  opts.size = offsetof(uvrun_options_t, loop_factory);  // size and debug only
  opts.debug = UVRUN_DEBUG_ON;
  opts.executor_max_workers = -1;  // beyond its size: ignored
  t::LogCapture quiet;
  CHECK(t::main_loop_debug(&opts) == 1);
}

// ---- loop factories -------------------------------------------------------------------------------------

namespace {
// A loop factory that fails, or returns no loop, as told.
struct BadFactory {
  int calls = 0;
  int fail = 0;  // return this code
  bool no_loop = false;
  static int fn(void *ud, uvrun_loop_t **out) {
    auto *f = static_cast<BadFactory *>(ud);
    f->calls++;
    if (f->fail < 0) return f->fail;
    if (f->no_loop) return 0;
    return uvrun_loop_new(out);
  }
  void install(uvrun_options_t *opts) {
    opts->loop_factory = fn;
    opts->loop_factory_data = this;
  }
};
}  // namespace

TEST_CASE("R4 a failing loop factory returns its error and leaves the runner CREATED for a retry") {
  BadFactory f;
  f.fail = UVRUN_E_NOMEM;
  t::Options opts(f);
  uvrun_runner_t *r = rt::new_runner(&opts);
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
  BadFactory f;
  f.no_loop = true;
  t::Options opts(f);
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
