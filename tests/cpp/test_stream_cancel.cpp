// Cancelling C++ stream and server awaits (S3, S7, T3, V2) at each point:
// before the operation completes, in the loop iteration it completes
// (before the task resumes), and after its result was taken. Nothing is
// lost: bytes that arrived stay for the next read, queued bytes are sent,
// a connection goes to the next accept.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <array>
#include <chrono>
#include <coroutine>
#include <string>
#include <utility>

#include "c/socket_support.h"
#include "stream_pair.h"

using namespace std::chrono_literals;

TEST_SUITE_BEGIN("cpp");

namespace {

void cancel_task(uvrun_future_t *, void *task) { uvrun_task_cancel(static_cast<uvrun_task_t *>(task), nullptr); }

// Awaits `inner`, cancelling the awaiting task from a done callback of the
// future it suspended on: that callback runs before the task's wake-up, so
// the task is cancelled in the iteration the operation completed, its
// result untaken (the shape of the C tests' S3 case).
template <class A>
struct CancelledOnCompletion {
  A inner;
  bool await_ready() { return inner.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) {
    inner.await_suspend(h);
    uvrun::detail::StepState &st = uvrun::detail::step_state();
    CHECK(uvrun_future_add_done_callback(st.await, cancel_task, st.task) == 0);
  }
  decltype(auto) await_resume() { return inner.await_resume(); }
};

struct Plain {
  template <class A>
  A operator()(A aw) const {
    return aw;
  }
};
struct CancelOnCompletion {
  template <class A>
  CancelledOnCompletion<A> operator()(A aw) const {
    return {std::move(aw)};
  }
};

enum class Read { some, into, exactly, until };
const Read kReads[] = {Read::some, Read::into, Read::exactly, Read::until};
const char *name_of(Read r) {
  switch (r) {
  case Read::some: return "read";
  case Read::into: return "read_into";
  case Read::exactly: return "read_exactly";
  default: return "read_until";
  }
}

// Each kind of read, made to give "hello\n" when those bytes are there.
template <class Wrap>
uvrun::Task<std::string> read_hello(Read kind, uvrun::Stream &s, Wrap wrap) {
  switch (kind) {
  case Read::some: co_return co_await wrap(s.read(100));
  case Read::into: {
    std::array<char, 100> buf;
    std::size_t n = co_await wrap(s.read_into(buf));
    co_return std::string(buf.data(), n);
  }
  case Read::exactly: co_return co_await wrap(s.read_exactly(6));
  default: co_return co_await wrap(s.read_until("\n"));
  }
}

// Awaits a task expected to end cancelled.
template <class T>
uvrun::Task<bool> ended_cancelled(uvrun::TaskHandle<T> task) {
  try {
    co_await task;
  } catch (const uvrun::CancelledError &) {
    co_return true;
  }
  co_return false;
}

}  // namespace

TEST_CASE("S3: a C++ read cancelled before its bytes came consumed nothing") {
  for (Read kind : kReads) {
    CAPTURE(name_of(kind));
    auto got = uvrun::run([](Read kind) -> uvrun::Task<std::string> {
      auto [a, b] = t::stream_pair();
      auto reader = uvrun::create_task(read_hello(kind, b, Plain()));
      co_await uvrun::sleep(10ms);
      CHECK(reader.cancel());
      CHECK(co_await ended_cancelled(reader));
      a.write_nowait("hello\n");
      co_return co_await read_hello(kind, b, Plain());
    }(kind));
    CHECK(got == "hello\n");
  }
}

TEST_CASE("S3: a C++ read cancelled in the iteration its bytes arrived consumed nothing") {
  for (Read kind : kReads) {
    CAPTURE(name_of(kind));
    auto got = uvrun::run([](Read kind) -> uvrun::Task<std::string> {
      auto [a, b] = t::stream_pair();
      auto reader = uvrun::create_task(read_hello(kind, b, CancelOnCompletion()));
      co_await uvrun::sleep(10ms);
      a.write_nowait("hello\n");
      CHECK(co_await ended_cancelled(reader));
      CHECK(b.info().read_buffered == 6);
      co_return co_await read_hello(kind, b, Plain());
    }(kind));
    CHECK(got == "hello\n");
  }
}

