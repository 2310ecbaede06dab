// The default log sink's threshold: DEBUG and INFO lines stay off stderr
// unless asked for (R61's close line among them); a host's own sink sees
// every level.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>

#include "support.h"

TEST_SUITE_BEGIN("debug");

namespace {

struct ChildOutput {
  int status = -1;
  std::string text;  // stdout and stderr
  bool has(const std::string &needle) const { return text.find(needle) != std::string::npos; }
};

// Runs log_level_child (a fresh process: the level is read from the
// environment once per process) with UVRUN_LOG_LEVEL=env_level (nullptr:
// unset) and, if set_level >= 0, uvrun_set_log_level(set_level) first.
ChildOutput close_debug_loop_in_child(const char *env_level, int set_level) {
  std::string cmd = env_level != nullptr ? std::string("UVRUN_LOG_LEVEL='") + env_level + "' "
                                         : std::string("env -u UVRUN_LOG_LEVEL ");
  cmd += UVRUN_LOG_CHILD;
  if (set_level >= 0) cmd += " " + std::to_string(set_level);
  cmd += " 2>&1";
  ChildOutput out;
  FILE *p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  out.status = pclose(p);
  return out;
}

}  // namespace

TEST_CASE("R61 X10 the default sink hides the DEBUG close line and INFO, shows WARNING and ERROR") {
  auto res = close_debug_loop_in_child(nullptr, -1);
  CHECK(res.status == 0);
  INFO(res.text);
  CHECK_FALSE(res.has("Close <uvrun loop"));
  CHECK_FALSE(res.has("an info line"));
  CHECK(res.has("uvrun: a warning line"));
  CHECK(res.has("uvrun: an error line"));
}

TEST_CASE("X10 UVRUN_LOG_LEVEL=DEBUG shows the close line on stderr") {
  auto res = close_debug_loop_in_child("debug", -1);
  CHECK(res.status == 0);
  INFO(res.text);
  CHECK(res.has("uvrun: Close <uvrun loop running=False closed=False debug=True>"));
  CHECK(res.has("uvrun: an info line"));
}

TEST_CASE("X10 UVRUN_LOG_LEVEL takes numbers; ERROR hides warnings") {
  auto res = close_debug_loop_in_child("40", -1);
  CHECK(res.status == 0);
  INFO(res.text);
  CHECK_FALSE(res.has("a warning line"));
  CHECK(res.has("uvrun: an error line"));
}

TEST_CASE("X10 a bad UVRUN_LOG_LEVEL is reported on stderr and WARNING applies") {
  auto res = close_debug_loop_in_child("loud", -1);
  CHECK(res.status == 0);
  INFO(res.text);
  CHECK(res.has("UVRUN_LOG_LEVEL=loud is not DEBUG, INFO, WARNING, ERROR or a number"));
  CHECK_FALSE(res.has("an info line"));
  CHECK(res.has("uvrun: a warning line"));
}

TEST_CASE("X10 uvrun_set_log_level overrides the environment and returns the previous level") {
  auto res = close_debug_loop_in_child("ERROR", UVRUN_LOG_INFO);
  CHECK(res.status == 0);
  INFO(res.text);
  CHECK_FALSE(res.has("Close <uvrun loop"));  // DEBUG < INFO
  CHECK(res.has("uvrun: an info line"));
  CHECK(res.has("uvrun: a warning line"));
}

TEST_CASE("X10 uvrun_set_log_level refuses levels outside 0..100 and keeps the old one") {
  int before = uvrun_get_log_level();
  CHECK(uvrun_set_log_level(-1) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "log level must be between 0 and 100");
  CHECK(uvrun_set_log_level(101) == UVRUN_E_INVAL);
  CHECK(uvrun_get_log_level() == before);
  CHECK(uvrun_set_log_level(UVRUN_LOG_ERROR) == before);
  CHECK(uvrun_set_log_level(before) == UVRUN_LOG_ERROR);
}

TEST_CASE("X10 a host's own sink receives DEBUG lines whatever the threshold") {
  int before = uvrun_set_log_level(UVRUN_LOG_ERROR);
  {
    t::LogCapture log;  // installs a sink of its own
    uvrun_loop_t *loop = t::new_loop();
    uvrun_loop_set_debug(loop, 1);
    CHECK(uvrun_loop_free(loop) == 0);
    CHECK(log.at(UVRUN_LOG_DEBUG).size() == 1);
  }
  uvrun_set_log_level(before);
}
