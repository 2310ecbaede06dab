// TCP servers: listening (V1), accepting (V2), serving (V3), a socket the
// caller connected adopted (U3), and bad input (E).
#include <doctest/doctest.h>
#include <poll.h>
#include <uvrun.h>

#include <string>
#include <vector>

#include "socket_support.h"
#include "stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("sockets");

namespace {

// A server listening on 127.0.0.1 at a free port; `opts` nullptr: defaults.
uvrun_server_t *listen_local(uvrun_loop_t *loop, const uvrun_server_opts_t *opts = nullptr) {
  sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", 0, opts));
  REQUIRE(w.rc == 0);
  return uvrun_server_ref(static_cast<uvrun_server_t *>(w.value));
}

uvrun_stream_t *connect_to(uvrun_loop_t *loop, const char *host, int port, const uvrun_stream_opts_t *opts = nullptr) {
  sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, host, port, opts));
  INFO(w.message);
  REQUIRE(w.rc == 0);
  return uvrun_stream_ref(static_cast<uvrun_stream_t *>(w.value));
}

uvrun_stream_t *accept_one(uvrun_loop_t *loop, uvrun_server_t *server) {
  sk::Waited w = sk::wait(loop, uvrun_wait_for(uvrun_server_accept(server), 5.0));
  REQUIRE(w.rc == 0);
  return uvrun_stream_ref(static_cast<uvrun_stream_t *>(w.value));
}

uvrun_server_info_t server_info(const uvrun_server_t *server) {
  uvrun_server_info_t i;
  i.size = sizeof i;
  REQUIRE(uvrun_server_info(server, &i) == 0);
  return i;
}

// A blocking client made with the system calls: connected to 127.0.0.1:port.
int raw_client(int port, int family = AF_INET) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_storage ss = {};
  if (family == AF_INET6) {
    auto *sa = reinterpret_cast<sockaddr_in6 *>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons((uint16_t)port);
    sa->sin6_addr = in6addr_loopback;
  } else {
    auto *sa = reinterpret_cast<sockaddr_in *>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  int rc =
      connect(fd, reinterpret_cast<sockaddr *>(&ss), family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  if (rc != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

// What a raw socket reads within a second, the loop running meanwhile (""
// at the end of the stream).
std::string raw_read(uvrun_loop_t *loop, int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  char buf[256];
  for (int i = 0; i < 1000 && poll(&p, 1, 0) == 0; i++) st::spin(loop, 0.001);
  if (!(p.revents & POLLIN)) return "(nothing)";
  ssize_t n = read(fd, buf, sizeof buf);
  return n < 0 ? "(error " + std::to_string(errno) + ")" : std::string(buf, (size_t)n);
}

void release(uvrun_loop_t *loop, uvrun_stream_t *a, uvrun_stream_t *b) { st::close_all(loop, a, b); }

}  // namespace

TEST_CASE("V1 T1: a server on port 0 reports its port; a numeric connect reaches it without a lookup") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  int port = uvrun_server_port(server);
  CHECK(port > 0);
  CHECK(server_info(server).port == port);
  CHECK(server_info(server).listening == 1);
  uvrun_stream_t *client = connect_to(loop, "127.0.0.1", port);
  uvrun_stream_t *server_side = accept_one(loop, server);
  CHECK(uvrun_stream_write(client, "ping", 4) == 0);
  CHECK(st::read_n(loop, server_side, 4) == "ping");
  CHECK(st::info(server_side).peer_port == st::info(client).local_port);
  CHECK(std::string(st::info(client).peer_host) == "127.0.0.1");
  release(loop, client, server_side);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V1: no host listens on every interface of both families, on one port") {
  uvrun_loop_t *loop = t::new_loop();
  sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, nullptr, 0, nullptr));
  REQUIRE(w.rc == 0);
  auto *server = static_cast<uvrun_server_t *>(w.value);
  int port = uvrun_server_port(server);
  uvrun_stream_t *v4 = connect_to(loop, "127.0.0.1", port);
  uvrun_stream_t *v6 = connect_to(loop, "::1", port);
  uvrun_stream_t *a = accept_one(loop, server);
  uvrun_stream_t *b = accept_one(loop, server);
  CHECK(server_info(server).accepted == 2);
  release(loop, v4, a);
  release(loop, v6, b);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V1: a name listens on every address it resolves to, all on the port the first got") {
  t::check_child(sk::with_hosts("::1 both.test\n127.0.0.1 both.test\n", []() -> int {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    {
      sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "both.test", 0, nullptr));
      CHILD_EXPECT(w.rc == 0, 2);
      auto *server = static_cast<uvrun_server_t *>(w.value);
      int port = uvrun_server_port(server);
      CHILD_EXPECT(port > 0, 3);
      int c4 = raw_client(port, AF_INET), c6 = raw_client(port, AF_INET6);
      CHILD_EXPECT(c4 >= 0 && c6 >= 0, 4);
      for (int i = 0; i < 2; i++) {
        sk::Waited a = sk::wait(loop, uvrun_server_accept(server));
        CHILD_EXPECT(a.rc == 0, 5);
      }
      close(c4);
      close(c6);
    }
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 6);
    return 0;
  }));
}

