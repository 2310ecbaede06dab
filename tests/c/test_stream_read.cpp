// Reading a stream (S1-S5, S11, E): over a socketpair, both ends streams
// unless the test needs a raw peer.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "c/stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("streams");

namespace {

// A future kept past its completion, for its error object.
struct Kept {
  uvrun_future_t *fut;
  int rc = 1;
  Kept(uvrun_loop_t *loop, uvrun_future_t *f) : fut(f) {
    REQUIRE(fut != nullptr);
    rc = uvrun_loop_run_until_complete(loop, fut, nullptr);
  }
  ~Kept() { uvrun_future_unref(fut); }
  uvrun_error_t *error() const { return uvrun_future_error(fut); }
  uintptr_t payload() const { return reinterpret_cast<uintptr_t>(uvrun_error_payload(error())); }
};

void cancel_task(uvrun_future_t *, void *task) { uvrun_task_cancel(static_cast<uvrun_task_t *>(task), nullptr); }

}  // namespace

TEST_CASE("S1: a read gives at most n of the bytes there, as soon as any arrived") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[64] = {};
  uintptr_t got = 0;
  uvrun_future_t *fut = uvrun_stream_read(b, buf, sizeof buf);
  REQUIRE(fut != nullptr);
  st::spin(loop, 0.02);
  CHECK_FALSE(uvrun_future_done(fut));  // nothing came yet
  REQUIRE(uvrun_stream_write(a, "hello world", 11) == 0);
  CHECK(st::await(loop, fut, &got) == 0);
  CHECK(std::string(buf, got) == "hello world");

  REQUIRE(uvrun_stream_write(a, "abcdef", 6) == 0);
  CHECK(st::await(loop, uvrun_stream_read(b, buf, 4), &got) == 0);
  CHECK(std::string(buf, got) == "abcd");
  CHECK(st::await(loop, uvrun_stream_read(b, buf, sizeof buf), &got) == 0);
  CHECK(std::string(buf, got) == "ef");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S1: at the end of the stream every read gives 0 at once") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[8];
  uintptr_t got = 9;
  REQUIRE(uvrun_stream_write(a, "x", 1) == 0);
  REQUIRE(uvrun_stream_close(a) == 0);
  CHECK(st::await(loop, uvrun_stream_read(b, buf, sizeof buf), &got) == 0);
  CHECK(got == 1);
  for (int i = 0; i < 3; i++) {
    CHECK(st::await(loop, uvrun_stream_read(b, buf, sizeof buf), &got) == 0);
    CHECK(got == 0);
  }
  CHECK(st::info(b).at_eof == 1);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S2: read_exactly waits for n bytes and leaves the rest") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[8] = {};
  uintptr_t got = 0;
  REQUIRE(uvrun_stream_write(a, "abc", 3) == 0);
  uvrun_future_t *fut = uvrun_stream_read_exactly(b, buf, 6);
  REQUIRE(fut != nullptr);
  st::spin(loop, 0.02);
  CHECK_FALSE(uvrun_future_done(fut));
  REQUIRE(uvrun_stream_write(a, "defgh", 5) == 0);
  CHECK(st::await(loop, fut, &got) == 0);
  CHECK(got == 6);
  CHECK(std::string(buf, 6) == "abcdef");
  CHECK(st::read_n(loop, b, 2) == "gh");
  // E: n = 0 is done at once with nothing, as asyncio's readexactly(0).
  CHECK(st::await(loop, uvrun_stream_read_exactly(b, nullptr, 0), &got) == 0);
  CHECK(got == 0);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S2: read_exactly at the end fails with INCOMPLETE_READ carrying the bytes that came") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[16] = {};
  REQUIRE(uvrun_stream_write(a, "abc", 3) == 0);
  REQUIRE(uvrun_stream_close(a) == 0);
  {
    Kept read(loop, uvrun_stream_read_exactly(b, buf, 10));
    CHECK(read.rc == UVRUN_E_INCOMPLETE_READ);
    CHECK(std::string(uvrun_error_message(read.error())) == "3 bytes read on a total of 10 expected bytes");
    CHECK(read.payload() == 3);
    CHECK(std::string(buf, 3) == "abc");
  }
  uintptr_t got = 9;
  CHECK(st::await(loop, uvrun_stream_read(b, buf, sizeof buf), &got) == 0);
  CHECK(got == 0);  // the partial bytes were the failed read's
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S2: read_until gives the bytes up to and including the delimiter, also split across arrivals") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[64];
  uintptr_t got = 0;
  const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(uvrun_stream_write(a, req, strlen(req)) == 0);
  for (const char *line : {"GET / HTTP/1.1\r\n", "Host: x\r\n", "\r\n"}) {
    CHECK(st::await(loop, uvrun_stream_read_until(b, "\r\n", 2, buf, sizeof buf), &got) == 0);
    CHECK(std::string(buf, got) == line);
  }
  uvrun_future_t *fut = uvrun_stream_read_until(b, "\r\n", 2, buf, sizeof buf);
  REQUIRE(uvrun_stream_write(a, "ab\r", 3) == 0);
  st::spin(loop, 0.02);
  CHECK_FALSE(uvrun_future_done(fut));
  REQUIRE(uvrun_stream_write(a, "\ncd", 3) == 0);
  CHECK(st::await(loop, fut, &got) == 0);
  CHECK(std::string(buf, got) == "ab\r\n");
  CHECK(st::read_n(loop, b, 2) == "cd");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S2: read_until fails with LIMIT_OVERRUN past its cap, and the bytes stay in the stream") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[16];
  REQUIRE(uvrun_stream_write(a, "0123456789", 10) == 0);
  {
    Kept read(loop, uvrun_stream_read_until(b, "\n", 1, buf, 8));
    CHECK(read.rc == UVRUN_E_LIMIT_OVERRUN);
    CHECK(std::string(uvrun_error_message(read.error())) == "Separator is not found, and chunk exceed the limit");
  }
  REQUIRE(uvrun_stream_write(a, "\n", 1) == 0);
  st::spin(loop, 0.02);  // the newline is in the stream too
  {                      // found, but past the cap
    Kept read(loop, uvrun_stream_read_until(b, "\n", 1, buf, 5));
    CHECK(read.rc == UVRUN_E_LIMIT_OVERRUN);
    CHECK(std::string(uvrun_error_message(read.error())) == "Separator is found, but chunk is longer than limit");
  }
  CHECK(st::read_n(loop, b, 11) == "0123456789\n");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S2: read_until at the end fails with INCOMPLETE_READ carrying the partial line") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[16] = {};
  REQUIRE(uvrun_stream_write(a, "no newline", 10) == 0);
  REQUIRE(uvrun_stream_close(a) == 0);
  {
    Kept read(loop, uvrun_stream_read_until(b, "\n", 1, buf, sizeof buf));
    CHECK(read.rc == UVRUN_E_INCOMPLETE_READ);
    CHECK(read.payload() == 10);
    CHECK(std::string(buf, 10) == "no newline");
  }
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S3: a read cancelled or timed out before its bytes came consumed nothing") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[16];
  uvrun_future_t *fut = uvrun_stream_read(b, buf, sizeof buf);
  REQUIRE(fut != nullptr);
  st::spin(loop, 0.01);
  CHECK(uvrun_future_cancel(fut, nullptr) == 1);
  uvrun_future_unref(fut);
  CHECK(st::await(loop, uvrun_wait_for(uvrun_stream_read_exactly(b, buf, 4), 0.02)) == UVRUN_E_TIMEDOUT);
  REQUIRE(uvrun_stream_write(a, "data", 4) == 0);
  CHECK(st::read_n(loop, b, 4) == "data");

  // A read_exactly that had part of its bytes when it timed out.
  REQUIRE(uvrun_stream_write(a, "abc", 3) == 0);
  CHECK(st::await(loop, uvrun_wait_for(uvrun_stream_read_exactly(b, buf, 5), 0.05)) == UVRUN_E_TIMEDOUT);
  REQUIRE(uvrun_stream_write(a, "de", 2) == 0);
  CHECK(st::read_n(loop, b, 5) == "abcde");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S3: a read cancelled in the iteration its bytes arrived consumed nothing") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[16];
  int resumed = 1;
  bool under_wait_for = false;
  SUBCASE("awaited itself") {}
  SUBCASE("under wait_for") { under_wait_for = true; }
  uvrun_task_t *reader = t::spawn(loop, [&](uvrun_task_t *task, int step) -> int {
    if (step > 0) return resumed = uvrun_task_resume(task, nullptr);
    uvrun_future_t *read = uvrun_stream_read(b, buf, sizeof buf);
    uvrun_future_t *awaited = under_wait_for ? uvrun_wait_for(uvrun_future_ref(read), 10) : uvrun_future_ref(read);
    // Runs before the task's wake-up (and after wait_for's own callback):
    // the read is done, its bytes in buf, and the task is cancelled before
    // it resumes.
    REQUIRE(uvrun_future_add_done_callback(read, cancel_task, task) == 0);
    uvrun_future_unref(read);
    return uvrun_task_await(task, awaited);
  });
  REQUIRE(reader != nullptr);
  st::spin(loop, 0.01);
  REQUIRE(uvrun_stream_write(a, "hello", 5) == 0);
  CHECK(st::await(loop, uvrun_future_ref(uvrun_task_future(reader))) == UVRUN_E_CANCELLED);
  CHECK(resumed == UVRUN_E_CANCELLED);
  CHECK(std::string(buf, 5) == "hello");  // copied, not consumed
  uvrun_task_unref(reader);
  CHECK(st::info(b).read_buffered == 5);
  CHECK(st::read_n(loop, b, 5) == "hello");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S3: a done read dropped untaken consumed nothing; a taken one consumed its bytes once") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[16];
  REQUIRE(uvrun_stream_write(a, "abcdef", 6) == 0);
  uvrun_future_t *fut = uvrun_stream_read(b, buf, 3);
  st::spin(loop, 0.02);
  REQUIRE(uvrun_future_done(fut));
  uvrun_future_unref(fut);  // never taken
  // A done read whose result is taken twice.
  fut = uvrun_future_ref(uvrun_stream_read(b, buf, 3));
  void *value = nullptr;
  CHECK(st::await(loop, fut) == 0);
  CHECK(uvrun_future_result(fut, &value) == 0);
  CHECK(reinterpret_cast<uintptr_t>(value) == 3);
  uvrun_future_unref(fut);
  CHECK(std::string(buf, 3) == "abc");
  CHECK(st::read_n(loop, b, 3) == "def");
  // A done read never taken, followed by another read: that one gets the
  // bytes, and taking the first late consumes nothing.
  REQUIRE(uvrun_stream_write(a, "xyz", 3) == 0);
  fut = uvrun_stream_read(b, buf, 1);
  st::spin(loop, 0.02);
  REQUIRE(uvrun_future_done(fut));
  CHECK(st::read_n(loop, b, 3) == "xyz");
  CHECK(uvrun_future_result(fut, nullptr) == 0);
  uvrun_future_unref(fut);
  CHECK(st::info(b).read_buffered == 0);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S4: a second read while one waits fails at once with READ_BUSY and leaves the first alone") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char one[8], two[8];
  uvrun_future_t *first = uvrun_stream_read(b, one, sizeof one);
  REQUIRE(first != nullptr);
  CHECK(uvrun_stream_read(b, two, sizeof two) == nullptr);
  t::TakenError e = t::take_error();
  CHECK(e.code == UVRUN_E_READ_BUSY);
  CHECK(e.message == "read() called while another coroutine is already waiting for incoming data");
  CHECK(uvrun_stream_read_until(b, "\n", 1, two, sizeof two) == nullptr);
  CHECK(uvrun_stream_read_exactly(b, two, 2) == nullptr);
  CHECK(uvrun_future_done(first) == 0);
  REQUIRE(uvrun_stream_write(a, "ok", 2) == 0);
  uintptr_t got = 0;
  CHECK(st::await(loop, first, &got) == 0);
  CHECK(std::string(one, got) == "ok");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S5: a stream buffers at most its read limit; the rest of a fast sender's bytes stay in the kernel") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.read_limit = 16 * 1024;
  int peer = -1;
  uvrun_stream_t *s = st::with_peer(loop, &peer, &opts);
  CHECK(st::info(s).read_buffered == 0);
  // The peer writes until the kernel takes no more.
  std::string sent;
  std::string chunk = st::pattern(4096);
  while (write(peer, chunk.data(), chunk.size()) > 0) sent += chunk;
  REQUIRE(sent.size() > 4 * opts.read_limit);
  std::string got = st::read_n(loop, s, 1);
  st::spin(loop, 0.05);  // time to read on, if it did
  uvrun_stream_info_t i = st::info(s);
  CHECK(i.read_buffered <= opts.read_limit);
  CHECK(i.read_buffered > 0);
  int in_kernel = 0;
  REQUIRE(ioctl(i.fd, FIONREAD, &in_kernel) == 0);
  CHECK(in_kernel > 0);
  // Every byte still arrives, in order, and the drained stream holds none.
  close(peer);
  got += st::read_to_eof(loop, s);
  CHECK(got == sent);
  CHECK(st::info(s).read_buffered == 0);
  uvrun_stream_close(s);
  uvrun_stream_unref(s);
  uvrun_loop_free(loop);
}

