// stdio as streams (U2): a TTY, a pipe, a socket and a regular file, each
// read line by line and written with backpressure; fds 0-2 left as found;
// bad fds (E) and nothing left open (L2).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <uvrun.h>

#include <string>
#include <thread>

#include "socket_support.h"
#include "stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("stdio");

namespace {

// Bytes written with a drain after every 64 KiB: the writer waits on the
// reader, never queues the whole.
const size_t kTotal = 1024 * 1024;

uvrun_stream_t *open_stdio(uvrun_loop_t *loop, int fd) {
  uvrun_stream_t *s = nullptr;
  INFO(uvrun_errmsg());
  REQUIRE(uvrun_stdio_open(loop, fd, &s) == 0);
  return s;
}

std::string read_line(uvrun_loop_t *loop, uvrun_stream_t *s) {
  char buf[256];
  uintptr_t got = 0;
  REQUIRE(st::await(loop, uvrun_stream_read_until(s, "\n", 1, buf, sizeof buf), &got) == 0);
  return std::string(buf, got);
}

// "alpha\nbeta\n" then the end, read with read_until.
void check_lines(uvrun_loop_t *loop, uvrun_stream_t *s) {
  CHECK(read_line(loop, s) == "alpha\n");
  CHECK(read_line(loop, s) == "beta\n");
  char buf[16];
  uintptr_t got = 1;
  CHECK(st::await(loop, uvrun_stream_read(s, buf, sizeof buf), &got) == 0);
  CHECK(got == 0);
}

// Writes `bytes` in 64 KiB pieces, draining after each, then closes.
void write_drained(uvrun_loop_t *loop, uvrun_stream_t *s, const std::string &bytes) {
  size_t peak = 0;
  for (size_t at = 0; at < bytes.size(); at += 65536) {
    REQUIRE(uvrun_stream_write(s, bytes.data() + at, std::min<size_t>(65536, bytes.size() - at)) == 0);
    peak = std::max<size_t>(peak, st::info(s).write_queued);
    REQUIRE(st::await(loop, uvrun_stream_drain(s)) == 0);
  }
  CHECK(peak <= 64 * 1024 + 65536);  // never much past the high-water mark
  CHECK(uvrun_stream_close(s) == 0);
  CHECK(st::await(loop, uvrun_stream_wait_closed(s)) == 0);
  uvrun_stream_unref(s);
}

std::string temp_file(const std::string &text) {
  char path[] = "/tmp/uvrun-stdio-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == (ssize_t)text.size());
  close(fd);
  return path;
}

void close_stream(uvrun_loop_t *loop, uvrun_stream_t *s) {
  CHECK(uvrun_stream_close(s) == 0);
  CHECK(st::await(loop, uvrun_stream_wait_closed(s)) == 0);
  uvrun_stream_unref(s);
}

void end_loop(uvrun_loop_t *loop) {
  CHECK(uvrun_loop_free(loop) == 0);
  uvrun_release_memory();
}

// The fds open when no loop is: libuv's process-wide ones made first.
int fds_at_rest() {
  end_loop(t::new_loop());
  return sk::count_fds();
}

}  // namespace

