// Child processes (P1-P5, E): spawning with its options, waiting,
// communicate, signals, and libuv's reaping next to the program's own.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uvrun.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "c/process_support.h"
#include "support.h"

TEST_SUITE_BEGIN("processes");

namespace {

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

// spawn's code for argv (NULL-terminated) and options; the message in *msg.
int spawn_code(uvrun_loop_t *loop, const char *const *argv, const uvrun_process_opts_t *o, std::string *msg) {
  uvrun_process_t *proc = reinterpret_cast<uvrun_process_t *>(&proc);
  int rc = uvrun_process_spawn(loop, argv, o, &proc);
  *msg = uvrun_errmsg();
  CHECK(proc == nullptr);
  return rc;
}

// `sh -c script` with stdout as a pipe and the environment given.
pr::Output sh_env(uvrun_loop_t *loop, const char *script, const char *const *env, int replace) {
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  o.env = env;
  o.env_replace = replace;
  o.stdio[1] = UVRUN_STDIO_PIPE;
  const char *argv[] = {"/bin/sh", "-c", script, nullptr};
  uvrun_process_t *proc = nullptr;
  REQUIRE(uvrun_process_spawn(loop, argv, &o, &proc) == 0);
  pr::Output res = pr::communicate(loop, proc);
  uvrun_process_unref(proc);
  return res;
}

// What a child wrote into the pipe fds it was given as a descriptor (still
// the caller's): the write end is closed, the rest read, both closed.
std::string drain_pipe(const int fds[2]) {
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

}  // namespace

TEST_CASE("P1: a child's stdout as a pipe is a stream: read_until and read work on it") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::sh(loop, "printf 'one\\ntwo'", UVRUN_STDIO_DEVNULL, UVRUN_STDIO_PIPE);
  uvrun_stream_t *out = uvrun_process_stdio(proc, 1);
  REQUIRE(out != nullptr);
  CHECK(uvrun_process_stdio(proc, 0) == nullptr);
  CHECK(uvrun_process_stdio(proc, 2) == nullptr);
  CHECK(uvrun_process_pid(proc) > 0);
  char buf[16];
  intptr_t n = 0;
  REQUIRE(pr::await(loop, uvrun_stream_read_until(out, "\n", 1, buf, sizeof buf), &n) == 0);
  CHECK(std::string(buf, n) == "one\n");
  REQUIRE(pr::await(loop, uvrun_stream_read_exactly(out, buf, 3), &n) == 0);
  CHECK(std::string(buf, 3) == "two");
  REQUIRE(pr::await(loop, uvrun_stream_read(out, buf, sizeof buf), &n) == 0);
  CHECK(n == 0);
  CHECK(pr::wait(loop, proc) == 0);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P1: the environment is inherited, added to, or replaced") {
  uvrun_loop_t *loop = t::new_loop();
  REQUIRE(setenv("UVRUN_T_PARENT", "from-parent", 1) == 0);
  const char *script = "echo \"$UVRUN_T_PARENT|$UVRUN_T_ADDED\"";
  CHECK(sh_env(loop, script, nullptr, 0).out == "from-parent|\n");
  const char *added[] = {"UVRUN_T_ADDED=added", "UVRUN_T_PARENT=replaced", nullptr};
  CHECK(sh_env(loop, script, added, 0).out == "replaced|added\n");
  const char *only[] = {"UVRUN_T_ADDED=only", nullptr};
  CHECK(sh_env(loop, script, only, 1).out == "|only\n");
  const char *none[] = {nullptr};
  CHECK(sh_env(loop, "env | wc -l", none, 1).out.find_first_not_of(" ") != std::string::npos);
  unsetenv("UVRUN_T_PARENT");
  uvrun_loop_free(loop);
}

