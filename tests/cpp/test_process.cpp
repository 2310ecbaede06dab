// The C++ process layer: uvrun::process::spawn, Process's pipes as
// Streams, wait, communicate, signals, and the exceptions Python raises
// (FileNotFoundError, PermissionError, ProcessLookupError).
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <uvrun/uvrun.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

TEST_SUITE_BEGIN("cpp");

namespace {

uvrun::ProcessOptions piped() {
  uvrun::ProcessOptions o;
  o.std_in = uvrun::Stdio::pipe();
  o.std_out = uvrun::Stdio::pipe();
  o.std_err = uvrun::Stdio::pipe();
  return o;
}

}  // namespace

TEST_CASE("P1, P3: spawn, then co_await communicate(input) gives out, err and the returncode") {
  auto out = uvrun::run([]() -> uvrun::Task<uvrun::ProcessOutput> {
    uvrun::Process p = uvrun::process::spawn({"sh", "-c", "tr a-z A-Z; echo warn >&2; exit 2"}, piped());
    CHECK(p.pid() > 0);
    CHECK_FALSE(p.returncode().has_value());
    uvrun::ProcessOutput o = co_await p.communicate("hello");
    CHECK(p.returncode() == 2);
    co_return o;
  }());
  CHECK(out.out == "HELLO");
  CHECK(out.err == "warn\n");
  CHECK(out.returncode == 2);
}

TEST_CASE("P3: Stdio::into_stdout() sends stderr into stdout's pipe: communicate's out holds both, in order") {
  auto out = uvrun::run([]() -> uvrun::Task<uvrun::ProcessOutput> {
    uvrun::ProcessOptions o = piped();
    o.std_err = uvrun::Stdio::into_stdout();
    uvrun::Process p = uvrun::process::spawn({"sh", "-c", "cat; echo warn >&2; echo last"}, o);
    CHECK_FALSE(p.std_err());
    co_return co_await p.communicate("first\n");
  }());
  CHECK(out.out == "first\nwarn\nlast\n");
  CHECK(out.err == "");
  CHECK(out.returncode == 0);
}

TEST_CASE("P3 E: Stdio::into_stdout() for stdin or stdout throws, naming the stream") {
  uvrun::run([]() -> uvrun::Task<void> {
    uvrun::ProcessOptions o;
    o.std_out = uvrun::Stdio::into_stdout();
    try {
      uvrun::process::spawn({"true"}, o);
      FAIL("spawn did not throw");
    } catch (const uvrun::Error &e) {
      CHECK(e.code() == UVRUN_E_INVAL);
      CHECK(std::string(e.what()) == "stdio[1]: UVRUN_STDIO_STDOUT is for stderr (stdio[2]) only");
    }
    o.std_out = uvrun::Stdio();
    o.std_in = uvrun::Stdio::into_stdout();
    CHECK_THROWS_AS(uvrun::process::spawn({"true"}, o), uvrun::Error);
    co_return;
  }());
}

TEST_CASE("P1, P2: the pipes are Streams; co_await wait() gives the returncode") {
  auto got = uvrun::run([]() -> uvrun::Task<std::string> {
    uvrun::ProcessOptions o = piped();
    o.env = std::vector<std::string>{"UVRUN_T_CPP=set"};
    o.cwd = "/usr";
    uvrun::Process p = uvrun::process::spawn({"sh", "-c", "read x; echo \"$x $UVRUN_T_CPP $(pwd)\""}, o);
    co_await p.std_in().write("line\n");
    std::string line = co_await p.std_out().read_until("\n");
    int rc = co_await p.wait();
    co_return line + std::to_string(rc);
  }());
  CHECK(got == "line set /usr\n0");
}

TEST_CASE("P2, P4: terminate and kill end the child with minus the signal; cancelling wait leaves it running") {
  auto codes = uvrun::run([]() -> uvrun::Task<std::pair<int, int>> {
    uvrun::Process a = uvrun::process::spawn({"sleep", "100"});
    uvrun::Process b = uvrun::process::spawn({"sleep", "100"});
    bool timed_out = false;
    try {
      co_await uvrun::wait_for(a.wait(), 50ms);
    } catch (const uvrun::TimeoutError &) {
      timed_out = true;
    }
    CHECK(timed_out);
    CHECK_FALSE(a.returncode().has_value());
    a.terminate();
    b.kill();
    int ra = co_await a.wait();
    co_return std::pair<int, int>{ra, co_await b.wait()};
  }());
  CHECK(codes.first == -SIGTERM);
  CHECK(codes.second == -SIGKILL);
}

TEST_CASE("P1 E: a missing program throws FileNotFoundError; one not executable PermissionError") {
  uvrun::run([]() -> uvrun::Task<void> {
    CHECK_THROWS_AS(uvrun::process::spawn({"uvrun-no-such-program"}), uvrun::FileNotFoundError);
    char path[] = "/tmp/uvrun-noexecXXXXXX";
    int fd = mkstemp(path);  // 0600: not executable
    REQUIRE(fd >= 0);
    close(fd);
    CHECK_THROWS_AS(uvrun::process::spawn({path}), uvrun::PermissionError);
    unlink(path);
    uvrun::ProcessOptions o;
    o.cwd = "/nonexistent/dir";
    CHECK_THROWS_AS(uvrun::process::spawn({"true"}, o), uvrun::FileNotFoundError);
    CHECK_THROWS_AS(uvrun::process::spawn({}), uvrun::Error);
    try {
      uvrun::process::spawn({"uvrun-no-such-program"});
    } catch (const uvrun::OSError &e) {
      CHECK(e.code() == -ENOENT);
      CHECK(std::string(e.what()) == "cannot run 'uvrun-no-such-program': no such file or directory");
    }
    co_return;
  }());
}

TEST_CASE("P4 E: signalling a child that already exited throws ProcessLookupError") {
  uvrun::run([]() -> uvrun::Task<void> {
    uvrun::Process p = uvrun::process::spawn({"true"});
    CHECK(co_await p.wait() == 0);
    CHECK_THROWS_AS(p.kill(), uvrun::ProcessLookupError);
    CHECK_THROWS_AS(p.terminate(), uvrun::ProcessLookupError);
    co_return;
  }());
}

TEST_CASE("P3: an output past its limit throws LimitOverrunError; an empty Process throws") {
  uvrun::run([]() -> uvrun::Task<void> {
    uvrun::ProcessOptions o;
    o.std_out = uvrun::Stdio::pipe();
    o.std_err = uvrun::Stdio::devnull();
    uvrun::Process p = uvrun::process::spawn({"head", "-c", "1000000", "/dev/zero"}, o);
    CHECK_THROWS_AS(co_await p.communicate("", uvrun::CommunicateLimits{1000, 0}), uvrun::LimitOverrunError);
    CHECK(co_await p.wait() != 0);  // its pipe closed under it
    uvrun::Process moved = std::move(p);
    CHECK_THROWS_AS(p.pid(), uvrun::InvalidStateError);
    CHECK(moved.pid() > 0);
    co_return;
  }());
}
