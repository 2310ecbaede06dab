// What the C++ stream layer reads into a caller's buffer (S1) and what it
// throws (S2, S10, T4, E): IncompleteReadError with its partial bytes,
// LimitOverrunError, StreamClosedError, and OSError's subclasses.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "c/socket_support.h"
#include "stream_pair.h"

using namespace std::chrono_literals;

TEST_SUITE_BEGIN("cpp");

namespace {

// What making and awaiting an awaitable threw as the exception type E
// (code 0 when it threw nothing; any other exception goes on). The call
// itself may throw: an operation refused at once fails there.
struct Caught {
  int code = 0;
  std::string message;
  std::string partial;
};

template <class E, class Make>
uvrun::Task<Caught> caught(Make make) {
  Caught c;
  try {
    co_await make();
  } catch (const E &e) {
    c.code = e.code();
    c.message = e.what();
    if constexpr (std::is_same_v<E, uvrun::IncompleteReadError>) c.partial = e.partial;
  }
  co_return c;
}

}  // namespace

TEST_CASE("S1: read_into fills the caller's buffer with what is there, and gives 0 at the end") {
  auto got = uvrun::run([]() -> uvrun::Task<std::string> {
    auto ab = t::stream_pair();  // not a structured binding: clang 14 cannot capture one
    uvrun::Stream &a = ab.first, &b = ab.second;
    std::array<char, 4> buf{};
    a.write_nowait("abcdef");
    std::size_t n = co_await b.read_into(buf);
    std::string out(buf.data(), n);
    n = co_await b.read_into(buf);
    out += "|" + std::string(buf.data(), n);
    a.close();
    n = co_await b.read_into(buf);
    out += "|" + std::to_string(n);
    co_return out;
  }());
  CHECK(got == "abcd|ef|0");
}

TEST_CASE("S1 E: read_into an empty buffer is refused at once") {
  uvrun::run([]() -> uvrun::Task<void> {
    auto ab = t::stream_pair();  // not a structured binding: clang 14 cannot capture one
    uvrun::Stream &b = ab.second;
    bool refused = false;
    try {
      co_await b.read_into(std::span<char>());
    } catch (const uvrun::Error &e) {
      refused = e.code() == UVRUN_E_INVAL;
    }
    CHECK(refused);
    co_return;
  }());
}

TEST_CASE("S2: IncompleteReadError::partial holds exactly the bytes that came") {
  uvrun::run([]() -> uvrun::Task<void> {
    {
      // read_exactly: more than its own buffer's small size, in pieces.
      auto ab = t::stream_pair();  // not a structured binding: clang 14 cannot capture one
      uvrun::Stream &a = ab.first, &b = ab.second;
      std::string sent(700, 'x');
      sent += "tail";
      a.write_nowait(sent.substr(0, 300));
      a.write_nowait(sent.substr(300));
      a.close();
      Caught c = co_await caught<uvrun::IncompleteReadError>([&] { return b.read_exactly(1000); });
      CHECK(c.code == UVRUN_E_INCOMPLETE_READ);
      CHECK(c.partial == sent);
    }
    {
      auto ab = t::stream_pair();  // not a structured binding: clang 14 cannot capture one
      uvrun::Stream &a = ab.first, &b = ab.second;
      a.write_nowait("first\nno newline");
      a.close();
      CHECK(co_await b.read_until("\n") == "first\n");
      Caught c = co_await caught<uvrun::IncompleteReadError>([&] { return b.read_until("\n"); });
      CHECK(c.partial == "no newline");
      // Nothing left: the partial is empty, and it stays so.
      c = co_await caught<uvrun::IncompleteReadError>([&] { return b.read_exactly(1); });
      CHECK(c.code == UVRUN_E_INCOMPLETE_READ);
      CHECK(c.partial.empty());
    }
  }());
}

TEST_CASE("S2: LimitOverrunError leaves the bytes, and a read_until with room for them gets the line") {
  auto got = uvrun::run([]() -> uvrun::Task<std::string> {
    auto ab = t::stream_pair();  // not a structured binding: clang 14 cannot capture one
    uvrun::Stream &a = ab.first, &b = ab.second;
    a.write_nowait("0123456789\nrest");
    Caught c = co_await caught<uvrun::LimitOverrunError>([&] { return b.read_until("\n", 5); });
    CHECK(c.code == UVRUN_E_LIMIT_OVERRUN);
    CHECK(b.info().read_buffered == 15);
    co_return co_await b.read_until("\n", 11);
  }());
  CHECK(got == "0123456789\n");
}