TEST_CASE("P1: the working directory, /dev/null, a given descriptor") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  o.cwd = "/usr";
  o.stdio[0] = UVRUN_STDIO_DEVNULL;
  o.stdio[1] = UVRUN_STDIO_FD;
  o.stdio_fd[1] = fds[1];
  const char *argv[] = {"sh", "-c", "pwd; cat; echo end", nullptr};
  uvrun_process_t *proc = nullptr;
  REQUIRE(uvrun_process_spawn(loop, argv, &o, &proc) == 0);
  CHECK(pr::wait(loop, proc) == 0);
  CHECK(drain_pipe(fds) == "/usr\nend\n");
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P1 E: a missing program fails at spawn with ENOENT, naming it; nothing is left") {
  uvrun_loop_t *loop = t::new_loop();
  size_t before = pr::children().size();
  std::string msg;
  const char *argv[] = {"uvrun-no-such-program", "x", nullptr};
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  o.stdio[0] = o.stdio[1] = o.stdio[2] = UVRUN_STDIO_PIPE;
  CHECK(spawn_code(loop, argv, &o, &msg) == -ENOENT);
  CHECK(msg == "cannot run 'uvrun-no-such-program': no such file or directory");
  const char *path[] = {"/nonexistent/prog", nullptr};
  CHECK(spawn_code(loop, path, nullptr, &msg) == -ENOENT);
  CHECK(contains(msg, "/nonexistent/prog"));
  CHECK(pr::children().size() == before);
  uvrun_loop_free(loop);
}

TEST_CASE("P1 E: a program that is not executable fails with EACCES") {
  uvrun_loop_t *loop = t::new_loop();
  char path[] = "/tmp/uvrun-noexecXXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "#!/bin/sh\n", 10) == 10);
  close(fd);
  REQUIRE(chmod(path, 0644) == 0);
  std::string msg;
  const char *argv[] = {path, nullptr};
  CHECK(spawn_code(loop, argv, nullptr, &msg) == -EACCES);
  CHECK(msg == std::string("cannot run '") + path + "': permission denied");
  unlink(path);
  uvrun_loop_free(loop);
}

TEST_CASE("P1 E: an empty argv, a missing working directory and bad options are refused") {
  uvrun_loop_t *loop = t::new_loop();
  std::string msg;
  const char *empty[] = {nullptr};
  const char *blank[] = {"", nullptr};
  CHECK(spawn_code(loop, nullptr, nullptr, &msg) == UVRUN_E_INVAL);
  CHECK(msg == "argv must hold at least the program to run");
  CHECK(spawn_code(loop, empty, nullptr, &msg) == UVRUN_E_INVAL);
  CHECK(spawn_code(loop, blank, nullptr, &msg) == UVRUN_E_INVAL);

  const char *argv[] = {"true", nullptr};
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  o.cwd = "/nonexistent/dir";
  CHECK(spawn_code(loop, argv, &o, &msg) == -ENOENT);
  CHECK(msg == "cannot run 'true': working directory '/nonexistent/dir': no such file or directory");

  uvrun_process_opts_init(&o);
  o.stdio[1] = 7;
  CHECK(spawn_code(loop, argv, &o, &msg) == UVRUN_E_INVAL);
  uvrun_process_opts_init(&o);
  o.stdio[2] = UVRUN_STDIO_FD;
  CHECK(spawn_code(loop, argv, &o, &msg) == UVRUN_E_INVAL);
  CHECK(msg == "stdio_fd[2] must be a descriptor for UVRUN_STDIO_FD");
  uvrun_process_opts_init(&o);
  const char *bad_env[] = {"NOEQUALS", nullptr};
  o.env = bad_env;
  CHECK(spawn_code(loop, argv, &o, &msg) == UVRUN_E_INVAL);
  CHECK(msg == "environment entry 'NOEQUALS' is not NAME=value");
  uvrun_process_opts_init(&o);
  o.size = 0;
  CHECK(spawn_code(loop, argv, &o, &msg) == UVRUN_E_INVAL);
  uvrun_loop_free(loop);
}

TEST_CASE("P2: wait gives the exit status, or minus the signal that ended the child") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *a = pr::sh(loop, "exit 3");
  uvrun_process_t *b = pr::sh(loop, "kill -9 $$");
  int rc = 1000;
  CHECK(uvrun_process_returncode(a, &rc) == 0);  // running (or not yet reaped)
  CHECK(pr::wait(loop, a) == 3);
  CHECK(uvrun_process_returncode(a, &rc) == 1);
  CHECK(rc == 3);
  CHECK(pr::wait(loop, b) == -SIGKILL);
  // A wait after the exit completes at once, with the same code.
  uvrun_future_t *again = uvrun_process_wait(a);
  CHECK(uvrun_future_done(again));
  CHECK(pr::await(loop, again) == 0);
  uvrun_process_unref(a);
  uvrun_process_unref(b);
  uvrun_loop_free(loop);
}

