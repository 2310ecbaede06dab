// stdio as C++ streams (U2): each kind read by lines with read_until and
// written with co_await write (queue, then drain), and a bad fd's error.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <uvrun/uvrun.hpp>

#include <string>
#include <thread>

#include "../support.h"
#include "c/stream_support.h"

TEST_SUITE_BEGIN("cpp");

namespace {

// Reads lines from `in` until its end and writes each to `out` numbered,
// as a filter would; returns the lines read.
uvrun::Task<int> number_lines(uvrun::Stream in, uvrun::Stream out) {
  int n = 0;
  for (;;) {
    std::string line;
    try {
      line = co_await in.read_until("\n");
    } catch (const uvrun::IncompleteReadError &e) {
      line = e.partial;  // a last line without its newline
      if (line.empty()) break;
    }
    co_await out.write("[" + std::to_string(++n) + "] " + line);
  }
  out.close();
  co_await out.wait_closed();
  in.close();
  co_return n;
}

// Lines "line 1" .. "line n", the last without its newline.
std::string lines(int n) {
  std::string s;
  for (int i = 1; i <= n; i++) s += "line " + std::to_string(i) + (i < n ? "\n" : "");
  return s;
}

std::string numbered(int n) {
  std::string s;
  for (int i = 1; i <= n; i++) s += "[" + std::to_string(i) + "] line " + std::to_string(i) + (i < n ? "\n" : "");
  return s;
}

// Runs number_lines from in_fd to a pipe, with `feed` writing the input.
std::string filter(int in_fd, int lines_expected, const std::function<void()> &feed) {
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  st::Drain reader(out[0]);
  std::thread feeder(feed);
  int n = uvrun::run([](int in, int o) -> uvrun::Task<int> {
    co_return co_await number_lines(uvrun::open_stdio(in), uvrun::open_stdio(o));
  }(in_fd, out[1]));
  feeder.join();
  CHECK(n == lines_expected);
  std::string got = reader.join();
  close(out[0]);
  return got;
}

}  // namespace

TEST_CASE("U2: C++ open_stdio filters lines from a pipe, a socket and a file into a pipe") {
  const int n = 20000;  // 300 KB: the output pipe fills, so writes wait on drain
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  CHECK(filter(p[0], n, [&] {
          std::string text = lines(n);
          CHECK(write(p[1], text.data(), text.size()) == (ssize_t)text.size());
          close(p[1]);
        }) == numbered(n));

  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK(filter(sv[0], n, [&] {
          std::string text = lines(n);
          CHECK(write(sv[1], text.data(), text.size()) == (ssize_t)text.size());
          close(sv[1]);
        }) == numbered(n));

  char path[] = "/tmp/uvrun-stdio-XXXXXX";
  int fd = mkstemp(path);
  std::string text = lines(n);
  REQUIRE(write(fd, text.data(), text.size()) == (ssize_t)text.size());
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  unlink(path);
  CHECK(filter(fd, n, [] {}) == numbered(n));
}

TEST_CASE("U2: C++ open_stdio reads a TTY by lines; raw mode is undone when the stream closes") {
  int master, slave;
  REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  int probe = dup(slave);
  auto got = uvrun::run([](int fd, int m) -> uvrun::Task<std::string> {
    uvrun::Stream tty = uvrun::open_stdio(fd);
    CHECK(write(m, "typed\n", 6) == 6);
    std::string line = co_await tty.read_until("\n");
    tty.set_raw(true);
    co_await tty.write("shown");
    tty.close();
    co_await tty.wait_closed();
    co_return line;
  }(slave, master));
  CHECK(got == "typed\n");
  struct termios tio;
  REQUIRE(tcgetattr(probe, &tio) == 0);
  CHECK((tio.c_lflag & ICANON) != 0);
  close(probe);
  close(master);
}

TEST_CASE("U2: C++ open_stdio of a closed fd or -1 throws with the reason; set_raw on a pipe too") {
  auto what = uvrun::run([]() -> uvrun::Task<std::string> {
    std::string all;
    for (int fd : {-1, 1000}) {
      try {
        uvrun::open_stdio(fd);
      } catch (const uvrun::Error &e) {
        all += std::to_string(e.code()) + " " + e.what() + "|";
      }
    }
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    uvrun::Stream in = uvrun::open_stdio(p[0]);
    try {
      in.set_raw(true);
    } catch (const uvrun::Error &e) {
      all += e.what();
    }
    close(p[1]);
    in.close();
    co_return all;
  }());
  CHECK(what == std::to_string(UVRUN_E_INVAL) + " fd must not be negative, not -1|" + std::to_string(UV_EBADF) +
                    " fd 1000 is not open|the stream is not a TTY");
}

TEST_CASE("U2: uvrun::stdio::in() reads a redirected file as a program's stdin, and leaves fd 0 open") {
  t::check_child(t::in_child([] {
    char path[] = "/tmp/uvrun-stdin-XXXXXX";
    int fd = mkstemp(path);
    CHILD_EXPECT(write(fd, "one\ntwo\n", 8) == 8, 2);
    CHILD_EXPECT(lseek(fd, 0, SEEK_SET) == 0 && dup2(fd, 0) == 0, 3);
    close(fd);
    unlink(path);
    std::string got = uvrun::run([]() -> uvrun::Task<std::string> {
      uvrun::Stream in = uvrun::stdio::in();
      std::string a = co_await in.read_until("\n");
      std::string b = co_await in.read_until("\n");
      std::string end = co_await in.read();
      in.close();
      co_await in.wait_closed();
      co_return a + b + "eof=" + end;
    }());
    CHILD_EXPECT(got == "one\ntwo\neof=", 4);
    CHILD_EXPECT(fcntl(0, F_GETFD) >= 0, 5);
    return 0;
  }));
}
