// A child process's life (L1-L3, P2-P4 cancellation, E): what a runner's
// or a loop's close does with children still running, dropping the last
// reference, cancelling communicate, broken and huge pipes, and every
// operation on a closed loop.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>
#include <uvrun.h>

#include <cerrno>
#include <string>

#include "c/process_support.h"
#include "c/socket_support.h"
#include "support.h"

TEST_SUITE_BEGIN("processes");

namespace {

// A run whose main task spawns `sleep 100` (kept in *out past the run, so
// only the runner's close can end it) and returns.
int run_leaving_sleep(uvrun_process_t **out, int debug) {
  t::Options opts;
  opts.debug = debug ? UVRUN_DEBUG_ON : UVRUN_DEBUG_OFF;
  return t::run(
      [out](uvrun_task_t *task, int) {
        *out = pr::spawn(uvrun_get_running_loop(), {"sleep", "100"});
        return uvrun_task_return(task, nullptr);
      },
      &opts);
}

}  // namespace

TEST_CASE("L1 L2: a runner's close kills a child still running and reaps it: no child, no zombie") {
  size_t before = pr::children().size();
  uvrun_process_t *proc = nullptr;
  t::LogCapture logs;
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_leaving_sleep(&proc, 0) == 0);
  CHECK(t::since(t0) < 2.0);
  int pid = uvrun_process_pid(proc);
  CHECK_FALSE(pr::has_child(pid));
  CHECK(pr::children().size() == before);
  int rc = 0;
  CHECK(uvrun_process_returncode(proc, &rc) == 1);
  CHECK(rc == -SIGKILL);
  CHECK_FALSE(logs.contains("still running"));  // reported in debug mode only
  uvrun_process_unref(proc);
}

TEST_CASE("L1: in debug mode the runner's close names the children it killed") {
  uvrun_process_t *proc = nullptr;
  t::LogCapture logs;
  REQUIRE(run_leaving_sleep(&proc, 1) == 0);
  std::string pid = std::to_string(uvrun_process_pid(proc));
  CHECK(logs.contains("process <Process pid=" + pid + " sleep running> still running at runner close: killed"));
  CHECK_FALSE(pr::has_child(uvrun_process_pid(proc)));
  uvrun_process_unref(proc);
}

TEST_CASE("L1: closing a loop kills and reaps a child still running; its waits fail with LOOP_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"sleep", "100"});
  int pid = uvrun_process_pid(proc);
  uvrun_future_t *wait = uvrun_process_wait(proc);
  REQUIRE(uvrun_loop_close(loop) == 0);
  CHECK_FALSE(pr::has_child(pid));
  CHECK(uvrun_future_done(wait));
  CHECK(uvrun_future_result(wait, nullptr) == UVRUN_E_LOOP_CLOSED);
  int rc = 0;
  CHECK(uvrun_process_returncode(proc, &rc) == 1);
  CHECK(rc == -SIGKILL);
  uvrun_future_unref(wait);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("L2: a run that spawns, communicates, reads pipes and kills leaves no child and no fd") {
  uvrun_release_memory();
  int fds = sk::count_fds();
  size_t kids = pr::children().size();
  uvrun_process_t *kept = nullptr;
  CHECK(t::run([&kept](uvrun_task_t *task, int step) {
          uvrun_loop_t *loop = uvrun_get_running_loop();
          if (step == 0) {
            uvrun_process_t *cat = pr::sh(loop, "cat", UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE);
            uvrun_future_t *fut = uvrun_process_communicate(cat, "x", 1, nullptr);
            uvrun_process_unref(cat);
            // Left behind: a child with open pipes, and one dropped while running.
            kept = pr::sh(loop, "sleep 100", UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE);
            uvrun_process_unref(pr::spawn(loop, {"sleep", "100"}, UVRUN_STDIO_PIPE));
            return uvrun_task_await(task, fut);
          }
          CHECK(uvrun_task_resume(task, nullptr) == 0);
          return uvrun_task_return(task, nullptr);
        }) == 0);
  uvrun_process_unref(kept);
  uvrun_release_memory();
  CHECK(pr::children().size() == kids);
  CHECK(sk::count_fds() == fds);
}

TEST_CASE("L3: dropping the last reference to a running child kills it and closes its pipes") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 1);
  t::LogCapture logs;
  uvrun_process_t *proc = pr::spawn(loop, {"sleep", "100"}, UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE);
  int pid = uvrun_process_pid(proc);
  uvrun_stream_t *out = uvrun_stream_ref(uvrun_process_stdio(proc, 1));
  uvrun_process_unref(proc);
  CHECK(
      logs.contains("unclosed process <Process pid=" + std::to_string(pid) + " sleep running> dropped while running"));
  for (int i = 0; i < 100 && pr::has_child(pid); i++)
    CHECK(pr::await(loop, uvrun_sleep_value(loop, 0.01, nullptr)) == 0);
  CHECK_FALSE(pr::has_child(pid));
  char buf[4];
  CHECK(uvrun_stream_read(out, buf, sizeof buf) == nullptr);
  uvrun_stream_unref(out);
  uvrun_loop_free(loop);
}