TEST_CASE("V1: backlog bounds the connections waiting; by default 511 of them can") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_opts_t opts;
  uvrun_server_opts_init(&opts);
  opts.backlog = 1;
  uvrun_server_t *small = listen_local(loop, &opts);
  uvrun_server_t *large = listen_local(loop);
  // Nobody accepts: the kernel queues backlog + 1 connections, and the next
  // client's connect waits.
  auto connected = [&](int port, int n) {
    int done = 0;
    std::vector<int> fds;
    for (int i = 0; i < n; i++) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      struct sockaddr_in sa = {};
      sa.sin_family = AF_INET;
      sa.sin_port = htons((uint16_t)port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
      fds.push_back(fd);
    }
    st::spin(loop, 0.2);
    for (int fd : fds) {
      struct sockaddr_in peer;
      socklen_t len = sizeof peer;
      done += getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &len) == 0;
      close(fd);
    }
    return done;
  };
  CHECK(connected(uvrun_server_port(small), 4) == 2);
  CHECK(connected(uvrun_server_port(large), 16) == 16);
  uvrun_server_unref(small);
  uvrun_server_unref(large);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V1: reuse_address (on by default) binds a port whose old connections linger in TIME_WAIT") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  int port = uvrun_server_port(server);
  int client = raw_client(port);
  uvrun_stream_t *conn = accept_one(loop, server);
  // The server's side closes first: its end of the connection waits in
  // TIME_WAIT on the port.
  CHECK(uvrun_stream_close(conn) == 0);
  CHECK(st::await(loop, uvrun_stream_wait_closed(conn)) == 0);
  uvrun_stream_unref(conn);
  CHECK(raw_read(loop, client) == "");
  close(client);
  uvrun_server_unref(server);
  uvrun_server_opts_t opts;
  uvrun_server_opts_init(&opts);
  opts.reuse_address = 0;
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", port, &opts));
    CHECK(w.rc == -EADDRINUSE);
  }
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", port, nullptr));
    CHECK(w.rc == 0);
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V1: reuse_port lets two servers listen on one port; without it the second fails") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_opts_t opts;
  uvrun_server_opts_init(&opts);
  opts.reuse_port = 1;
  uvrun_server_t *first = listen_local(loop, &opts);
  int port = uvrun_server_port(first);
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", port, &opts));
    CHECK(w.rc == 0);
    CHECK(uvrun_server_port(static_cast<uvrun_server_t *>(w.value)) == port);
  }
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", port, nullptr));
    CHECK(w.rc == -EADDRINUSE);
    CHECK(w.message == "listen on 127.0.0.1:" + std::to_string(port) + ": address already in use");
  }
  uvrun_server_unref(first);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: a low port needs privileges") {
  uvrun_loop_t *loop = t::new_loop();
  sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", 1, nullptr));
  if (geteuid() != 0) {
    CHECK(w.rc == -EACCES);
    CHECK(w.message == "listen on 127.0.0.1:1: permission denied");
  } else {
    // root may: the server listens there (CI runs as root).
    REQUIRE(w.rc == 0);
    CHECK(uvrun_server_port(static_cast<uvrun_server_t *>(w.value)) == 1);
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V2: connections are taken from the kernel only while an accept waits; a cancelled accept loses none") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  uvrun_future_t *early = uvrun_server_accept(server);
  REQUIRE(early != nullptr);
  st::spin(loop, 0.01);
  CHECK(uvrun_future_cancel(early, nullptr) == 1);
  uvrun_future_unref(early);
  int client = raw_client(uvrun_server_port(server));
  REQUIRE(client >= 0);
  CHECK(write(client, "hello", 5) == 5);
  st::spin(loop, 0.05);
  CHECK(server_info(server).accepted == 0);  // still in the backlog
  uvrun_stream_t *conn = accept_one(loop, server);
  CHECK(st::read_n(loop, conn, 5) == "hello");
  CHECK(server_info(server).accepted == 1);
  uvrun_stream_unref(conn);
  close(client);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V2: a connection whose accept was done but never taken goes to the next accept") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  uvrun_future_t *first = uvrun_server_accept(server);
  int client = raw_client(uvrun_server_port(server));
  CHECK(write(client, "x", 1) == 1);
  while (!uvrun_future_done(first)) st::spin(loop, 0.001);
  // As a task cancelled in the iteration its accept completed drops it.
  uvrun_future_unref(first);
  uvrun_stream_t *conn = accept_one(loop, server);
  CHECK(st::read_n(loop, conn, 1) == "x");
  CHECK(server_info(server).accepted == 1);
  CHECK(uvrun_stream_write(conn, "y", 1) == 0);
  CHECK(raw_read(loop, client) == "y");
  uvrun_stream_unref(conn);
  close(client);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V2: accepts are served in the order they were made") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  uvrun_future_t *first = uvrun_server_accept(server), *second = uvrun_server_accept(server);
  int a = raw_client(uvrun_server_port(server));
  while (!uvrun_future_done(first)) st::spin(loop, 0.001);
  CHECK_FALSE(uvrun_future_done(second));
  int b = raw_client(uvrun_server_port(server));
  while (!uvrun_future_done(second)) st::spin(loop, 0.001);
  void *va = nullptr, *vb = nullptr;
  CHECK(uvrun_future_result(first, &va) == 0);
  CHECK(uvrun_future_result(second, &vb) == 0);
  CHECK(write(a, "a", 1) == 1);
  CHECK(st::read_n(loop, static_cast<uvrun_stream_t *>(va), 1) == "a");
  CHECK(write(b, "b", 1) == 1);
  CHECK(st::read_n(loop, static_cast<uvrun_stream_t *>(vb), 1) == "b");
  uvrun_future_unref(first);
  uvrun_future_unref(second);
  close(a);
  close(b);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

namespace {

// An echo handler: reads what comes and writes it back until the end of
// the stream, noting the context variable it saw first.
struct Echo {
  uvrun_contextvar_t *var = nullptr;
  std::vector<std::string> seen;
  int fail_with = 0;  // a handler that fails after its first echo
  struct Conn {
    char buf[64];
    int step = 0;
  };
  static int handler(uvrun_task_t *task, uvrun_stream_t *stream, void *ud) {
    auto *self = static_cast<Echo *>(ud);
    auto *conn = static_cast<Conn *>(uvrun_stream_data(stream));
    if (conn == nullptr) {
      conn = new Conn;
      uvrun_stream_set_data(stream, conn, [](void *p) { delete static_cast<Conn *>(p); });
      void *v = nullptr;
      uvrun_contextvar_get(self->var, &v);
      self->seen.push_back(v != nullptr ? static_cast<const char *>(v) : "(none)");
      uvrun_contextvar_set(self->var, const_cast<char *>("set by a handler"), nullptr);
      return uvrun_task_await(task, uvrun_stream_read(stream, conn->buf, sizeof conn->buf));
    }
    void *got = nullptr;
    int rc = uvrun_task_resume(task, &got);
    if (rc < 0) return rc;
    size_t n = reinterpret_cast<uintptr_t>(got);
    if (n == 0) return uvrun_task_return(task, nullptr);
    uvrun_stream_write(stream, conn->buf, n);
    if (self->fail_with != 0) return t::fail(task, self->fail_with, "the handler broke");
    return uvrun_task_await(task, uvrun_stream_read(stream, conn->buf, sizeof conn->buf));
  }
};

}  // namespace

TEST_CASE("V3: serve runs a task per connection in a copy of serve()'s context; its end closes the connection") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  Echo echo;
  REQUIRE(uvrun_contextvar_new("who", 0, nullptr, &echo.var) == 0);
  uvrun_token_t *token = nullptr;
  REQUIRE(uvrun_contextvar_set(echo.var, const_cast<char *>("at serve"), &token) == 0);
  REQUIRE(uvrun_server_serve(server, Echo::handler, &echo, nullptr) == 0);
  REQUIRE(uvrun_contextvar_set(echo.var, const_cast<char *>("after serve"), nullptr) == 0);
  int port = uvrun_server_port(server);
  int a = raw_client(port), b = raw_client(port);
  CHECK(write(a, "one", 3) == 3);
  CHECK(raw_read(loop, a) == "one");
  CHECK(write(b, "two", 3) == 3);
  CHECK(raw_read(loop, b) == "two");
  CHECK(server_info(server).open == 2);
  shutdown(a, SHUT_WR);  // the handler reads the end, returns, and its connection closes
  CHECK(raw_read(loop, a) == "");
  close(a);
  close(b);
  while (server_info(server).open > 0) st::spin(loop, 0.001);
  CHECK(server_info(server).accepted == 2);
  REQUIRE(echo.seen.size() == 2);
  CHECK(echo.seen[0] == "at serve");
  CHECK(echo.seen[1] == "at serve");
  CHECK(uvrun_contextvar_reset(echo.var, token) == 0);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
  uvrun_contextvar_free(echo.var);
}

