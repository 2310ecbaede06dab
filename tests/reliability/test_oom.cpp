// Allocation-failure injection over the main scenarios of the C API and of
// the C++ layer (SQLite's method): fail the 1st, 2nd, ... allocation of a run
// until a run completes without reaching the failure point, once in
// "transient" mode (only allocation N fails) and once in "persistent" mode
// (N and every later one fails). Each point runs in a forked child of this
// process, which never calls uvrun itself (uvrun_set_allocator must come
// first). Every point must end in UVRUN_E_NOMEM (directly, or as the failed
// main task's error; in C++ as std::bad_alloc or uvrun::Error) or in full
// success with the right values; never a crash, a hang (child timeout), a
// wrong code or a leak (the allocator counts live blocks; ASan/LSan too).
//
// Prints "oom-figures: ..." lines that scripts/tests.d/reliability.sh
// collects into docs/reliability-figures.md.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "oom.h"
#include "scenarios.h"

namespace {

long total_points = 0, cpp_points = 0;

// A list of scenarios, and whether its runs count C++'s operator new too.
struct Suite {
  const std::vector<scn::Scenario> &scenarios;
  bool cpp;
};
const Suite suites[] = {{scn::c_api(), false}, {scn::cpp(), true}};

// Sweeps one scenario; returns the number of failure points exercised.
long sweep(const scn::Scenario &s, bool cpp, bool persistent) {
  long n = 1;
  std::string log;
  for (;; n++) {
    int code = oom::run_point(s.second, n, persistent, cpp, &log);
    if (code == 3) break;
    if (code != 0) {
      const char *why = code == 5   ? "hang (child timed out)"
                        : code == 6 ? "crash (child killed by a signal)"
                        : code == 4 ? "leak"
                                    : "unacceptable outcome";
      std::string msg = std::string(s.first) + (persistent ? " [persistent]" : " [transient]") +
                        ": failing allocation " + std::to_string(n) + ": " + why + "\n" + log;
      FAIL_CHECK(msg);
      if (n > 2000) break;
    }
    if (n >= 5000) {
      FAIL_CHECK(std::string(s.first) << ": more than 5000 allocations");
      break;
    }
  }
  long points = n - 1;
  printf("oom-figures: scenario=\"%s\" mode=%s points=%ld\n", s.first, persistent ? "persistent" : "transient", points);
  fflush(stdout);
  total_points += points;
  if (cpp) cpp_points += points;
  return points;
}

}  // namespace

TEST_CASE("OOM every scenario succeeds without injection") {
  for (auto &suite : suites) {
    for (auto &s : suite.scenarios) {
      std::string log;
      int code = oom::run_point(s.second, 0, false, suite.cpp, &log);
      CHECK_MESSAGE(code == 3, std::string(s.first) << "\n" << log);
    }
  }
}

TEST_CASE("OOM transient: every failing allocation ends in UVRUN_E_NOMEM or a degraded success") {
  for (auto &suite : suites)
    for (auto &s : suite.scenarios) CHECK(sweep(s, suite.cpp, false) > 0);
}

TEST_CASE("OOM persistent: every failing allocation and all after it end in UVRUN_E_NOMEM") {
  for (auto &suite : suites)
    for (auto &s : suite.scenarios) CHECK(sweep(s, suite.cpp, true) > 0);
  printf("oom-figures: total points=%ld (C API %ld, C++ %ld)\n", total_points, total_points - cpp_points, cpp_points);
  fflush(stdout);
}
