// A stream's life (S9, S10, S12, S13, L1-L4, E): closing and
// aborting, what works after, info, debug mode's checks and reports, and
// what a run leaves behind.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <dirent.h>
#include <netinet/tcp.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>

#include "c/socket_support.h"
#include "c/stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("streams");

namespace {

bool fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

// sigpipe_child's output and how it ended, its environment and mode given.
struct Child {
  std::string out;
  bool killed_by_sigpipe = false;
  int exit_code = -1;
};
Child sigpipe_child(const char *env, const char *mode) {
  std::string cmd = std::string(env) + " " UVRUN_SIGPIPE_CHILD " " + mode + " 2>&1";
  Child c;
  FILE *p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) c.out.append(buf, n);
  int status = pclose(p);
  // The shell may run it as a child and report the signal as 128 + 13.
  c.killed_by_sigpipe = (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) ||
                        (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGPIPE);
  if (WIFEXITED(status)) c.exit_code = WEXITSTATUS(status);
  return c;
}

}  // namespace

TEST_CASE("S9: close sends what is queued, then closes; wait_closed completes when the socket is closed") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  std::string data = st::pattern(st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  int fd = st::info(a).fd;
  REQUIRE(uvrun_stream_close(a) == 0);
  uvrun_future_t *closed = uvrun_stream_wait_closed(a);
  st::spin(loop, 0.02);
  CHECK_FALSE(uvrun_future_done(closed));  // its queue waits for the reader
  CHECK(fd_open(fd));
  CHECK(st::read_to_eof(loop, b) == data);
  CHECK(st::await(loop, closed) == 0);
  CHECK_FALSE(fd_open(fd));
  uvrun_stream_info_t i = st::info(a);
  CHECK(i.fd == -1);
  CHECK(i.closed == 1);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S9: abort drops the queue, releasing owned buffers, and closes at once") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  st::released = 0;
  std::string data = st::pattern(st::kBig);
  static char owned[] = "owned";
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  REQUIRE(uvrun_stream_write_owned(a, owned, 5, st::count_release) == 0);
  uvrun_future_t *drain = uvrun_stream_drain(a);
  CHECK(st::released == 0);
  REQUIRE(uvrun_stream_abort(a) == 0);
  CHECK(st::released == 1);
  CHECK(st::info(a).write_queued == 0);
  CHECK(st::await(loop, drain) == UVRUN_E_STREAM_CLOSED);
  CHECK(st::await(loop, uvrun_stream_wait_closed(a)) == 0);
  CHECK(st::read_to_eof(loop, b).size() < st::kBig);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S9: abort resets a TCP connection; the peer's read fails with ECONNRESET") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::tcp_pair(loop, &a, &b);
  char buf[8];
  REQUIRE(uvrun_stream_abort(a) == 0);
  CHECK(st::await(loop, uvrun_stream_read(b, buf, sizeof buf)) == -ECONNRESET);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S9: close and abort are idempotent, and abort cuts short a close still sending") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  std::string data = st::pattern(st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  CHECK(uvrun_stream_close(a) == 0);
  CHECK(uvrun_stream_close(a) == 0);
  uvrun_future_t *closed = uvrun_stream_wait_closed(a);
  st::spin(loop, 0.02);
  CHECK_FALSE(uvrun_future_done(closed));
  CHECK(uvrun_stream_abort(a) == 0);
  CHECK(st::await(loop, closed) == 0);
  CHECK(uvrun_stream_abort(a) == 0);
  CHECK(uvrun_stream_close(a) == 0);
  CHECK(st::read_to_eof(loop, b).size() < st::kBig);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S9: a read pending at a local close fails with STREAM_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[8];
  uvrun_future_t *fut = uvrun_stream_read(b, buf, sizeof buf);
  REQUIRE(fut != nullptr);
  REQUIRE(uvrun_stream_close(b) == 0);
  CHECK(st::await(loop, fut) == UVRUN_E_STREAM_CLOSED);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S10 E: after close or abort every operation fails with STREAM_CLOSED, never a crash") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  SUBCASE("close") { REQUIRE(uvrun_stream_close(a) == 0); }
  SUBCASE("abort") { REQUIRE(uvrun_stream_abort(a) == 0); }
  SUBCASE("the loop closed") {
    REQUIRE(uvrun_loop_close(loop) == 0);
    CHECK(st::info(a).closed == 1);
  }
  char buf[8];
  st::released = 0;
  CHECK(uvrun_stream_read(a, buf, sizeof buf) == nullptr);
  t::TakenError e = t::take_error();
  CHECK(e.code == UVRUN_E_STREAM_CLOSED);
  CHECK(e.message == "the stream is closed");
  CHECK(uvrun_stream_read_exactly(a, buf, 2) == nullptr);
  CHECK(uvrun_stream_read_until(a, "\n", 1, buf, sizeof buf) == nullptr);
  CHECK(uvrun_stream_drain(a) == nullptr);
  CHECK(uvrun_stream_shutdown(a) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_stream_write(a, "x", 1) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_stream_write(a, "x", 0) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_stream_write_owned(a, buf, 1, st::count_release) == UVRUN_E_STREAM_CLOSED);
  CHECK(st::released == 1);
  CHECK(uvrun_stream_close(a) == 0);
  CHECK(uvrun_stream_abort(a) == 0);
  CHECK(st::info(a).closed == 1);
  if (!uvrun_loop_is_closed(loop)) {
    CHECK(st::await(loop, uvrun_stream_wait_closed(a)) == 0);
    st::close_all(loop, a, b);
  } else {
    uvrun_stream_unref(a);
    uvrun_stream_unref(b);
  }
  uvrun_loop_free(loop);
}