TEST_CASE("S5: a read_exactly of more than the read limit still completes") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.read_limit = 1024;
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b, &opts);
  std::string data = st::pattern(100000);
  REQUIRE(uvrun_stream_write(a, data.data(), data.size()) == 0);
  CHECK(st::read_n(loop, b, data.size()) == data);
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_CASE("S11: a peer's reset fails the pending read with ECONNRESET, named in the message") {
  uvrun_loop_t *loop = t::new_loop();
  int peer = -1;
  uvrun_stream_t *s = st::with_peer(loop, &peer);
  char buf[8];
  REQUIRE(uvrun_stream_write(s, "unread", 6) == 0);
  uvrun_future_t *fut = uvrun_future_ref(uvrun_stream_read(s, buf, sizeof buf));
  st::spin(loop, 0.01);
  close(peer);  // with bytes it never read: the kernel resets the connection
  CHECK(st::await(loop, fut) == -ECONNRESET);
  CHECK(std::string(uvrun_error_message(uvrun_future_error(fut))) ==
        "read failed: connection reset by peer (ECONNRESET)");
  uvrun_future_unref(fut);
  // Every read after reports it too.
  CHECK(st::await(loop, uvrun_stream_read(s, buf, sizeof buf)) == -ECONNRESET);
  uvrun_stream_abort(s);
  uvrun_stream_unref(s);
  uvrun_loop_free(loop);
}

TEST_CASE("E: NULL and zero-length read buffers are refused with INVAL") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_stream_t *a, *b;
  st::pair(loop, &a, &b);
  char buf[4];
  CHECK(uvrun_stream_read(b, nullptr, 4) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_stream_read(b, buf, 0) == nullptr);
  CHECK(t::take_error().message == "read() needs room for at least one byte");
  CHECK(uvrun_stream_read_exactly(b, nullptr, 4) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_stream_read_until(b, nullptr, 1, buf, sizeof buf) == nullptr);
  CHECK(t::take_error().message == "Separator should be at least one-byte string");
  CHECK(uvrun_stream_read_until(b, "\n", 0, buf, sizeof buf) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_stream_read_until(b, "\r\n", 2, buf, 1) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_stream_read(nullptr, buf, 4) == nullptr);
  CHECK(t::take_error().message == "stream must not be NULL");
  // None of them took the reader's place.
  REQUIRE(uvrun_stream_write(a, "ok", 2) == 0);
  CHECK(st::read_n(loop, b, 2) == "ok");
  st::close_all(loop, a, b);
  uvrun_loop_free(loop);
}

TEST_SUITE_END();