TEST_CASE("S3: a C++ read cancelled after its result was taken keeps it, and leaves the rest") {
  for (Read kind : kReads) {
    CAPTURE(name_of(kind));
    auto got = uvrun::run([](Read kind) -> uvrun::Task<std::string> {
      auto [a, b] = t::stream_pair();
      std::string first;
      auto reader = uvrun::create_task([](Read kind, uvrun::Stream &b, std::string &first) -> uvrun::Task<void> {
        first = co_await read_hello(kind, b, Plain());
        co_await uvrun::sleep(1h);
      }(kind, b, first));
      co_await uvrun::sleep(10ms);
      a.write_nowait("hello\n");
      while (first.empty()) co_await uvrun::sleep(1ms);
      CHECK(first == "hello\n");
      CHECK(reader.cancel());
      CHECK(co_await ended_cancelled(reader));
      CHECK(first == "hello\n");
      CHECK(b.info().read_buffered == 0);
      a.write_nowait("hello\n");
      co_return co_await read_hello(kind, b, Plain());
    }(kind));
    CHECK(got == "hello\n");
  }
}

TEST_CASE("S3: a C++ read_exactly or read_until cancelled with part of its bytes keeps them for the next") {
  auto got = uvrun::run([]() -> uvrun::Task<std::string> {
    auto [a, b] = t::stream_pair();
    auto exactly = uvrun::create_task(read_hello(Read::exactly, b, Plain()));
    a.write_nowait("hel");
    co_await uvrun::sleep(10ms);
    CHECK(b.info().read_buffered == 3);
    CHECK(exactly.cancel());
    CHECK(co_await ended_cancelled(exactly));
    auto until = uvrun::create_task(read_hello(Read::until, b, Plain()));
    a.write_nowait("lo");
    co_await uvrun::sleep(10ms);
    CHECK(until.cancel());
    CHECK(co_await ended_cancelled(until));
    a.write_nowait("\n");
    co_return co_await read_hello(Read::exactly, b, Plain());
  }());
  CHECK(got == "hello\n");
}

namespace {

constexpr std::size_t kBig = 4 << 20;  // far above the write high-water mark

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i++) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// The drain below is cancelled before (0), in the iteration (1) or after (2)
// it completed; the peer still gets every queued byte.
template <class Wrap>
uvrun::Task<void> drain_then_sleep(uvrun::Stream &s, Wrap wrap, bool &drained) {
  co_await wrap(s.drain());
  drained = true;
  co_await uvrun::sleep(1h);
}

uvrun::Task<bool> cancelled_drain_loses_nothing(int when) {
  auto [a, b] = t::stream_pair();
  a.write_nowait(pattern(kBig));
  CHECK(a.info().write_queued > 0);
  bool drained = false;
  auto drainer = when == 1 ? uvrun::create_task(drain_then_sleep(a, CancelOnCompletion(), drained))
                           : uvrun::create_task(drain_then_sleep(a, Plain(), drained));
  co_await uvrun::sleep(10ms);
  if (when == 0) CHECK(drainer.cancel());
  auto reader = uvrun::create_task(
      [](uvrun::Stream &b) -> uvrun::Task<std::string> { co_return co_await b.read_exactly(kBig); }(b));
  if (when == 2) {
    while (!drained) co_await uvrun::sleep(1ms);
    CHECK(drainer.cancel());
  }
  CHECK(co_await ended_cancelled(drainer));
  CHECK(drained == (when == 2));
  std::string got = co_await reader;
  co_return got == pattern(kBig) && a.info().write_queued == 0;
}

}  // namespace

TEST_CASE("S7: a C++ drain cancelled before, while or after the queue went down leaves every byte to be sent") {
  for (int when = 0; when < 3; when++) {
    CAPTURE(when);
    CHECK(uvrun::run(cancelled_drain_loses_nothing(when)));
  }
}