TEST_CASE("S12: info gives the fd, the numeric local and peer addresses, and the byte counts") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::tcp_pair(loop, &a, &b);
  uvrun_stream_info_t ia = st::info(a), ib = st::info(b);
  struct sockaddr_in local = {};
  socklen_t len = sizeof local;
  REQUIRE(ia.fd >= 0);
  REQUIRE(getsockname(ia.fd, reinterpret_cast<sockaddr *>(&local), &len) == 0);
  CHECK(std::string(ia.local_host) == "127.0.0.1");
  CHECK(ia.local_port == ntohs(local.sin_port));
  CHECK(std::string(ia.peer_host) == "127.0.0.1");
  CHECK(ia.peer_port == ib.local_port);
  CHECK(ib.peer_port == ia.local_port);
  CHECK(ia.closed == 0);
  CHECK(ia.at_eof == 0);
  // Bytes received and not read: a read of 1 takes one of them.
  char c;
  REQUIRE(uvrun_stream_write(a, "hello", 5) == 0);
  CHECK(st::await(loop, uvrun_stream_read(b, &c, 1)) == 0);
  CHECK(st::info(b).read_buffered == 4);
  // An older, smaller info struct gets its own fields only.
  uvrun_stream_info_t small;
  memset(&small, 0x7f, sizeof small);
  small.size = offsetof(uvrun_stream_info_t, local_host);
  REQUIRE(uvrun_stream_info(a, &small) == 0);
  CHECK(small.fd == ia.fd);
  CHECK(small.local_host[0] == 0x7f);
  CHECK(uvrun_stream_info(a, nullptr) == UVRUN_E_INVAL);
  st::close_all(loop, a, b);

  uvrun_stream_t *p, *q;  // a pipe has no addresses
  st::pair(loop, &p, &q);
  uvrun_stream_info_t ip = st::info(p);
  CHECK(ip.fd >= 0);
  CHECK(std::string(ip.local_host).empty());
  CHECK(std::string(ip.peer_host).empty());
  st::close_all(loop, p, q);
  uvrun_loop_free(loop);
}

TEST_CASE("S13 L1: in debug mode a stream dropped open or left open at loop close is aborted and reported") {
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 1);
  uvrun_stream_t *a = nullptr, *b = nullptr;
  uvrun_task_t *maker = t::spawn(
      loop,
      [&](uvrun_task_t *, int) {
        st::pair(loop, &a, &b);
        return 0;
      },
      "maker", "maker.c:12");
  CHECK(st::await(loop, uvrun_task_future(maker)) == 0);
  int fd = st::info(a).fd;
  uvrun_stream_unref(a);
  CHECK(log.contains("unclosed stream <Stream fd=" + std::to_string(fd) +
                     "> created by task 'maker' at maker.c:12, aborted when dropped"));
  st::spin(loop, 0.01);
  CHECK_FALSE(fd_open(fd));
  // Left open at loop close: aborted and reported too (L1).
  uvrun_loop_free(loop);
  CHECK(log.contains("> created by task 'maker' at maker.c:12, aborted at loop close"));
  uvrun_stream_unref(b);
}