TEST_CASE("P2: cancelling a wait leaves the child running; other waits go on") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"sleep", "100"});
  int pid = uvrun_process_pid(proc);
  uvrun_future_t *other = uvrun_process_wait(proc);
  CHECK(pr::await(loop, uvrun_wait_for(uvrun_process_wait(proc), 0.05)) == UVRUN_E_TIMEDOUT);
  CHECK(pr::has_child(pid));
  int rc;
  CHECK(uvrun_process_returncode(proc, &rc) == 0);
  CHECK_FALSE(uvrun_future_done(other));
  REQUIRE(uvrun_process_kill(proc, SIGKILL) == 0);
  intptr_t code = 0;
  CHECK(pr::await(loop, other, &code) == 0);
  CHECK(code == -SIGKILL);
  CHECK_FALSE(pr::has_child(pid));  // reaped: not even a zombie
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P3: communicate feeds stdin, reads stdout and stderr to their ends, and waits") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc =
      pr::sh(loop, "cat; echo oops >&2; exit 4", UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE);
  pr::Output res = pr::communicate(loop, proc, "hello, child");
  CHECK(res.rc == 0);
  CHECK(res.out == "hello, child");
  CHECK(res.err == "oops\n");
  CHECK(res.returncode == 4);
  uvrun_process_unref(proc);
  // A stream that is not a pipe has no output.
  proc = pr::sh(loop, "echo out", UVRUN_STDIO_DEVNULL, UVRUN_STDIO_PIPE, UVRUN_STDIO_DEVNULL);
  res = pr::communicate(loop, proc);
  CHECK(res.out == "out\n");
  CHECK(res.err == "<none>");
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P3: a child that fills both pipes before it reads its stdin never deadlocks") {
  uvrun_loop_t *loop = t::new_loop();
  // 2 MB each way is far past the pipes' kernel buffers.
  uvrun_process_t *proc = pr::sh(loop, "head -c 2000000 /dev/zero; head -c 2000000 /dev/zero >&2; wc -c >&2",
                                 UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE, UVRUN_STDIO_PIPE);
  pr::Output res = pr::communicate(loop, proc, std::string(2000000, 'x'));
  REQUIRE(res.rc == 0);
  CHECK(res.out == std::string(2000000, '\0'));
  CHECK(res.err.size() == 2000008);
  CHECK(res.err.substr(2000000) == "2000000\n");
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P3: stderr as UVRUN_STDIO_STDOUT shares stdout's pipe: communicate's stdout holds both, in order") {
  uvrun_loop_t *loop = t::new_loop();
  const char *script = "echo one; echo two >&2; echo three; echo four >&2";
  uvrun_process_t *proc = pr::sh(loop, script, UVRUN_STDIO_DEVNULL, UVRUN_STDIO_PIPE, UVRUN_STDIO_STDOUT);
  CHECK(uvrun_process_stdio(proc, 1) != nullptr);
  CHECK(uvrun_process_stdio(proc, 2) == nullptr);
  pr::Output res = pr::communicate(loop, proc);
  CHECK(res.rc == 0);
  CHECK(res.out == "one\ntwo\nthree\nfour\n");
  CHECK(res.err == "<none>");
  CHECK(res.returncode == 0);
  uvrun_process_unref(proc);
  // stdout as a given descriptor: stderr goes there too.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  o.stdio[1] = UVRUN_STDIO_FD;
  o.stdio_fd[1] = fds[1];
  o.stdio[2] = UVRUN_STDIO_STDOUT;
  const char *argv[] = {"sh", "-c", script, nullptr};
  REQUIRE(uvrun_process_spawn(loop, argv, &o, &proc) == 0);
  CHECK(pr::wait(loop, proc) == 0);
  CHECK(drain_pipe(fds) == "one\ntwo\nthree\nfour\n");
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P3 E: UVRUN_STDIO_STDOUT for stdin or stdout is refused, naming the stream") {
  uvrun_loop_t *loop = t::new_loop();
  const char *argv[] = {"true", nullptr};
  std::string msg;
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  o.stdio[0] = UVRUN_STDIO_STDOUT;
  CHECK(spawn_code(loop, argv, &o, &msg) == UVRUN_E_INVAL);
  CHECK(msg == "stdio[0]: UVRUN_STDIO_STDOUT is for stderr (stdio[2]) only");
  uvrun_process_opts_init(&o);
  o.stdio[1] = UVRUN_STDIO_STDOUT;
  CHECK(spawn_code(loop, argv, &o, &msg) == UVRUN_E_INVAL);
  CHECK(msg == "stdio[1]: UVRUN_STDIO_STDOUT is for stderr (stdio[2]) only");
  uvrun_loop_free(loop);
}

