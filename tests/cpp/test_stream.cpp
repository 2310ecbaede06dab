// The C++ I/O layer: Stream over a socket pair and over TCP, Server with a
// coroutine per connection, the exceptions of IO.md's Shape section.
#include <doctest/doctest.h>
#include <unistd.h>
#include <uvrun/uvrun.hpp>

#include <chrono>
#include <string>
#include <utility>

#include "stream_pair.h"

using namespace std::chrono_literals;

TEST_SUITE_BEGIN("cpp");

TEST_CASE("S1, S2: read, read_exactly and read_until through a C++ Stream") {
  auto result = uvrun::run([]() -> uvrun::Task<std::string> {
    auto [a, b] = t::stream_pair();
    co_await a.write("line one\nline two\nrest");
    a.close();
    std::string got = co_await b.read_until("\n");
    got += "|" + co_await b.read_exactly(4);
    got += "|" + co_await b.read_until("\n");
    try {
      co_await b.read_exactly(100);
    } catch (const uvrun::IncompleteReadError &e) {
      got += "|partial=" + e.partial;
    }
    got += "|eof=" + co_await b.read();
    co_return got;
  }());
  CHECK(result == "line one\n|line| two\n|partial=rest|eof=");
}

TEST_CASE("S2: read_until past its limit throws LimitOverrunError and keeps the bytes") {
  auto result = uvrun::run([]() -> uvrun::Task<std::string> {
    auto [a, b] = t::stream_pair();
    a.write_nowait("0123456789");
    bool overrun = false;
    try {
      co_await b.read_until("\n", 4);
    } catch (const uvrun::LimitOverrunError &) {
      overrun = true;
    }
    CHECK(overrun);
    co_return co_await b.read_exactly(10);
  }());
  CHECK(result == "0123456789");
}

TEST_CASE("S3: a read that times out consumed nothing") {
  auto result = uvrun::run([]() -> uvrun::Task<std::string> {
    auto [a, b] = t::stream_pair();
    bool timed_out = false;
    try {
      co_await uvrun::wait_for(b.read_exactly(6), 10ms);
    } catch (const uvrun::TimeoutError &) {
      timed_out = true;
    }
    CHECK(timed_out);
    a.write_nowait("abcdef");
    co_return co_await b.read_exactly(6);
  }());
  CHECK(result == "abcdef");
}

TEST_CASE("S10, E: using a closed stream throws StreamClosedError; an empty Stream InvalidStateError") {
  uvrun::run([]() -> uvrun::Task<void> {
    auto [a, b] = t::stream_pair();
    a.close();
    CHECK_THROWS_AS(a.write_nowait("x"), uvrun::StreamClosedError);
    bool closed = false;
    try {
      co_await a.read();
    } catch (const uvrun::StreamClosedError &) {
      closed = true;
    }
    CHECK(closed);
    uvrun::Stream empty;
    CHECK_THROWS_AS(empty.write_nowait("x"), uvrun::InvalidStateError);
    co_await a.wait_closed();
  }());
}

TEST_CASE("S11: writing to a peer that went away throws a ConnectionError, not SIGPIPE") {
  uvrun::run([]() -> uvrun::Task<void> {
    auto [a, b] = t::stream_pair();
    b.abort();
    co_await b.wait_closed();
    bool failed = false;
    try {
      for (int i = 0; i < 100; i++) co_await a.write(std::string(65536, 'x'));
    } catch (const uvrun::ConnectionError &) {
      failed = true;
    }
    CHECK(failed);
  }());
}

TEST_CASE("V3, T1: a TCP echo server with a coroutine per connection, and clients") {
  auto result = uvrun::run([]() -> uvrun::Task<std::string> {
    uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
    server.serve([](uvrun::Stream s) -> uvrun::Task<void> {
      for (;;) {
        std::string line = co_await s.read_until("\n");
        co_await s.write("echo: " + line);
      }
    });
    std::string got;
    for (int i = 0; i < 3; i++) {
      uvrun::Stream c = co_await uvrun::tcp::connect("127.0.0.1", server.port());
      CHECK(c.peer_address().port == server.port());
      co_await c.write("hi " + std::to_string(i) + "\n");
      got += co_await c.read_until("\n");
      c.close();
    }
    co_await server.shutdown(1s);
    CHECK(server.info().accepted == 3);
    co_return got;
  }());
  CHECK(result == "echo: hi 0\necho: hi 1\necho: hi 2\n");
}

TEST_CASE("T4: a refused connect throws ConnectionRefusedError naming the address") {
  uvrun::run([]() -> uvrun::Task<void> {
    // A port that was free a moment ago: listen, note it, close.
    int port;
    {
      uvrun::Server s = co_await uvrun::tcp::listen("127.0.0.1", 0);
      port = s.port();
      s.close();
    }
    bool refused = false;
    try {
      co_await uvrun::tcp::connect("127.0.0.1", port);
    } catch (const uvrun::ConnectionRefusedError &e) {
      refused = std::string(e.what()).find("127.0.0.1") != std::string::npos;
    }
    CHECK(refused);
  }());
}

TEST_CASE("V5: Server::shutdown lets a handler finish within the grace period") {
  auto result = uvrun::run([]() -> uvrun::Task<std::string> {
    uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
    server.serve([](uvrun::Stream s) -> uvrun::Task<void> {
      std::string req = co_await s.read_exactly(3);
      co_await uvrun::sleep(50ms);
      co_await s.write("done " + req);
    });
    uvrun::Stream c = co_await uvrun::tcp::connect("127.0.0.1", server.port());
    co_await c.write("abc");
    co_await uvrun::sleep(10ms);
    co_await server.shutdown(5s);
    co_return co_await c.read(100);
  }());
  CHECK(result == "done abc");
}

TEST_CASE("N1: getaddrinfo of localhost gives a loopback address") {
  auto addrs = uvrun::run(
      []() -> uvrun::Task<std::vector<uvrun::Address>> { co_return co_await uvrun::getaddrinfo("localhost", "80"); }());
  REQUIRE(!addrs.empty());
  bool loopback = false;
  for (auto &a : addrs) loopback |= (a.host == "127.0.0.1" || a.host == "::1") && a.port == 80;
  CHECK(loopback);
}