TEST_CASE("S13: out of debug mode a stream dropped open is aborted without a report") {
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 0);
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  int fd = st::info(a).fd;
  uvrun_stream_unref(a);
  char buf[4];
  uintptr_t got = 1;
  CHECK(st::await(loop, uvrun_stream_read(b, buf, sizeof buf), &got) == 0);
  CHECK(got == 0);  // the peer saw it closed
  CHECK_FALSE(fd_open(fd));
  CHECK_FALSE(log.contains("unclosed stream"));
  uvrun_stream_close(b);
  uvrun_stream_unref(b);
  uvrun_loop_free(loop);
}

TEST_CASE("S13: in debug mode a stream used from another thread fails with WRONG_THREAD") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 1);
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  int write_rc = 1, info_rc = 1, read_code = 1, close_rc = 1;
  uvrun_task_t *task = t::spawn(loop, [&](uvrun_task_t *, int) {
    std::thread other([&] {  // while the loop runs this step
      char buf[4];
      uvrun_stream_info_t i;
      i.size = sizeof i;
      write_rc = uvrun_stream_write(a, "x", 1);
      info_rc = uvrun_stream_info(a, &i);
      close_rc = uvrun_stream_close(a);
      if (uvrun_stream_read(a, buf, sizeof buf) == nullptr) {
        uvrun_error_t *err = uvrun_take_error();
        read_code = uvrun_error_code(err);
        uvrun_error_unref(err);
      }
    });
    other.join();
    return 0;
  });
  CHECK(st::await(loop, uvrun_task_future(task)) == 0);
  CHECK(write_rc == UVRUN_E_WRONG_THREAD);
  CHECK(info_rc == UVRUN_E_WRONG_THREAD);
  CHECK(close_rc == UVRUN_E_WRONG_THREAD);
  CHECK(read_code == UVRUN_E_WRONG_THREAD);
  CHECK(st::info(a).closed == 0);  // untouched
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("L2 L3: a run that opened and dropped streams leaves no fd behind, whatever they were doing") {
  uvrun_release_memory();  // the idle libuv loops kept for reuse
  int before = sk::count_fds();
  uvrun_stream_t *kept = nullptr;
  char buf[16];
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    if (step > 0) return 0;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_stream_t *a, *b, *c;
    st::pair(loop, &a, &b);
    std::string data = st::pattern(st::kBig);
    REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
    uvrun_stream_unref(a);                                      // dropped with a write out
    uvrun_future_unref(uvrun_stream_read(b, buf, sizeof buf));  // and a read dropped waiting
    uvrun_stream_unref(b);
    st::pair(loop, &c, &kept);
    uvrun_future_unref(uvrun_stream_shutdown(c));
    uvrun_stream_unref(c);
    // A task still reading from `kept` when the run ends: it is cancelled,
    // then the loop's close aborts `kept`, which the caller still holds.
    uvrun_task_unref(t::spawn(loop, [&](uvrun_task_t *reader, int reader_step) {
      if (reader_step > 0) return uvrun_task_resume(reader, nullptr);
      return uvrun_task_await(reader, uvrun_stream_read(kept, buf, sizeof buf));
    }));
    return uvrun_task_sleep(task, 0.02);
  });
  CHECK(rc == 0);
  CHECK(st::info(kept).closed == 1);
  uvrun_stream_unref(kept);
  uvrun_release_memory();
  CHECK(sk::count_fds() == before);
}