TEST_CASE("P3 E: communicate's bad input") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"true"});
  CHECK(uvrun_process_communicate(nullptr, nullptr, 0, nullptr) == nullptr);
  CHECK(uvrun_process_communicate(proc, nullptr, 3, nullptr) == nullptr);
  CHECK(uvrun_process_communicate(proc, "abc", 3, nullptr) == nullptr);  // stdin is not a pipe
  CHECK(std::string(uvrun_errmsg()) == "communicate with input needs the child's stdin as a pipe");
  uvrun_communicate_opts_t o;
  uvrun_communicate_opts_init(&o);
  o.size = 0;
  CHECK(uvrun_process_communicate(proc, nullptr, 0, &o) == nullptr);
  // Without pipes it only waits.
  pr::Output res = pr::communicate(loop, proc);
  CHECK(res.rc == 0);
  CHECK(res.out == "<none>");
  CHECK(res.returncode == 0);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P4: kill and terminate signal the child") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *a = pr::spawn(loop, {"sleep", "100"});
  uvrun_process_t *b = pr::spawn(loop, {"sleep", "100"});
  CHECK(uvrun_process_terminate(a) == 0);
  CHECK(uvrun_process_kill(b, SIGINT) == 0);
  CHECK(pr::wait(loop, a) == -SIGTERM);
  CHECK(pr::wait(loop, b) == -SIGINT);
  uvrun_process_unref(a);
  uvrun_process_unref(b);
  uvrun_loop_free(loop);
}

TEST_CASE("P4 E: killing a child that already exited fails with ESRCH and signals nothing") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"true"});
  int pid = uvrun_process_pid(proc);
  CHECK(pr::wait(loop, proc) == 0);
  CHECK(uvrun_process_kill(proc, SIGKILL) == -ESRCH);
  CHECK(std::string(uvrun_errmsg()) ==
        "process " + std::to_string(pid) + " (true) has already exited with returncode 0");
  CHECK(uvrun_process_terminate(proc) == -ESRCH);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P4 E: a signal number that does not exist is refused") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"sleep", "100"});
  CHECK(uvrun_process_kill(proc, 1000) == -EINVAL);
  CHECK(uvrun_process_kill(nullptr, SIGTERM) == UVRUN_E_INVAL);
  CHECK(uvrun_process_kill(proc, SIGKILL) == 0);
  CHECK(pr::wait(loop, proc) == -SIGKILL);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
}

TEST_CASE("P5: the program's own waitpid on a child it forked keeps working beside uvrun's children") {
  uvrun_loop_t *loop = t::new_loop();
  pid_t mine = fork();
  REQUIRE(mine >= 0);
  if (mine == 0) {
    usleep(100000);
    _exit(7);
  }
  // uvrun's children come and go (libuv's SIGCHLD handler runs) while the
  // program's own child is still running, and after it exited.
  for (int i = 0; i < 3; i++) {
    uvrun_process_t *proc = pr::spawn(loop, {"sh", "-c", "sleep 0.05"});
    CHECK(pr::wait(loop, proc) == 0);
    uvrun_process_unref(proc);
  }
  int status = 0;
  REQUIRE(waitpid(mine, &status, 0) == mine);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);
  uvrun_loop_free(loop);
}

TEST_CASE("P5: uvrun sets no SIGCHLD handler of its own: with no child left, SIGCHLD is as it was") {
  struct sigaction before, after;
  REQUIRE(sigaction(SIGCHLD, nullptr, &before) == 0);
  uvrun_loop_t *loop = t::new_loop();
  uvrun_process_t *proc = pr::spawn(loop, {"true"});
  CHECK(pr::wait(loop, proc) == 0);
  uvrun_process_unref(proc);
  uvrun_loop_free(loop);
  REQUIRE(sigaction(SIGCHLD, nullptr, &after) == 0);
  CHECK((after.sa_handler == before.sa_handler));
}