namespace {

template <class Wrap>
uvrun::Task<void> accept_then_sleep(uvrun::Server &server, Wrap wrap, uvrun::Stream &out) {
  out = co_await wrap(server.accept());
  co_await uvrun::sleep(1h);
}

// An accept cancelled before (0), in the iteration (1) or after (2) it got
// its connection: the next accept (or the one kept) reads the client's
// bytes.
uvrun::Task<std::string> cancelled_accept_loses_nothing(int when) {
  uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
  uvrun::Stream kept;
  auto acceptor = when == 1 ? uvrun::create_task(accept_then_sleep(server, CancelOnCompletion(), kept))
                            : uvrun::create_task(accept_then_sleep(server, Plain(), kept));
  co_await uvrun::sleep(10ms);
  if (when == 0) CHECK(acceptor.cancel());
  uvrun::Stream client = co_await uvrun::tcp::connect("127.0.0.1", server.port());
  client.write_nowait("hello\n");
  if (when == 2) {
    while (!kept) co_await uvrun::sleep(1ms);
    CHECK(acceptor.cancel());
  }
  CHECK(co_await ended_cancelled(acceptor));
  CHECK(bool(kept) == (when == 2));
  // Not `kept ? std::move(kept) : co_await ...`: GCC 12 destroys the
  // conditional's temporary Stream once too often.
  uvrun::Stream conn = std::move(kept);
  if (!conn) conn = co_await uvrun::wait_for(server.accept(), 5s);
  std::string got = co_await conn.read_until("\n");
  CHECK(server.info().accepted == 1);
  co_return got;
}

}  // namespace

TEST_CASE("V2: a C++ accept cancelled before, in the iteration or after it got its connection loses none") {
  for (int when = 0; when < 3; when++) {
    CAPTURE(when);
    CHECK(uvrun::run(cancelled_accept_loses_nothing(when)) == "hello\n");
  }
}

namespace {

template <class Wrap>
uvrun::Task<void> connect_then_sleep(int port, Wrap wrap, uvrun::Stream &out) {
  out = co_await wrap(uvrun::tcp::connect("127.0.0.1", port));
  co_await uvrun::sleep(1h);
}

}  // namespace

TEST_CASE("T3: a C++ connect cancelled while pending closes its socket") {
  sk::FullListener silent;
  int fds_before = sk::count_fds();
  uvrun::run([](int port, int fds_before) -> uvrun::Task<void> {
    uvrun::Stream out;
    auto connector = uvrun::create_task(connect_then_sleep(port, Plain(), out));
    co_await uvrun::sleep(50ms);
    CHECK(sk::count_fds() > fds_before);  // its socket, connecting
    CHECK(connector.cancel());
    CHECK(co_await ended_cancelled(connector));
    CHECK(!out);
    CHECK(sk::count_fds() <= fds_before + 1);  // the loop's own may be open
  }(silent.port, fds_before));
  CHECK(sk::count_fds() == fds_before);
}

TEST_CASE("T3: a C++ connect cancelled in the iteration it connected drops its stream; after, keeps it") {
  for (int when = 1; when < 3; when++) {
    CAPTURE(when);
    auto got = uvrun::run([](int when) -> uvrun::Task<std::string> {
      uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
      uvrun::Stream out;
      auto connector = when == 1 ? uvrun::create_task(connect_then_sleep(server.port(), CancelOnCompletion(), out))
                                 : uvrun::create_task(connect_then_sleep(server.port(), Plain(), out));
      uvrun::Stream conn = co_await uvrun::wait_for(server.accept(), 5s);
      if (when == 2) {
        while (!out) co_await uvrun::sleep(1ms);
        CHECK(connector.cancel());
      }
      CHECK(co_await ended_cancelled(connector));
      if (when == 1) {
        CHECK(!out);
        try {
          co_return co_await conn.read();  // the dropped stream was aborted
        } catch (const uvrun::ConnectionResetError &) {
          co_return "";
        }
      }
      co_await out.write("hello\n");
      co_return co_await conn.read_until("\n");
    }(when));
    CHECK(got == (when == 1 ? "" : "hello\n"));
  }
}