TEST_CASE("U2: a pipe reads by lines and writes with backpressure; its fds close with the streams") {
  int before = fds_at_rest();
  uvrun_loop_t *loop = t::new_loop();
  int in[2], out[2];
  REQUIRE(pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  uvrun_stream_t *r = open_stdio(loop, in[0]);
  REQUIRE(write(in[1], "alpha\nbeta\n", 11) == 11);
  close(in[1]);
  check_lines(loop, r);
  close_stream(loop, r);
  st::Drain reader(out[0]);
  std::string bytes = st::pattern(kTotal);
  write_drained(loop, open_stdio(loop, out[1]), bytes);
  CHECK(reader.join() == bytes);
  close(out[0]);
  end_loop(loop);
  CHECK(sk::count_fds() == before);
}

TEST_CASE("U2: a socketpair reads by lines and writes with backpressure") {
  int before = fds_at_rest();
  uvrun_loop_t *loop = t::new_loop();
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  uvrun_stream_t *s = open_stdio(loop, sv[0]);
  REQUIRE(write(sv[1], "alpha\nbeta\n", 11) == 11);
  REQUIRE(shutdown(sv[1], SHUT_WR) == 0);
  check_lines(loop, s);
  st::Drain reader(sv[1]);
  std::string bytes = st::pattern(kTotal, 2);
  write_drained(loop, s, bytes);
  CHECK(reader.join() == bytes);
  close(sv[1]);
  end_loop(loop);
  CHECK(sk::count_fds() == before);
}

TEST_CASE("U2: a regular file reads from its position to the end, and is written in order") {
  int before = fds_at_rest();
  uvrun_loop_t *loop = t::new_loop();
  std::string path = temp_file("skip\nalpha\nbeta\n");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(lseek(fd, 5, SEEK_SET) == 5);  // a shell's `(read skip; prog) < file`
  uvrun_stream_t *r = open_stdio(loop, fd);
  CHECK(st::info(r).fd == fd);
  check_lines(loop, r);
  close_stream(loop, r);

  int wfd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  REQUIRE(wfd >= 0);
  std::string bytes = st::pattern(kTotal, 3);
  write_drained(loop, open_stdio(loop, wfd), bytes);
  end_loop(loop);
  CHECK(sk::count_fds() == before);
  std::string back;
  char buf[65536];
  int rfd = open(path.c_str(), O_RDONLY);
  for (ssize_t k; (k = read(rfd, buf, sizeof buf)) > 0;) back.append(buf, (size_t)k);
  close(rfd);
  unlink(path.c_str());
  CHECK(back == bytes);
}

TEST_CASE("U2: a file's stream queues its writes and drain waits for them") {
  uvrun_loop_t *loop = t::new_loop();
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  uvrun_stream_t *s = open_stdio(loop, fd);
  std::string big(256 * 1024, 'x');
  REQUIRE(uvrun_stream_write(s, big.data(), big.size()) == 0);
  CHECK(st::info(s).write_queued == big.size());  // never written on the loop's thread
  CHECK(st::await(loop, uvrun_stream_drain(s)) == 0);
  CHECK(st::info(s).write_queued <= 16 * 1024);
  CHECK(st::await(loop, uvrun_stream_shutdown(s)) == 0);
  close_stream(loop, s);
  end_loop(loop);
}

TEST_CASE("U2: a TTY reads by lines, writes with backpressure, and leaves raw mode at close") {
  int before = fds_at_rest();
  uvrun_loop_t *loop = t::new_loop();
  int master, slave;
  struct termios tio;
  REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  REQUIRE(tcgetattr(slave, &tio) == 0);
  tio.c_lflag &= ~ECHO;
  tio.c_oflag &= ~OPOST;  // bytes through as written
  REQUIRE(tcsetattr(slave, TCSANOW, &tio) == 0);
  int probe = dup(slave);  // the settings outlive the stream's fd
  uvrun_stream_t *s = open_stdio(loop, slave);
  REQUIRE(write(master, "alpha\nbeta\n", 11) == 11);
  CHECK(read_line(loop, s) == "alpha\n");
  CHECK(read_line(loop, s) == "beta\n");

  REQUIRE(uvrun_stdio_set_raw(s, 1) == 0);
  REQUIRE(tcgetattr(probe, &tio) == 0);
  CHECK((tio.c_lflag & ICANON) == 0);
  st::Drain reader(master);
  std::string bytes(kTotal, 'y');
  write_drained(loop, s, bytes);
  REQUIRE(tcgetattr(probe, &tio) == 0);
  CHECK((tio.c_lflag & ICANON) != 0);  // back to how it was found
  close(probe);                        // the last slave: the master reads its end
  CHECK(reader.join() == bytes);
  close(master);
  end_loop(loop);
  CHECK(sk::count_fds() == before);
}

TEST_CASE("U2: stdin and stdout are never closed, and are left in their blocking mode") {
  t::check_child(t::in_child([] {
    int p[2];
    CHILD_EXPECT(pipe(p) == 0, 2);
    CHILD_EXPECT(dup2(p[0], 0) == 0, 3);
    close(p[0]);
    CHILD_EXPECT(write(p[1], "alpha\nbeta\n", 11) == 11, 4);
    close(p[1]);
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 5);
    uvrun_stream_t *in = nullptr;
    CHILD_EXPECT(uvrun_stdio_open(loop, 0, &in) == 0, 6);
    CHILD_EXPECT((fcntl(0, F_GETFL) & O_NONBLOCK) != 0, 7);  // libuv's, while the stream is open
    char buf[64];
    void *got = nullptr;
    uvrun_future_t *fut = uvrun_stream_read_until(in, "\n", 1, buf, sizeof buf);
    CHILD_EXPECT(uvrun_loop_run_until_complete(loop, fut, &got) == 0 && (uintptr_t)got == 6, 8);
    uvrun_future_unref(fut);
    uvrun_stream_close(in);
    fut = uvrun_stream_wait_closed(in);
    CHILD_EXPECT(uvrun_loop_run_until_complete(loop, fut, nullptr) == 0, 9);
    uvrun_future_unref(fut);
    uvrun_stream_unref(in);
    uvrun_loop_free(loop);
    int flags = fcntl(0, F_GETFL);
    CHILD_EXPECT(flags >= 0, 10);                     // still open
    CHILD_EXPECT((flags & O_NONBLOCK) == 0, 11);      // blocking again
    CHILD_EXPECT(read(0, buf, sizeof buf) >= 0, 12);  // readable, and blocking: no EAGAIN
    return 0;
  }));
}