TEST_CASE("T2: an adopted TCP socket gets TCP_NODELAY by default and keepalive when asked") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::tcp_pair(loop, &a, &b);
  int on = -1, keep = -1, idle = -1;
  socklen_t len = sizeof on;
  REQUIRE(getsockopt(st::info(a).fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0);
  CHECK(on == 1);
  REQUIRE(getsockopt(st::info(a).fd, SOL_SOCKET, SO_KEEPALIVE, &keep, &len) == 0);
  CHECK(keep == 0);
  st::close_all(loop, a, b);

  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.nodelay = 0;
  opts.keepalive = 30;
  uvrun_stream_t *s = nullptr;
  st::tcp_pair(loop, &a, &b);
  int cfd = dup(st::info(a).fd);  // the same socket, adopted with options
  REQUIRE(uvrun_stream_open(loop, cfd, &opts, &s) == 0);
  REQUIRE(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0);
  CHECK(on == 0);
  REQUIRE(getsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &keep, &len) == 0);
  CHECK(keep == 1);
  REQUIRE(getsockopt(cfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len) == 0);
  CHECK(idle == 30);
  uvrun_stream_close(s);
  uvrun_stream_unref(s);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("L3: a stream's data is the caller's until the stream is freed, after its close") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  static int freed_one, freed_two;
  freed_one = freed_two = 0;
  int one = 1, two = 2;
  CHECK(uvrun_stream_loop(a) == loop);
  CHECK(uvrun_stream_data(a) == nullptr);
  uvrun_stream_set_data(a, &one, [](void *) { freed_one++; });
  uvrun_stream_set_data(a, &two, [](void *) { freed_two++; });
  CHECK(freed_one == 1);  // replaced
  CHECK(uvrun_stream_data(a) == &two);
  uvrun_stream_ref(a);
  st::close_all(loop, a, b);
  CHECK(freed_two == 0);  // closed, still referenced
  CHECK(uvrun_stream_data(a) == &two);
  uvrun_stream_unref(a);
  CHECK(freed_two == 1);
  uvrun_loop_free(loop);
}

TEST_CASE("L4: the first stream ignores SIGPIPE at its default, so writes to a gone peer fail with EPIPE") {
  Child c = sigpipe_child("env -u UVRUN_KEEP_SIGPIPE", "default");
  INFO(c.out);
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("before write: ignored") != std::string::npos);
  CHECK(c.out.find("write " + std::to_string(-EPIPE) + ", ignored") != std::string::npos);
}

TEST_CASE("L4: uvrun_io_sigpipe(0) or UVRUN_KEEP_SIGPIPE=1 leaves SIGPIPE alone, as does a handler of the program's") {
  Child keep = sigpipe_child("env -u UVRUN_KEEP_SIGPIPE", "keep");
  INFO(keep.out);
  CHECK(keep.killed_by_sigpipe);
  Child env = sigpipe_child("UVRUN_KEEP_SIGPIPE=1", "default");
  INFO(env.out);
  CHECK(env.killed_by_sigpipe);
  Child own = sigpipe_child("env -u UVRUN_KEEP_SIGPIPE", "own");
  INFO(own.out);
  CHECK(own.out.find("write " + std::to_string(-EPIPE) + ", own, handler ran") != std::string::npos);
}

TEST_CASE("E: adopting a bad fd fails clearly and still closes it; so do bad options and a closed loop") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *s = reinterpret_cast<uvrun_stream_t *>(1);
  CHECK(uvrun_stream_open(loop, -1, nullptr, &s) == UVRUN_E_INVAL);
  CHECK(s == nullptr);
  int fd = open("/dev/null", O_RDONLY);  // not a stream
  REQUIRE(fd >= 0);
  CHECK(uvrun_stream_open(loop, fd, nullptr, &s) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "fd " + std::to_string(fd) + " is not a socket or a pipe");
  CHECK_FALSE(fd_open(fd));
  int sv[2];
  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.write_high = 100;
  opts.write_low = 200;
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(uvrun_stream_open(loop, sv[0], &opts, &s) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "high (100) must be >= low (200)");
  CHECK_FALSE(fd_open(sv[0]));
  opts.size = 0;
  CHECK(uvrun_stream_open(loop, sv[1], &opts, &s) == UVRUN_E_INVAL);
  CHECK_FALSE(fd_open(sv[1]));
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(uvrun_stream_open(nullptr, sv[0], nullptr, &s) == UVRUN_E_INVAL);
  CHECK_FALSE(fd_open(sv[0]));
  REQUIRE(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_stream_open(loop, sv[1], nullptr, &s) == UVRUN_E_LOOP_CLOSED);
  CHECK_FALSE(fd_open(sv[1]));
  CHECK(s == nullptr);
  uvrun_loop_free(loop);
}

TEST_SUITE_END();