TEST_CASE("V3: a failing handler is reported to the loop's exception handler, and the server goes on") {
  uvrun_loop_t *loop = t::new_loop();
  t::Reports reports;
  reports.install(loop);
  uvrun_server_t *server = listen_local(loop);
  Echo echo;
  REQUIRE(uvrun_contextvar_new("who", 0, nullptr, &echo.var) == 0);
  echo.fail_with = UVRUN_E_INVAL;
  REQUIRE(uvrun_server_serve(server, Echo::handler, &echo, nullptr) == 0);
  int port = uvrun_server_port(server);
  for (int i = 0; i < 2; i++) {
    int c = raw_client(port);
    CHECK(write(c, "hi", 2) == 2);
    CHECK(raw_read(loop, c) == "hi");
    CHECK(raw_read(loop, c) == "");  // its handler failed: the connection closed
    close(c);
  }
  while (server_info(server).open > 0) st::spin(loop, 0.001);
  REQUIRE(reports.list.size() == 2);
  CHECK(reports.list[0].message == "Unhandled exception in client_connected_cb");
  CHECK(reports.list[0].code == UVRUN_E_INVAL);
  CHECK(reports.list[0].error_message == "the handler broke");
  CHECK(server_info(server).listening == 1);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
  uvrun_contextvar_free(echo.var);
}

