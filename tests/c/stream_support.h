// Stream test support: connected streams made without uvrun's connect or
// listen (a socketpair, or a TCP pair from plain socket calls), a loop
// driven until a future is done, and a thread reading a descriptor's far end.
#pragma once
#include <doctest/doctest.h>
#include <uvrun.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

namespace st {

// Everything fd gives until its end, read on a thread of its own.
struct Drain {
  std::string got;
  std::thread th;
  explicit Drain(int fd)
      : th([this, fd] {
          char buf[65536];
          ssize_t k;
          while ((k = read(fd, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR))
            if (k > 0) got.append(buf, (size_t)k);
        }) {}
  std::string join() {
    th.join();
    return got;
  }
};

// More than a socketpair's kernel buffers take: most of a write this big
// queues.
inline const size_t kBig = 4 * 1024 * 1024;

// A release function for write_owned that counts its calls.
inline int released = 0;
inline void count_release(void *) { released++; }

// Two streams over a socketpair(AF_UNIX): what one writes the other reads.
inline void pair(uvrun_loop_t *loop, uvrun_stream_t **a, uvrun_stream_t **b,
                 const uvrun_stream_opts_t *opts = nullptr) {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  REQUIRE(uvrun_stream_open(loop, sv[0], opts, a) == 0);
  REQUIRE(uvrun_stream_open(loop, sv[1], opts, b) == 0);
}

// A stream over one end of a socketpair; *peer is the other end's fd,
// non-blocking, the caller's to close.
inline uvrun_stream_t *with_peer(uvrun_loop_t *loop, int *peer, const uvrun_stream_opts_t *opts = nullptr) {
  int sv[2];
  uvrun_stream_t *stream = nullptr;
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  REQUIRE(uvrun_stream_open(loop, sv[0], opts, &stream) == 0);
  *peer = sv[1];
  return stream;
}

// Two TCP streams connected over 127.0.0.1 (socket, listen, connect and
// accept by hand).
inline void tcp_pair(uvrun_loop_t *loop, uvrun_stream_t **a, uvrun_stream_t **b) {
  struct sockaddr_in addr = {};
  socklen_t len = sizeof addr;
  int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(lfd >= 0);
  REQUIRE(cfd >= 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  REQUIRE(listen(lfd, 1) == 0);
  REQUIRE(getsockname(lfd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
  REQUIRE(connect(cfd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  int afd = accept(lfd, nullptr, nullptr);
  REQUIRE(afd >= 0);
  close(lfd);
  REQUIRE(uvrun_stream_open(loop, cfd, nullptr, a) == 0);
  REQUIRE(uvrun_stream_open(loop, afd, nullptr, b) == 0);
}

// Runs the loop until fut (a reference taken over) is done; its code, and
// its value as a count. The result is taken (a read consumes its bytes).
inline int await(uvrun_loop_t *loop, uvrun_future_t *fut, uintptr_t *count = nullptr) {
  void *value = nullptr;
  REQUIRE(fut != nullptr);
  int rc = uvrun_loop_run_until_complete(loop, fut, &value);
  uvrun_future_unref(fut);
  if (count != nullptr) *count = reinterpret_cast<uintptr_t>(value);
  return rc;
}

// Lets the loop run for `seconds`: I/O arrives, callbacks run.
inline void spin(uvrun_loop_t *loop, double seconds) {
  CHECK(await(loop, uvrun_sleep_value(loop, seconds, nullptr)) == 0);
}

// Reads exactly n bytes from stream (which must give them).
inline std::string read_n(uvrun_loop_t *loop, uvrun_stream_t *stream, size_t n) {
  std::string out(n, '\0');
  uintptr_t got = 0;
  REQUIRE(await(loop, uvrun_stream_read_exactly(stream, &out[0], n), &got) == 0);
  CHECK(got == n);
  return out;
}

// Reads whatever comes until the end of the stream.
inline std::string read_to_eof(uvrun_loop_t *loop, uvrun_stream_t *stream) {
  std::string out;
  char buf[65536];
  for (;;) {
    uintptr_t got = 0;
    REQUIRE(await(loop, uvrun_stream_read(stream, buf, sizeof buf), &got) == 0);
    if (got == 0) return out;
    out.append(buf, got);
  }
}

inline uvrun_stream_info_t info(const uvrun_stream_t *stream) {
  uvrun_stream_info_t i;
  i.size = sizeof i;
  REQUIRE(uvrun_stream_info(stream, &i) == 0);
  return i;
}

// The bytes of a test pattern that no shift of itself repeats soon.
inline std::string pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Closes both streams (a queue the other end no longer reads fails), waits
// until they are closed, and drops them.
inline void close_all(uvrun_loop_t *loop, uvrun_stream_t *a, uvrun_stream_t *b) {
  CHECK(uvrun_stream_close(a) == 0);
  CHECK(uvrun_stream_close(b) == 0);
  CHECK(await(loop, uvrun_stream_wait_closed(a)) == 0);
  CHECK(await(loop, uvrun_stream_wait_closed(b)) == 0);
  uvrun_stream_unref(a);
  uvrun_stream_unref(b);
}

}  // namespace st