TEST_CASE("S10 E: after close or abort every C++ stream operation throws StreamClosedError") {
  for (bool abort : {false, true}) {
    CAPTURE(abort);
    uvrun::run([](bool abort) -> uvrun::Task<void> {
      auto ab = t::stream_pair();  // not a structured binding: clang 14 cannot capture one
      uvrun::Stream &b = ab.second;
      // A read waiting at the close fails too.
      auto pending = uvrun::create_task([](uvrun::Stream &b) -> uvrun::Task<Caught> {
        co_return co_await caught<uvrun::StreamClosedError>([&] { return b.read(); });
      }(b));
      co_await uvrun::sleep(5ms);
      if (abort) b.abort();
      else b.close();
      Caught at_close = co_await pending;
      CHECK(at_close.code == UVRUN_E_STREAM_CLOSED);
      std::array<char, 8> buf;
      std::vector<int> codes;
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.read(); })).code);
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.read_into(buf); })).code);
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.read_exactly(3); })).code);
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.read_until("\n"); })).code);
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.write("x"); })).code);
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.drain(); })).code);
      codes.push_back((co_await caught<uvrun::StreamClosedError>([&] { return b.shutdown(); })).code);
      for (int code : codes) CHECK(code == UVRUN_E_STREAM_CLOSED);
      CHECK_THROWS_AS(b.write_nowait("x"), uvrun::StreamClosedError);
      // A StreamClosedError is a ConnectionError, as asyncio's closed writer's.
      CHECK_THROWS_AS(b.write_nowait("x"), uvrun::ConnectionError);
      co_await b.wait_closed();
    }(abort));
  }
}

TEST_CASE("T4: a refused connection throws ConnectionRefusedError, a ConnectionError and OSError") {
  sk::ClosedPort closed;
  uvrun::run([](int port) -> uvrun::Task<void> {
    Caught c = co_await caught<uvrun::ConnectionRefusedError>([&] { return uvrun::tcp::connect("127.0.0.1", port); });
    CHECK(c.code == -ECONNREFUSED);
    CHECK(c.message == "connect to 127.0.0.1:" + std::to_string(port) + ": connection refused");
    c = co_await caught<uvrun::ConnectionError>([&] { return uvrun::tcp::connect("127.0.0.1", port); });
    CHECK(c.code == -ECONNREFUSED);
    c = co_await caught<uvrun::OSError>([&] { return uvrun::tcp::connect("127.0.0.1", port); });
    CHECK(c.code == -ECONNREFUSED);
    // A Unix name nobody listens on.
    std::string name = "@uvrun-cpp-nobody-" + std::to_string(getpid());
    c = co_await caught<uvrun::ConnectionRefusedError>([&] { return uvrun::unix_socket::connect(name); });
    CHECK(c.code == -ECONNREFUSED);
    CHECK(c.message == "connect to " + name + ": connection refused");
  }(closed.port));
}

TEST_CASE("T4 E: an unreachable address throws OSError; a bad port or path the argument error") {
  uvrun::run([]() -> uvrun::Task<void> {
    // The kernel does not route TCP to the broadcast address.
    Caught c = co_await caught<uvrun::OSError>([&] { return uvrun::tcp::connect("255.255.255.255", 80); });
    CHECK(c.code == -ENETUNREACH);
    CHECK(c.message == "connect to 255.255.255.255:80: network is unreachable");
    bool inval = false;
    try {
      co_await uvrun::tcp::connect("127.0.0.1", 70000);
    } catch (const uvrun::OSError &) {
      // not an I/O failure
    } catch (const uvrun::Error &e) {
      inval = e.code() == UVRUN_E_INVAL;
    }
    CHECK(inval);
    inval = false;
    try {
      co_await uvrun::unix_socket::connect(std::string(200, 'p'));
    } catch (const uvrun::OSError &) {
    } catch (const uvrun::Error &e) {
      inval = e.code() == UVRUN_E_INVAL;
    }
    CHECK(inval);
  }());
}

TEST_CASE("E: a missing Unix socket path throws FileNotFoundError naming it, not the context variable's LookupError") {
  char dir[] = "/tmp/uvrun-cpp-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string missing = std::string(dir) + "/missing.sock";
  std::string in_missing_dir = std::string(dir) + "/no/such/dir.sock";
  uvrun::run([](std::string missing, std::string in_missing_dir) -> uvrun::Task<void> {
    // -ENOENT is also UVRUN_E_NOTFOUND: an I/O call's is the file's.
    Caught c = co_await caught<uvrun::FileNotFoundError>([&] { return uvrun::unix_socket::connect(missing); });
    CHECK(c.code == -ENOENT);
    CHECK(c.message == "connect to " + missing + ": no such file or directory");
    c = co_await caught<uvrun::OSError>([&] { return uvrun::unix_socket::connect(missing); });
    CHECK(c.code == -ENOENT);
    c = co_await caught<uvrun::FileNotFoundError>([&] { return uvrun::unix_socket::listen(in_missing_dir); });
    CHECK(c.code == -ENOENT);
    CHECK(c.message == "listen on " + in_missing_dir + ": no such file or directory");
  }(missing, in_missing_dir));
  rmdir(dir);
}
