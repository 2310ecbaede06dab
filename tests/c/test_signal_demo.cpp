// The demo program (examples/demo.c) with a real Ctrl-C (D3, R41).
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>

#include "signal_child.h"

TEST_SUITE_BEGIN("signals");

using namespace sig;

namespace {

// build/tests/test-c-api -> build/examples/uvrun-demo; $UVRUN_DEMO wins.
std::string demo_path() {
  if (const char *env = getenv("UVRUN_DEMO")) return env;
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string p(self, (size_t)n);
  p = p.substr(0, p.rfind('/'));  // build/tests
  p = p.substr(0, p.rfind('/'));  // build
  p += "/examples/uvrun-demo";
  return access(p.c_str(), X_OK) == 0 ? p : "";
}

// The child prints "ready" and then becomes the demo (same pid).
t::ChildResult run_demo(const std::string &path, double interrupt_after) {
  return scenario(
      [path]() -> int {
        t::child_ready();
        execl(path.c_str(), path.c_str(), (char *)nullptr);
        return 127;
      },
      [interrupt_after](int pid) {
        if (interrupt_after <= 0) return;
        std::this_thread::sleep_for(std::chrono::duration<double>(interrupt_after));
        kill(pid, SIGINT);
      });
}

}  // namespace

TEST_CASE("D3 R41 the demo finishes on its own, and a Ctrl-C makes it clean up and die by SIGINT (shell 130)") {
  std::string path = demo_path();
  if (path.empty()) {
    MESSAGE("uvrun-demo not built; set UVRUN_DEMO to its path to run this test");
    return;
  }
  check_exited_ok(run_demo(path, 0), {"summary:", "timed out"});
  auto res = run_demo(path, 0.8);
  check_printed(res, {"cleanup: ", "interrupted: cleanup ran\n"});
  INFO("demo output:\n" << res.output);
  CHECK(!res.has("summary:"));
  CHECK(res.killed_by(SIGINT));
}
