// The C++ Server: accept without serve (V2), Unix sockets on a path and an
// abstract name (U1), and shutdown (V5) with handlers still in flight,
// closing or aborting what the grace period left.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>
#include <uvrun/uvrun.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

TEST_SUITE_BEGIN("cpp");

TEST_CASE("V2: a C++ Server that does not serve hands its connections to accept") {
  auto got = uvrun::run([]() -> uvrun::Task<std::string> {
    uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
    uvrun::Stream client = co_await uvrun::tcp::connect("127.0.0.1", server.port());
    uvrun::Stream conn = co_await uvrun::wait_for(server.accept(), 5s);
    CHECK(conn.peer_address().port == client.local_address().port);
    co_await client.write("ping\n");
    std::string req = co_await conn.read_until("\n");
    co_await conn.write("pong to " + req);
    std::string answer = co_await client.read_until("\n");
    CHECK(server.info().accepted == 1);
    CHECK(server.info().open == 1);
    co_return answer;
  }());
  CHECK(got == "pong to ping\n");
}

namespace {

// Serves one echo exchange on a Unix server at `path`, and returns what the
// client read back.
uvrun::Task<std::string> unix_echo(std::string path) {
  uvrun::Server server = co_await uvrun::unix_socket::listen(path);
  server.serve([](uvrun::Stream s) -> uvrun::Task<void> { co_await s.write("echo " + co_await s.read_until("\n")); });
  uvrun::Stream client = co_await uvrun::unix_socket::connect(path);
  CHECK(client.peer_address().host.empty());  // a pipe has no numeric address
  co_await client.write("over unix\n");
  std::string got = co_await client.read_until("\n");
  co_await server.shutdown(1s);
  CHECK(server.info().accepted == 1);
  co_return got;
}

}  // namespace

TEST_CASE("U1: a C++ Unix server on a path talks both ways; its socket file goes with it") {
  char dir[] = "/tmp/uvrun-cpp-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/s.sock";
  CHECK(uvrun::run(unix_echo(path)) == "echo over unix\n");
  CHECK(access(path.c_str(), F_OK) != 0);
  rmdir(dir);
}

TEST_CASE("U1: a C++ Unix server on an abstract name ('@...') needs no file") {
  std::string name = "@uvrun-cpp-" + std::to_string(getpid());
  CHECK(uvrun::run(unix_echo(name)) == "echo over unix\n");
}

namespace {

struct Flights {
  int started = 0, cancelled = 0, finished = 0;
};

// A handler that reads a request, answers `delay` later, and notes how it
// ended.
uvrun::Handler slow_handler(Flights &f, std::chrono::milliseconds delay) {
  return [&f, delay](uvrun::Stream s) -> uvrun::Task<void> {
    std::string req = co_await s.read_until("\n");
    f.started++;
    try {
      co_await uvrun::sleep(delay);
    } catch (const uvrun::CancelledError &) {
      f.cancelled++;
      throw;
    }
    co_await s.write("done " + req);
    f.finished++;
  };
}

// Starts a request on a server whose handler takes `delay`, shuts the
// server down with `grace` and `then`, and returns what the client then
// reads: the answer, "" (closed) or "reset".
uvrun::Task<std::string> shutdown_in_flight(Flights &f, std::chrono::milliseconds delay,
                                            std::chrono::milliseconds grace, uvrun::Then then) {
  uvrun::Server server = co_await uvrun::tcp::listen("127.0.0.1", 0);
  server.serve(slow_handler(f, delay));
  uvrun::Stream client = co_await uvrun::tcp::connect("127.0.0.1", server.port());
  co_await client.write("req\n");
  while (f.started == 0) co_await uvrun::sleep(1ms);
  double t0 = uvrun::loop_time();
  co_await server.shutdown(grace, then);
  double took = uvrun::loop_time() - t0;
  CHECK(!server.info().listening);
  // Done when the handler ended: at its answer, or at the grace period.
  CHECK(took >= 0.04);
  CHECK(took < 2.0);
  try {
    co_return co_await client.read(100);
  } catch (const uvrun::ConnectionResetError &) {
    co_return "reset";
  }
}

}  // namespace

TEST_CASE("V5: C++ shutdown waits for a handler in flight within the grace period") {
  Flights f;
  CHECK(uvrun::run(shutdown_in_flight(f, 50ms, 5s, uvrun::Then::close)) == "done req\n");
  CHECK(f.finished == 1);
  CHECK(f.cancelled == 0);
}

TEST_CASE("V5: C++ shutdown(grace, Then::close) cancels the handler left and closes its stream") {
  Flights f;
  CHECK(uvrun::run(shutdown_in_flight(f, 1h, 50ms, uvrun::Then::close)) == "");
  CHECK(f.cancelled == 1);
  CHECK(f.finished == 0);
}

TEST_CASE("V5: C++ shutdown(grace, Then::abort) cancels the handler left and resets its connection") {
  Flights f;
  CHECK(uvrun::run(shutdown_in_flight(f, 1h, 50ms, uvrun::Then::abort)) == "reset");
  CHECK(f.cancelled == 1);
  CHECK(f.finished == 0);
}