TEST_CASE("V2 V3: serve takes over connections accepted for nobody; a second serve fails") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  Echo echo;
  REQUIRE(uvrun_contextvar_new("who", 0, nullptr, &echo.var) == 0);
  uvrun_future_t *dropped = uvrun_server_accept(server);
  int c = raw_client(uvrun_server_port(server));
  while (!uvrun_future_done(dropped)) st::spin(loop, 0.001);
  uvrun_future_unref(dropped);
  REQUIRE(uvrun_server_serve(server, Echo::handler, &echo, nullptr) == 0);
  CHECK(write(c, "z", 1) == 1);
  CHECK(raw_read(loop, c) == "z");
  CHECK(uvrun_server_serve(server, Echo::handler, &echo, nullptr) == UVRUN_E_INVALID_STATE);
  CHECK(uvrun_server_serve(server, nullptr, nullptr, nullptr) == UVRUN_E_INVAL);
  close(c);
  while (server_info(server).open > 0) st::spin(loop, 0.001);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
  uvrun_contextvar_free(echo.var);
}

TEST_CASE("U3: a stream adopts a socket the caller connected") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  int fd = raw_client(uvrun_server_port(server));
  REQUIRE(fd >= 0);
  uvrun_stream_t *adopted = nullptr;
  REQUIRE(uvrun_stream_open(loop, fd, nullptr, &adopted) == 0);
  uvrun_stream_t *conn = accept_one(loop, server);
  CHECK(uvrun_stream_write(adopted, "via fd", 6) == 0);
  CHECK(st::read_n(loop, conn, 6) == "via fd");
  CHECK(st::info(adopted).fd == fd);
  CHECK(st::info(adopted).peer_port == uvrun_server_port(server));
  release(loop, adopted, conn);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: an accept the caller completes itself carries no connection, and the server goes on") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  uvrun_future_t *fut = uvrun_server_accept(server);
  REQUIRE(fut != nullptr);
  CHECK(uvrun_future_set_result(fut, t::iv(7), nullptr) == 0);
  void *v = nullptr;
  CHECK(uvrun_future_result(fut, &v) == 0);
  CHECK(v == t::iv(7));
  uvrun_future_unref(fut);
  int client = raw_client(uvrun_server_port(server));
  uvrun_stream_t *conn = accept_one(loop, server);
  CHECK(write(client, "ok", 2) == 2);
  CHECK(st::read_n(loop, conn, 2) == "ok");
  uvrun_stream_unref(conn);
  close(client);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V3: serve's ud_free runs when the server is freed, or at once when serve fails") {
  uvrun_loop_t *loop = t::new_loop();
  static int freed;
  freed = 0;
  auto count_free = [](void *p) {
    CHECK(p == t::iv(42));
    freed++;
  };
  uvrun_server_t *server = listen_local(loop);
  Echo echo;
  REQUIRE(uvrun_contextvar_new("who", 0, nullptr, &echo.var) == 0);
  // Refused: the ud is released at once, each time.
  CHECK(uvrun_server_serve(server, nullptr, t::iv(42), count_free) == UVRUN_E_INVAL);
  CHECK(freed == 1);
  REQUIRE(uvrun_server_serve(server, Echo::handler, &echo, nullptr) == 0);
  CHECK(uvrun_server_serve(server, Echo::handler, t::iv(42), count_free) == UVRUN_E_INVALID_STATE);
  CHECK(freed == 2);
  uvrun_server_unref(server);
  server = listen_local(loop);
  REQUIRE(uvrun_server_serve(server, Echo::handler, t::iv(42), count_free) == 0);
  CHECK(uvrun_server_close(server) == 0);
  CHECK(uvrun_server_serve(server, Echo::handler, t::iv(42), count_free) == UVRUN_E_STREAM_CLOSED);
  CHECK(freed == 3);
  uvrun_server_unref(server);
  st::spin(loop, 0.001);  // its sockets' handles close
  CHECK(freed == 4);      // its own ud, with the server
  CHECK(uvrun_loop_free(loop) == 0);
  uvrun_contextvar_free(echo.var);
}