TEST_CASE("U2: a TTY as stdin is left open, blocking, inherited by exec and in its mode") {
  t::check_child(t::in_child([] {
    int master, slave;
    CHILD_EXPECT(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0, 2);
    CHILD_EXPECT(dup2(slave, 0) == 0, 3);
    close(slave);
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 4);
    uvrun_stream_t *in = nullptr;
    CHILD_EXPECT(uvrun_stdio_open(loop, 0, &in) == 0, 5);
    CHILD_EXPECT(uvrun_stdio_set_raw(in, 1) == 0, 6);
    CHILD_EXPECT((fcntl(0, F_GETFD) & FD_CLOEXEC) != 0, 7);  // libuv reopened the TTY
    uvrun_stream_close(in);
    uvrun_future_t *fut = uvrun_stream_wait_closed(in);
    CHILD_EXPECT(uvrun_loop_run_until_complete(loop, fut, nullptr) == 0, 8);
    uvrun_future_unref(fut);
    uvrun_stream_unref(in);
    uvrun_loop_free(loop);
    struct termios tio;
    CHILD_EXPECT(tcgetattr(0, &tio) == 0 && (tio.c_lflag & ICANON) != 0, 9);
    CHILD_EXPECT((fcntl(0, F_GETFL) & O_NONBLOCK) == 0, 10);
    CHILD_EXPECT((fcntl(0, F_GETFD) & FD_CLOEXEC) == 0, 11);
    close(master);
    return 0;
  }));
}

TEST_CASE("U2: a bad fd, a directory and a closed loop each give a clear error, leaking nothing") {
  int before = fds_at_rest();
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *s = nullptr;
  CHECK(uvrun_stdio_open(loop, -1, &s) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "fd must not be negative, not -1");
  int fd = open("/dev/null", O_RDONLY);
  close(fd);
  CHECK(uvrun_stdio_open(loop, fd, &s) == UV_EBADF);
  CHECK(std::string(uvrun_errmsg()) == "fd " + std::to_string(fd) + " is not open");
  CHECK(s == nullptr);
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
  CHECK(uvrun_stdio_open(loop, dir, &s) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) ==
        "fd " + std::to_string(dir) + " is not a TTY, a pipe, a stream socket or a file");
  CHECK(fcntl(dir, F_GETFD) < 0);  // the stream's, so closed
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  CHECK(uvrun_stdio_open(loop, p[0], nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_stdio_open(nullptr, p[1], &s) == UVRUN_E_INVAL);
  CHECK(uvrun_loop_close(loop) == 0);
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  CHECK(uvrun_stdio_open(loop, p[0], &s) == UVRUN_E_LOOP_CLOSED);
  close(p[1]);
  int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(uvrun_stdio_open(loop, file, &s) == UVRUN_E_LOOP_CLOSED);
  uvrun_loop_free(loop);
  uvrun_release_memory();
  CHECK(sk::count_fds() == before);
}

TEST_CASE("U2: a fd that has an open stream on the loop cannot get a second; the first goes on") {
  uvrun_loop_t *loop = t::new_loop();
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  uvrun_stream_t *first = open_stdio(loop, p[0]);
  uvrun_stream_t *second = nullptr;
  CHECK(uvrun_stdio_open(loop, p[0], &second) == UVRUN_E_INVALID_STATE);
  CHECK(std::string(uvrun_errmsg()) == "fd " + std::to_string(p[0]) + " already has an open stream on this loop");
  CHECK(second == nullptr);
  REQUIRE(write(p[1], "alpha\nbeta\n", 11) == 11);
  close(p[1]);
  check_lines(loop, first);
  close_stream(loop, first);
  end_loop(loop);
}

TEST_CASE("U2: raw mode is for a TTY only; a closed stdio stream fails as any stream") {
  uvrun_loop_t *loop = t::new_loop();
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  uvrun_stream_t *s = open_stdio(loop, p[0]);
  CHECK(uvrun_stdio_set_raw(s, 1) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()) == "the stream is not a TTY");
  CHECK(uvrun_stdio_set_raw(nullptr, 1) == UVRUN_E_INVAL);
  close_stream(loop, s);
  close(p[1]);
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  s = open_stdio(loop, fd);
  CHECK(uvrun_stream_close(s) == 0);
  char buf[8];
  CHECK(uvrun_stream_read(s, buf, sizeof buf) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_stream_write(s, "x", 1) == UVRUN_E_STREAM_CLOSED);
  CHECK(st::await(loop, uvrun_stream_wait_closed(s)) == 0);
  uvrun_stream_unref(s);
  end_loop(loop);
}
