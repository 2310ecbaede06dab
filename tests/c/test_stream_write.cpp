// Writing a stream (S6-S8, S11, E): over a socketpair, both ends streams
// unless the test needs a raw peer.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "c/stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("streams");

namespace {

// The resident set of this process, in bytes.
size_t resident() {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  REQUIRE(f != nullptr);
  REQUIRE(fscanf(f, "%ld %ld", &pages, &rss) == 2);
  fclose(f);
  return static_cast<size_t>(rss) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("S6: a write never waits: the socket takes what it can and the rest is queued") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  std::string data = st::pattern(st::kBig);
  CHECK(uvrun_stream_write(a, data.data(), data.size()) == 0);
  uint64_t queued = st::info(a).write_queued;
  CHECK(queued > 0);
  CHECK(queued < st::kBig);
  data[0] ^= 1;  // the queue has its own copy
  std::string got = st::read_n(loop, b, st::kBig);
  data[0] ^= 1;
  CHECK(got == data);
  CHECK(st::info(a).write_queued == 0);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S6: bytes leave in call order, copied or owned, queued or not") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  st::released = 0;
  std::string big = st::pattern(st::kBig);
  static char owned_small[] = "owned";
  char *owned_big = static_cast<char *>(malloc(st::kBig));
  memcpy(owned_big, big.data(), st::kBig);
  REQUIRE(uvrun_stream_write(a, "one", 3) == 0);
  REQUIRE(uvrun_stream_write_owned(a, owned_small, 5, st::count_release) == 0);
  CHECK(st::released == 1);  // the socket took it at once
  REQUIRE(uvrun_stream_write(a, big.data(), big.size()) == 0);
  REQUIRE(uvrun_stream_write_owned(a, owned_big, st::kBig, free) == 0);
  REQUIRE(uvrun_stream_write_owned(a, owned_small, 5, st::count_release) == 0);
  CHECK(st::released == 1);  // queued behind the rest
  REQUIRE(uvrun_stream_write(a, "last", 4) == 0);
  std::string expect = "one" + std::string("owned") + big + big + "owned" + "last";
  CHECK(st::read_n(loop, b, expect.size()) == expect);
  CHECK(st::released == 2);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S6: 64 MiB written at once arrive intact while the other end reads") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  const size_t n = 64u << 20;
  std::string data = st::pattern(n, 7);
  std::string got;
  got.reserve(n);
  REQUIRE(uvrun_stream_write(a, data.data(), n) == 0);
  REQUIRE(uvrun_stream_close(a) == 0);  // after the queue
  std::string buf(1 << 20, '\0');
  for (;;) {
    uintptr_t count = 0;
    REQUIRE(st::await(loop, uvrun_stream_read(b, &buf[0], buf.size()), &count) == 0);
    if (count == 0) break;
    got.append(buf.data(), count);
  }
  CHECK(got.size() == n);
  CHECK(got == data);
  CHECK(st::await(loop, uvrun_stream_wait_closed(a)) == 0);
  uvrun_stream_unref(a);
  uvrun_stream_close(b);
  uvrun_stream_unref(b);
  uvrun_loop_free(loop);
}

TEST_CASE("S7: drains wait until the queue is down to the low-water mark; any number may wait") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  uvrun_future_t *idle = uvrun_stream_drain(a);
  REQUIRE(idle != nullptr);
  CHECK(uvrun_future_done(idle));  // nothing queued: nothing to wait for
  uvrun_future_unref(idle);
  std::string data = st::pattern(st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  uvrun_future_t *d1 = uvrun_stream_drain(a), *d2 = uvrun_stream_drain(a);
  REQUIRE(d1 != nullptr);
  REQUIRE(d2 != nullptr);
  st::spin(loop, 0.02);
  CHECK_FALSE(uvrun_future_done(d1));
  CHECK_FALSE(uvrun_future_done(d2));
  CHECK(st::read_n(loop, b, st::kBig) == data);
  CHECK(st::await(loop, d1) == 0);
  CHECK(st::await(loop, d2) == 0);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S7: a cancelled drain leaves the queued bytes queued") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  std::string data = st::pattern(st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  uint64_t queued = st::info(a).write_queued;
  CHECK(st::await(loop, uvrun_wait_for(uvrun_stream_drain(a), 0.02)) == UVRUN_E_TIMEDOUT);
  CHECK(st::info(a).write_queued == queued);
  CHECK(st::read_n(loop, b, st::kBig) == data);
  CHECK(st::await(loop, uvrun_stream_drain(a)) == 0);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S8: shutdown sends the queue, then the end; the other end sees it and can still write back") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  std::string data = st::pattern(st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  uvrun_future_t *down = uvrun_stream_shutdown(a);
  REQUIRE(down != nullptr);
  CHECK(st::read_to_eof(loop, b) == data);
  CHECK(st::await(loop, down) == 0);
  CHECK(uvrun_stream_write(a, "more", 4) == UVRUN_E_INVALID_STATE);
  CHECK(st::await(loop, uvrun_stream_shutdown(a)) == 0);  // again: already done
  REQUIRE(uvrun_stream_write(b, "reply", 5) == 0);
  CHECK(st::read_n(loop, a, 5) == "reply");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S11: writes to a closed peer fail with EPIPE or ECONNRESET, remembered by writes, drains and shutdown") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  SUBCASE("over a socketpair") { st::pair(loop, &a, &b); }
  SUBCASE("over TCP, the peer resetting") { st::tcp_pair(loop, &a, &b); }
  // More than the kernel holds for an unread connection (a 4 MiB send buffer
  // at most here, and a receive buffer that grows only as its owner reads):
  // some of it is still queued when the peer goes, and fails in flight.
  std::string data = st::pattern(4 * st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  REQUIRE(uvrun_stream_abort(b) == 0);
  uvrun_future_t *drain = uvrun_future_ref(uvrun_stream_drain(a));
  int rc = st::await(loop, drain);
  CHECK((rc == -EPIPE || rc == -ECONNRESET));
  CHECK(std::string(uvrun_error_message(uvrun_future_error(drain))).find("write failed: ") == 0);
  uvrun_future_unref(drain);
  CHECK(uvrun_stream_write(a, "x", 1) == rc);  // the process is alive: SIGPIPE is ignored
  CHECK(st::await(loop, uvrun_stream_drain(a)) == rc);
  CHECK(st::await(loop, uvrun_stream_shutdown(a)) == rc);
  CHECK(st::info(a).write_queued == 0);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S11: a peer that stops acknowledging fails a drain or a read with ETIMEDOUT, worded as the system's") {
  // -ETIMEDOUT is UVRUN_E_TIMEDOUT's value too: the message must be the
  // system error's, not "timed out (UVRUN_E_TIMEDOUT)".
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::tcp_pair(loop, &a, &b);
  bool reading = false;
  SUBCASE("a drain waiting") {}
  SUBCASE("a read waiting") { reading = true; }
  // b reads its read limit and then nothing: its window closes, and a's
  // zero-window probes give up after the user timeout.
  int small = 4096, user_timeout_ms = 300;
  REQUIRE(setsockopt(st::info(a).fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  REQUIRE(setsockopt(st::info(b).fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  REQUIRE(setsockopt(st::info(a).fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms) == 0);
  std::string data = st::pattern(st::kBig);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  char buf[16];
  uvrun_future_t *fut = reading ? uvrun_stream_read(a, buf, sizeof buf) : uvrun_stream_drain(a);
  CHECK(st::await(loop, uvrun_wait_for(uvrun_future_ref(fut), 10)) == -ETIMEDOUT);
  CHECK(std::string(uvrun_error_message(uvrun_future_error(fut))) ==
        std::string(reading ? "read" : "write") + " failed: connection timed out (ETIMEDOUT)");
  uvrun_future_unref(fut);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("E: a zero-length write is a no-op; a NULL buffer with bytes is refused, an owned one st::released") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  st::released = 0;
  CHECK(uvrun_stream_write(a, nullptr, 0) == 0);
  CHECK(uvrun_stream_write(a, "x", 0) == 0);
  CHECK(uvrun_stream_write(a, nullptr, 5) == UVRUN_E_INVAL);
  CHECK(t::take_error().message == "data must not be NULL");
  CHECK(uvrun_stream_write_owned(a, nullptr, 5, st::count_release) == UVRUN_E_INVAL);
  CHECK(st::released == 1);
  CHECK(uvrun_stream_write(nullptr, "x", 1) == UVRUN_E_INVAL);
  CHECK(uvrun_stream_drain(nullptr) == nullptr);
  CHECK(uvrun_stream_shutdown(nullptr) == nullptr);
  CHECK(st::info(a).write_queued == 0);
  REQUIRE(uvrun_stream_write(a, "ok", 2) == 0);
  CHECK(st::read_n(loop, b, 2) == "ok");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("E: a 1 GiB write completes, and its queue's memory goes back when it is sent") {
  uvrun_loop_t *loop = t::new_loop();
  int peer = -1;
  uvrun_stream_t *s = st::with_peer(loop, &peer);
  const size_t n = size_t{1} << 30;
  // Untouched anonymous memory reads as zeros and costs no resident pages.
  void *data = mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(data != MAP_FAILED);
  size_t before = resident();
  std::atomic<size_t> got{0};
  std::atomic<bool> nonzero{false};
  std::thread reader([&] {
    std::string buf(1 << 20, '\0'), zeros(1 << 20, '\0');
    int fl = fcntl(peer, F_GETFL);
    fcntl(peer, F_SETFL, fl & ~O_NONBLOCK);
    ssize_t r;
    while ((r = read(peer, &buf[0], buf.size())) > 0) {
      if (memcmp(buf.data(), zeros.data(), static_cast<size_t>(r)) != 0) nonzero = true;
      got += static_cast<size_t>(r);
    }
  });
  REQUIRE(uvrun_stream_write(s, data, n) == 0);
  CHECK(st::info(s).write_queued > 0);
  munmap(data, n);  // the queue has its own copy
  uvrun_stream_close(s);
  CHECK(st::await(loop, uvrun_stream_wait_closed(s)) == 0);
  reader.join();
  CHECK(got == n);
  CHECK_FALSE(nonzero);
  CHECK(resident() < before + (64u << 20));
  uvrun_stream_unref(s);
  close(peer);
  uvrun_loop_free(loop);
}

TEST_SUITE_END();
