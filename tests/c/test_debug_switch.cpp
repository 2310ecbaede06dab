// Debug mode, how it is switched on: the UVRUN_DEBUG environment variable
// (D7, R19) and the tri-state debug option (R20).
#include <doctest/doctest.h>
#include <uvrun.h>

#include "runner_support.h"
#include "support.h"

TEST_SUITE_BEGIN("debug");

namespace {

// The debug flag a fresh standalone loop gets.
int fresh_loop_debug() {
  t::LogCapture quiet;  // a debug loop logs its close
  uvrun_loop_t *loop = t::new_loop();
  int debug = uvrun_loop_get_debug(loop);
  CHECK(uvrun_loop_free(loop) == 0);
  return debug;
}

// A loop factory whose loop has debug set to *(int *)ud.
int debug_factory(void *ud, uvrun_loop_t **out) {
  int rc = uvrun_loop_new(out);
  if (rc == 0) uvrun_loop_set_debug(*out, *static_cast<int *>(ud));
  return rc;
}

}  // namespace

// ---- D7 / R19: the environment switch --------------------------------------

TEST_CASE("D7 UVRUN_DEBUG=1, true or yes turns debug mode on for a new loop") {
  t::Env env("UVRUN_DEBUG");
  for (const char *v : {"1", "true", "yes"}) {
    CAPTURE(v);
    env.set(v);
    CHECK(fresh_loop_debug() == 1);
  }
}

TEST_CASE("D7 UVRUN_DEBUG unset, empty or 0 leaves debug mode off") {
  t::Env env("UVRUN_DEBUG");
  env.unset();
  CHECK(fresh_loop_debug() == 0);
  for (const char *v : {"", "0"}) {
    CAPTURE(v);
    env.set(v);
    CHECK(fresh_loop_debug() == 0);
  }
}

TEST_CASE("R19 UVRUN_DEBUG is read when a loop is constructed, not later") {
  t::LogCapture quiet;
  t::Env env("UVRUN_DEBUG");
  env.unset();
  uvrun_loop_t *before = t::new_loop();
  env.set("1");
  CHECK(uvrun_loop_get_debug(before) == 0);  // built before the switch
  uvrun_loop_t *after = t::new_loop();
  env.unset();
  CHECK(uvrun_loop_get_debug(after) == 1);  // unsetting later changes nothing
  CHECK(uvrun_loop_free(before) == 0);
  CHECK(uvrun_loop_free(after) == 0);
}

TEST_CASE("R19 a default-path run picks the environment up: the main task sees a debug loop") {
  t::LogCapture quiet;
  t::Env env("UVRUN_DEBUG");
  env.set("yes");
  CHECK(t::main_loop_debug() == 1);
}

// ---- R20: the tri-state option ---------------------------------------------

TEST_CASE("R20 debug=ON forces debug on without the environment, OFF forces it off with it") {
  t::LogCapture quiet;
  t::Env env("UVRUN_DEBUG");
  t::Options opts;
  CHECK(opts.debug == UVRUN_DEBUG_DEFAULT);
  env.unset();
  opts.debug = UVRUN_DEBUG_ON;
  CHECK(rt::runner_loop_debug(&opts) == 1);
  opts.debug = UVRUN_DEBUG_DEFAULT;
  CHECK(rt::runner_loop_debug(&opts) == 0);
  env.set("1");
  opts.debug = UVRUN_DEBUG_OFF;
  CHECK(rt::runner_loop_debug(&opts) == 0);
  opts.debug = UVRUN_DEBUG_DEFAULT;
  CHECK(rt::runner_loop_debug(&opts) == 1);
}

TEST_CASE("R20 debug=OFF in uvrun_run wins over UVRUN_DEBUG=1") {
  t::Env env("UVRUN_DEBUG");
  env.set("1");
  t::Options opts;
  opts.debug = UVRUN_DEBUG_OFF;
  CHECK(t::main_loop_debug(&opts) == 0);
}

TEST_CASE("R20 debug=DEFAULT leaves a factory loop's own setting alone; ON/OFF override it") {
  t::LogCapture quiet;
  t::Env env("UVRUN_DEBUG");
  t::Options opts;
  opts.loop_factory = debug_factory;
  int factory_debug = 1;
  opts.loop_factory_data = &factory_debug;
  env.unset();  // the factory turns debug on, the environment does not
  CHECK(rt::runner_loop_debug(&opts) == 1);
  opts.debug = UVRUN_DEBUG_OFF;
  CHECK(rt::runner_loop_debug(&opts) == 0);
  env.set("1");  // the factory turns debug off, the environment would not
  factory_debug = 0;
  opts.debug = UVRUN_DEBUG_DEFAULT;
  CHECK(rt::runner_loop_debug(&opts) == 0);
  opts.debug = UVRUN_DEBUG_ON;
  CHECK(rt::runner_loop_debug(&opts) == 1);
}