TEST_CASE("P3: cancelling communicate closes the pipes; the child is not leaked") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"yes"}, UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE, UVRUN_STDIO_DEVNULL);
  uvrun_future_t *fut = uvrun_process_communicate(proc, nullptr, 0, nullptr);
  CHECK(pr::await(loop, uvrun_wait_for(fut, 0.1)) == UVRUN_E_TIMEDOUT);
  uvrun_stream_info_t info;
  info.size = sizeof info;
  REQUIRE(uvrun_stream_info(uvrun_process_stdio(proc, 1), &info) == 0);
  CHECK(info.closed == 1);
  // With its stdout gone, `yes` fails to write (a reset socket) and ends.
  CHECK(pr::wait(loop, proc) != 0);
  CHECK_FALSE(pr::has_child(uvrun_process_pid(proc)));
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P3 E: a child that closes its stdin early while communicate writes: the output still comes") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::sh(loop, "exec 0<&-; sleep 0.05; echo done", UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE);
  pr::Output res = pr::communicate(loop, proc, std::string(8 * 1024 * 1024, 'x'));
  CHECK(res.rc == 0);
  CHECK(res.out == "done\n");
  CHECK(res.returncode == 0);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P3: 100 MiB of stdout through communicate, whole and past a limit") {
  uvrun_loop_t *loop = t::new_loop();
  const size_t mib100 = 100u * 1024 * 1024;
  uvrun_process_t *proc =
      pr::spawn(loop, {"head", "-c", "104857600", "/dev/zero"}, UVRUN_STDIO_DEVNULL, UVRUN_STDIO_PIPE);
  pr::Output res = pr::communicate(loop, proc);
  REQUIRE(res.rc == 0);
  CHECK(res.out.size() == mib100);
  CHECK(res.out.find_first_not_of('\0') == std::string::npos);
  uvrun_process_unref(proc);

  proc = pr::spawn(loop, {"head", "-c", "104857600", "/dev/zero"}, UVRUN_STDIO_DEVNULL, UVRUN_STDIO_PIPE,
                   UVRUN_STDIO_DEVNULL);
  res = pr::communicate(loop, proc, "", 1024 * 1024);
  CHECK(res.rc == UVRUN_E_LIMIT_OVERRUN);
  CHECK(res.message == "the child's stdout went past its limit of 1048576 bytes");
  CHECK(pr::wait(loop, proc) != 0);  // its pipe was closed under it
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("E: every process operation on a closed loop fails with LOOP_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"true"});
  CHECK(pr::wait(loop, proc) == 0);
  REQUIRE(uvrun_loop_close(loop) == 0);
  const char *argv[] = {"true", nullptr};
  uvrun_process_t *other = nullptr;
  CHECK(uvrun_process_spawn(loop, argv, nullptr, &other) == UVRUN_E_LOOP_CLOSED);
  CHECK(other == nullptr);
  CHECK(uvrun_process_wait(proc) == nullptr);
  CHECK(uvrun_process_communicate(proc, nullptr, 0, nullptr) == nullptr);
  CHECK(uvrun_process_kill(proc, SIGTERM) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  CHECK(uvrun_process_terminate(proc) == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_process_pid(proc) > 0);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P4 E: a spawn that failed leaves nothing to signal: the runner's close right after kills no one") {
  // Its handle is still closing when the run ends; pid 0 would be this
  // whole process group to kill().
  CHECK(t::run([](uvrun_task_t *task, int) {
          const char *argv[] = {"uvrun-no-such-program", nullptr};
          uvrun_process_t *proc = nullptr;
          CHECK(uvrun_process_spawn(uvrun_get_running_loop(), argv, nullptr, &proc) == -ENOENT);
          return uvrun_task_return(task, nullptr);
        }) == 0);
  CHECK(kill(getpid(), 0) == 0);  // still here
}

TEST_CASE("P3 E: a second communicate while one runs fails with READ_BUSY and leaves the first alone") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::sh(loop, "sleep 0.05; echo first", UVRUN_STDIO_DEVNULL, UVRUN_STDIO_PIPE);
  uvrun_future_t *first = uvrun_process_communicate(proc, nullptr, 0, nullptr);
  REQUIRE(first != nullptr);
  CHECK(uvrun_process_communicate(proc, nullptr, 0, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_READ_BUSY);
  void *value = nullptr;
  REQUIRE(uvrun_loop_run_until_complete(loop, first, &value) == 0);
  size_t n = 0;
  const char *out = uvrun_process_result_stdout(static_cast<uvrun_process_result_t *>(value), &n);
  CHECK(std::string(out, n) == "first\n");
  uvrun_future_unref(first);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}
