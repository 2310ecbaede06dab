// Runs one allocation-failure point in this process, for a debugger:
//   oom-debug <scenario index> <point> [persistent: 0|1] [c|cpp]
// The list of scenarios and the rules are test_oom.cpp's.
// The test support it shares with the suites uses doctest's checks: their
// implementation is compiled in here, without doctest's main.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <uvrun.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "oom.h"
#include "scenarios.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <scenario index> <point> [persistent: 0|1] [c|cpp]\n", argv[0]);
    return 2;
  }
  bool cpp = argc > 4 && std::strcmp(argv[4], "cpp") == 0;
  const auto &list = cpp ? scn::cpp() : scn::c_api();
  std::size_t index = std::strtoul(argv[1], nullptr, 10);
  if (index >= list.size()) {
    std::fprintf(stderr, "no scenario %zu: there are %zu\n", index, list.size());
    return 2;
  }
  oom::install(std::atol(argv[2]), argc > 3 && std::strcmp(argv[3], "1") == 0, cpp);
  oom::Outcome o = list[index].second();
  oom::wait_no_live(1.0);
  std::printf("%s: rc=%d (%s) error=%s ok=%d what=%s live=%ld\n", list[index].first, o.rc, uvrun_err_name(o.rc),
              uvrun_err_name(o.error_code), o.ok ? 1 : 0, o.what.c_str(), oom::stats().live);
  return oom::acceptable(o) ? 0 : 1;
}
