// uvrun::DatagramSocket (G1): bind, send_to, recv_from with the sender,
// connect, multicast, a receive cancelled at each point losing nothing, the
// socket closed when dropped (L3), and bad input thrown as exceptions (E).
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <array>
#include <chrono>
#include <coroutine>
#include <string>
#include <utility>

#include "c/socket_support.h"
#include "cpp/cancel_support.h"

using namespace std::chrono_literals;

TEST_SUITE_BEGIN("cpp");

namespace {

uvrun::Address where(const uvrun::DatagramSocket &s) { return s.local_address(); }

// One datagram's bytes, its receive wrapped (Plain, CancelOnCompletion).
template <class Wrap>
uvrun::Task<std::string> recv_one(uvrun::DatagramSocket &s, Wrap wrap) {
  uvrun::Datagram d = co_await wrap(s.recv_from());
  co_return d.data;
}

}  // namespace

TEST_CASE("G1: C++ bind, send_to and recv_from carry a datagram with its sender; recv_from into a buffer") {
  uvrun::run([]() -> uvrun::Task<void> {
    auto a = uvrun::udp::bind("127.0.0.1", 0);
    auto b = uvrun::udp::bind("127.0.0.1", 0);
    CHECK(where(a).port > 0);
    co_await a.send_to("ping", where(b));
    uvrun::Datagram d = co_await b.recv_from();
    CHECK(d.data == "ping");
    CHECK(d.from.host == "127.0.0.1");
    CHECK(d.from.port == where(a).port);
    b.send_to_nowait("pong", d.from);
    std::array<char, 16> buf;
    uvrun::Received r = co_await a.recv_from(buf);
    CHECK(std::string(buf.data(), r.size) == "pong");
    CHECK(r.from.port == where(b).port);
    a.send_to_nowait("", where(b));  // zero-length: legal
    d = co_await b.recv_from();
    CHECK(d.data.empty());
  }());
}

TEST_CASE("G1: a C++ connected socket sends without an address; multicast join and leave") {
  uvrun::run([]() -> uvrun::Task<void> {
    auto a = uvrun::udp::bind("127.0.0.1", 0);
    auto b = uvrun::udp::bind("127.0.0.1", 0);
    a.connect("127.0.0.1", where(b).port);
    CHECK(a.peer_address().port == where(b).port);
    co_await a.send("connected");
    CHECK((co_await b.recv_from()).data == "connected");

    uvrun::DatagramOptions options;
    options.reuse_address = true;
    auto member = uvrun::udp::bind("0.0.0.0", 0, options);
    member.join_group("239.255.42.98", "127.0.0.1");
    auto sender = uvrun::udp::bind("127.0.0.1", 0);
    sender.set_multicast_loop(true);
    sender.set_multicast_ttl(1);
    uvrun::Address group{"239.255.42.98", where(member).port};  // named: see send_to
    co_await sender.send_to("to the group", group);
    CHECK((co_await member.recv_from()).data == "to the group");
    member.leave_group("239.255.42.98", "127.0.0.1");
  }());
}

TEST_CASE("G1: a C++ receive cancelled before, or in the iteration its datagram came, loses none") {
  for (bool on_completion : {false, true}) {
    CAPTURE(on_completion);
    auto got = uvrun::run([](bool on_completion) -> uvrun::Task<std::string> {
      auto a = uvrun::udp::bind("127.0.0.1", 0);
      auto b = uvrun::udp::bind("127.0.0.1", 0);
      auto receiver = on_completion ? uvrun::create_task(recv_one(b, CancelOnCompletion()))
                                    : uvrun::create_task(recv_one(b, Plain()));
      co_await uvrun::sleep(10ms);
      if (on_completion) a.send_to_nowait("kept", where(b));
      else CHECK(receiver.cancel());
      CHECK(co_await ended_cancelled(receiver));
      if (!on_completion) a.send_to_nowait("kept", where(b));
      co_return (co_await b.recv_from()).data;
    }(on_completion));
    CHECK(got == "kept");
  }
}

TEST_CASE("G1 E: a C++ datagram longer than max_size throws OSError EMSGSIZE; the next arrives") {
  uvrun::run([]() -> uvrun::Task<void> {
    auto a = uvrun::udp::bind("127.0.0.1", 0);
    auto b = uvrun::udp::bind("127.0.0.1", 0);
    a.send_to_nowait("too long for four", where(b));
    a.send_to_nowait("four", where(b));
    int code = 0;
    try {
      co_await b.recv_from(4);
    } catch (const uvrun::OSError &e) {
      code = e.code();
    }
    CHECK(code == UV_EMSGSIZE);
    CHECK((co_await b.recv_from(4)).data == "four");
  }());
}

TEST_CASE("L3: a dropped C++ DatagramSocket closes its socket; a run leaves no fd behind") {
  uvrun_release_memory();
  int before = sk::count_fds();
  uvrun::run([]() -> uvrun::Task<void> {
    int fd = -1;
    {
      auto a = uvrun::udp::bind("127.0.0.1", 0);
      fd = a.info().fd;
      CHECK(fcntl(fd, F_GETFD) != -1);
    }
    co_await uvrun::sleep(1ms);
    CHECK(fcntl(fd, F_GETFD) == -1);
    auto kept = uvrun::udp::bind("127.0.0.1", 0);  // still open at the runner's close
  }());
  uvrun_release_memory();
  CHECK(sk::count_fds() == before);
}

TEST_CASE("E: C++ bad input and use after close throw: Error for bad addresses, StreamClosedError after close") {
  uvrun::run([]() -> uvrun::Task<void> {
    CHECK_THROWS_AS(uvrun::udp::bind("127.0.0.1", 70000), uvrun::Error);
    CHECK_THROWS_WITH_AS(uvrun::udp::bind("no such host", 0), doctest::Contains("not a numeric"), uvrun::Error);
    auto a = uvrun::udp::bind("127.0.0.1", 0);
    auto b = uvrun::udp::bind("127.0.0.1", 0);
    CHECK_THROWS_AS(a.connect("127.0.0.1", 0), uvrun::Error);
    CHECK_THROWS_AS(a.send_nowait("x"), uvrun::OSError);  // not connected: EDESTADDRREQ
    CHECK_THROWS_AS(a.send_to_nowait("x", {std::string(100, '1'), 9}), uvrun::Error);
    CHECK_THROWS_WITH_AS(a.join_group("not a group"), doctest::Contains("not a group"), uvrun::Error);
    auto first = uvrun::create_task(
        [](uvrun::DatagramSocket &b) -> uvrun::Task<std::string> { co_return (co_await b.recv_from()).data; }(b));
    co_await uvrun::sleep(1ms);
    CHECK_THROWS_AS(co_await b.recv_from(), uvrun::RuntimeError);  // READ_BUSY
    a.send_to_nowait("first", where(b));
    CHECK(co_await first == "first");
    a.close();
    a.close();
    CHECK_THROWS_AS(a.send_to_nowait("x", where(b)), uvrun::StreamClosedError);
    CHECK_THROWS_AS(co_await a.recv_from(), uvrun::StreamClosedError);
    uvrun::DatagramSocket empty;
    CHECK_THROWS_AS(empty.close(), uvrun::InvalidStateError);
  }());
}

TEST_SUITE_END();
