// A server's life: close (V4), graceful shutdown (V5), running out of
// descriptors (V6), its counts (V7), runner close (L1, L2), and bad input
// (E).
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/resource.h>
#include <uvrun.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "socket_support.h"
#include "stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("sockets");

namespace {

uvrun_server_t *listen_local(uvrun_loop_t *loop) {
  sk::Waited w = sk::wait(loop, uvrun_tcp_listen(loop, "127.0.0.1", 0, nullptr));
  REQUIRE(w.rc == 0);
  return uvrun_server_ref(static_cast<uvrun_server_t *>(w.value));
}

uvrun_server_info_t server_info(const uvrun_server_t *server) {
  uvrun_server_info_t i;
  i.size = sizeof i;
  REQUIRE(uvrun_server_info(server, &i) == 0);
  return i;
}

// A client made with the system calls, connected to 127.0.0.1:port; or
// the negative errno of its connect.
int raw_client(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0) return fd;
  int e = errno;
  close(fd);
  return -e;
}

// What a raw socket reads within a second, the loop (if any) running
// meanwhile: "" at the end of the stream, "(error N)" for errno N.
std::string raw_read(uvrun_loop_t *loop, int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  char buf[256];
  for (int i = 0; i < 1000 && poll(&p, 1, loop != nullptr ? 0 : 1) == 0; i++)
    if (loop != nullptr) st::spin(loop, 0.001);
  if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) return "(nothing)";
  ssize_t n = read(fd, buf, sizeof buf);
  return n < 0 ? "(error " + std::to_string(errno) + ")" : std::string(buf, (size_t)n);
}

// A handler that reads a chunk, answers "done:<chunk>" `delay` seconds
// later and returns; cancelled, it notes it and ends.
struct Slow {
  double delay = 0;
  int cancelled = 0, finished = 0;
  struct Conn {
    char buf[64];
    size_t n = 0;
    int step = 0;
  };
  static int handler(uvrun_task_t *task, uvrun_stream_t *stream, void *ud) {
    auto *self = static_cast<Slow *>(ud);
    auto *c = static_cast<Conn *>(uvrun_stream_data(stream));
    if (c == nullptr) {
      c = new Conn;
      uvrun_stream_set_data(stream, c, [](void *p) { delete static_cast<Conn *>(p); });
      return uvrun_task_await(task, uvrun_stream_read(stream, c->buf, sizeof c->buf));
    }
    void *v = nullptr;
    int rc = uvrun_task_resume(task, &v);
    if (rc == UVRUN_E_CANCELLED) self->cancelled++;
    if (rc < 0) return rc;
    if (++c->step == 1) {
      c->n = reinterpret_cast<uintptr_t>(v);
      return uvrun_task_sleep(task, self->delay);
    }
    std::string reply = "done:" + std::string(c->buf, c->n);
    uvrun_stream_write(stream, reply.data(), reply.size());
    self->finished++;
    return uvrun_task_return(task, nullptr);
  }
};

}  // namespace

TEST_CASE("V4: close stops listening at once, leaves connections alone, and is idempotent") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  int port = uvrun_server_port(server);
  int client = raw_client(port);
  uvrun_stream_t *conn = nullptr;
  {
    sk::Waited w = sk::wait(loop, uvrun_server_accept(server));
    REQUIRE(w.rc == 0);
    conn = uvrun_stream_ref(static_cast<uvrun_stream_t *>(w.value));
  }
  uvrun_future_t *waiting = uvrun_server_accept(server);
  REQUIRE(waiting != nullptr);
  CHECK(uvrun_server_close(server) == 0);
  CHECK(server_info(server).listening == 0);
  CHECK(raw_client(port) == -ECONNREFUSED);  // at once: no iteration needed
  CHECK(uvrun_server_close(server) == 0);
  {
    sk::Waited w = sk::wait(loop, waiting);
    CHECK(w.rc == UVRUN_E_STREAM_CLOSED);
    CHECK(w.message == "the server is closed");
  }
  CHECK(uvrun_server_accept(server) == nullptr);
  CHECK(t::take_error().message == "the server is closed");
  CHECK(uvrun_server_serve(server, Slow::handler, nullptr, nullptr) == UVRUN_E_STREAM_CLOSED);
  // The connection it had goes on.
  CHECK(write(client, "still", 5) == 5);
  CHECK(st::read_n(loop, conn, 5) == "still");
  CHECK(uvrun_stream_write(conn, "here", 4) == 0);
  CHECK(raw_read(loop, client) == "here");
  uvrun_stream_unref(conn);
  close(client);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V5: shutdown lets the handlers finish within the grace period, and is done when they are") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  Slow slow;
  slow.delay = 0.1;
  REQUIRE(uvrun_server_serve(server, Slow::handler, &slow, nullptr) == 0);
  int port = uvrun_server_port(server);
  int a = raw_client(port), b = raw_client(port);
  CHECK(write(a, "a", 1) == 1);
  CHECK(write(b, "b", 1) == 1);
  while (server_info(server).accepted < 2) st::spin(loop, 0.001);
  auto t0 = std::chrono::steady_clock::now();
  {
    sk::Waited w = sk::wait(loop, uvrun_server_shutdown(server, 5.0, 0));
    CHECK(w.rc == 0);
  }
  CHECK(t::since(t0) < 1.0);
  CHECK(slow.finished == 2);
  CHECK(slow.cancelled == 0);
  CHECK(raw_read(loop, a) == "done:a");
  CHECK(raw_read(loop, b) == "done:b");
  CHECK(raw_read(loop, a) == "");  // closed after its handler ended
  CHECK(raw_client(port) == -ECONNREFUSED);
  close(a);
  close(b);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

static void shutdown_past_grace(int then_abort) {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  Slow slow;  // waits for a chunk the client never sends
  REQUIRE(uvrun_server_serve(server, Slow::handler, &slow, nullptr) == 0);
  int client = raw_client(uvrun_server_port(server));
  while (server_info(server).accepted < 1) st::spin(loop, 0.001);
  uvrun_future_t *fut = uvrun_server_shutdown(server, 0.1, then_abort);
  REQUIRE(fut != nullptr);
  st::spin(loop, 0.05);
  CHECK_FALSE(uvrun_future_done(fut));  // within the grace period
  auto t0 = std::chrono::steady_clock::now();
  {
    sk::Waited w = sk::wait(loop, fut);
    CHECK(w.rc == 0);
  }
  CHECK(t::since(t0) < 0.5);
  CHECK(slow.cancelled == 1);
  // close: the end of the stream; abort: a reset.
  CHECK(raw_read(loop, client) == (then_abort ? "(error " + std::to_string(ECONNRESET) + ")" : ""));
  close(client);
  while (server_info(server).open > 0) st::spin(loop, 0.001);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V5: after the grace period the handlers left are cancelled and their streams closed") {
  shutdown_past_grace(0);
}

TEST_CASE("V5: after the grace period the handlers left are cancelled and their streams aborted") {
  shutdown_past_grace(1);
}

TEST_CASE("V5: a shutdown with no handler is done at once; bad arguments fail") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  CHECK(uvrun_server_shutdown(server, -1, 0) == nullptr);
  CHECK(t::take_error().message == "grace must be >= 0 seconds");
  CHECK(uvrun_server_shutdown(server, NAN, 0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_server_shutdown(server, 1, 2) == nullptr);
  CHECK(t::take_error().message == "then_abort must be 0 (close) or 1 (abort)");
  CHECK(server_info(server).listening == 1);
  {
    sk::Waited w = sk::wait(loop, uvrun_server_shutdown(server, INFINITY, 0));
    CHECK(w.rc == 0);
  }
  CHECK(server_info(server).listening == 0);
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("V6 V7: out of descriptors, accept logs once, backs off without spinning, and accepts again later") {
  t::check_child(t::in_child([]() -> int {
    t::LogCapture logs;
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    uvrun_server_t *server = listen_local(loop);
    Slow slow;
    CHILD_EXPECT(uvrun_server_serve(server, Slow::handler, &slow, nullptr) == 0, 2);
    int client = raw_client(uvrun_server_port(server));  // waits in the backlog
    CHILD_EXPECT(client >= 0, 3);
    CHILD_EXPECT(write(client, "x", 1) == 1, 4);
    struct rlimit lim = {64, 64};
    CHILD_EXPECT(setrlimit(RLIMIT_NOFILE, &lim) == 0, 5);
    std::vector<int> hogs;
    for (int fd; (fd = dup(0)) >= 0;) hogs.push_back(fd);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    st::spin(loop, 0.35);
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    uvrun_server_info_t info = server_info(server);
    printf("cpu %.3f s, refused %llu\n", cpu, (unsigned long long)info.refused);
    CHILD_EXPECT(cpu < 0.15, 6);                              // no busy loop
    CHILD_EXPECT(info.refused >= 2 && info.refused <= 6, 7);  // one try per 100 ms
    CHILD_EXPECT(info.accepted == 0 && info.listening == 1, 8);
    CHILD_EXPECT(logs.count("cannot accept a connection: too many open files") == 1, 9);
    for (int i = 0; i < 4; i++) {
      close(hogs.back());
      hogs.pop_back();
    }
    // The connection waited in the backlog: it is served now.
    CHILD_EXPECT(raw_read(loop, client) == "done:x", 10);
    info = server_info(server);
    CHILD_EXPECT(info.accepted == 1 && info.listening == 1, 11);
    for (int fd : hogs) close(fd);
    close(client);
    while (server_info(server).open > 0) st::spin(loop, 0.001);
    uvrun_server_unref(server);
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 12);
    return 0;
  }));
}

TEST_CASE("V7: a server counts the connections open, accepted in all, and refused") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  int port = uvrun_server_port(server);
  std::vector<int> clients;
  std::vector<uvrun_stream_t *> conns;
  for (int i = 0; i < 3; i++) {
    clients.push_back(raw_client(port));
    sk::Waited w = sk::wait(loop, uvrun_server_accept(server));
    REQUIRE(w.rc == 0);
    conns.push_back(uvrun_stream_ref(static_cast<uvrun_stream_t *>(w.value)));
  }
  uvrun_server_info_t info = server_info(server);
  CHECK(info.open == 3);
  CHECK(info.accepted == 3);
  CHECK(info.refused == 0);
  for (int i = 0; i < 2; i++) {
    CHECK(uvrun_stream_close(conns[i]) == 0);
    CHECK(st::await(loop, uvrun_stream_wait_closed(conns[i])) == 0);
  }
  info = server_info(server);
  CHECK(info.open == 1);
  CHECK(info.accepted == 3);
  // The server's own end does not keep a connection open.
  uvrun_server_unref(server);
  for (uvrun_stream_t *c : conns) uvrun_stream_unref(c);
  for (int c : clients) close(c);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: every socket operation on a closed loop fails with UVRUN_E_LOOP_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_t *server = listen_local(loop);
  CHECK(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_tcp_listen(loop, "127.0.0.1", 0, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_unix_listen(loop, "/tmp/uvrun-closed.sock", nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_tcp_connect(loop, "127.0.0.1", 80, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_unix_connect(loop, "/tmp/uvrun-closed.sock", nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_server_accept(server) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_server_serve(server, Slow::handler, nullptr, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_server_shutdown(server, 1, 0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_server_port(server) == UVRUN_E_LOOP_CLOSED);
  uvrun_server_info_t info;
  info.size = sizeof info;
  CHECK(uvrun_server_info(server, &info) == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_server_close(server) == 0);  // closed with its loop already
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  uvrun_stream_t *stream = nullptr;
  CHECK(uvrun_stream_open(loop, fd, nullptr, &stream) == UVRUN_E_LOOP_CLOSED);
  CHECK(fcntl(fd, F_GETFD) == -1);  // it took the descriptor all the same
  uvrun_server_unref(server);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: bad server arguments fail at once with UVRUN_E_INVAL") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_server_opts_t opts;
  uvrun_server_opts_init(&opts);
  opts.backlog = -1;
  CHECK(uvrun_tcp_listen(loop, "127.0.0.1", 0, &opts) == nullptr);
  CHECK(t::take_error().message == "backlog must not be negative, not -1");
  uvrun_server_opts_init(&opts);
  opts.reuse_port = 2;
  CHECK(uvrun_tcp_listen(loop, "127.0.0.1", 0, &opts) == nullptr);
  CHECK(t::take_error().message == "reuse_port must be 0 or 1");
  uvrun_server_opts_init(&opts);
  opts.size = 0;
  CHECK(uvrun_tcp_listen(loop, "127.0.0.1", 0, &opts) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_tcp_listen(loop, "127.0.0.1", 65536, nullptr) == nullptr);
  CHECK(t::take_error().message == "port must be 0..65535 (0: any free port), not 65536");
  CHECK(uvrun_tcp_listen(loop, "127.0.0.1", -1, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_tcp_listen(nullptr, "127.0.0.1", 0, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_server_accept(nullptr) == nullptr);
  CHECK(t::take_error().message == "server must not be NULL");
  CHECK(uvrun_server_serve(nullptr, Slow::handler, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_server_close(nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_server_port(nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_server_shutdown(nullptr, 1, 0) == nullptr);
  CHECK(uvrun_server_info(nullptr, nullptr) == UVRUN_E_INVAL);
  uvrun_server_unref(nullptr);
  CHECK(uvrun_server_ref(nullptr) == nullptr);
  CHECK(uvrun_loop_free(loop) == 0);
}

namespace {

// L1's handler: cancelled at runner close, it tries a new connection to its
// own server, then says goodbye and drains.
struct Goodbye {
  int port = 0;
  int started = 0;
  int reconnect = 1;  // what the connect during the close gave
  char buf[16];
  int step = 0;
  static int handler(uvrun_task_t *task, uvrun_stream_t *stream, void *ud) {
    auto *self = static_cast<Goodbye *>(ud);
    switch (self->step++) {
    case 0: self->started = 1; return uvrun_task_await(task, uvrun_stream_read(stream, self->buf, sizeof self->buf));
    case 1: {
      CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED);
      int fd = raw_client(self->port);
      self->reconnect = fd < 0 ? fd : 0;
      if (fd >= 0) close(fd);
      uvrun_stream_write(stream, "bye", 3);
      return uvrun_task_await(task, uvrun_stream_drain(stream));
    }
    default: return uvrun_task_return(task, nullptr);
    }
  }
};

}  // namespace

TEST_CASE("L1: at runner close servers stop listening first; handlers, cancelled, may still say goodbye") {
  Goodbye bye;
  int client = -1;
  uvrun_server_t *kept = nullptr;
  uvrun_stream_t *leaked = nullptr;
  int leaked_peer = -1;
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    switch (step) {
    case 0: return uvrun_task_await(task, uvrun_tcp_listen(loop, "127.0.0.1", 0, nullptr));
    case 1: {
      void *v = nullptr;
      REQUIRE(uvrun_task_resume(task, &v) == 0);
      auto *server = static_cast<uvrun_server_t *>(v);
      bye.port = uvrun_server_port(server);
      REQUIRE(uvrun_server_serve(server, Goodbye::handler, &bye, nullptr) == 0);
      kept = uvrun_server_ref(server);  // open past the main task: the close stops it
      client = raw_client(bye.port);
      // A stream no task closes: the close aborts it.
      int sv[2];
      REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
      REQUIRE(uvrun_stream_open(loop, sv[0], nullptr, &leaked) == 0);
      leaked_peer = sv[1];
      return uvrun_task_sleep(task, 0.05);
    }
    default: CHECK(bye.started == 1); return uvrun_task_return(task, nullptr);
    }
  });
  CHECK(rc == 0);
  CHECK(bye.reconnect == -ECONNREFUSED);
  CHECK(raw_read(nullptr, client) == "bye");
  CHECK(raw_read(nullptr, client) == "");
  CHECK(raw_read(nullptr, leaked_peer) == "");
  CHECK(st::info(leaked).closed == 1);
  uvrun_server_info_t info;
  info.size = sizeof info;
  CHECK(uvrun_server_info(kept, &info) == UVRUN_E_LOOP_CLOSED);
  uvrun_server_unref(kept);
  uvrun_stream_unref(leaked);
  close(client);
  close(leaked_peer);
}

TEST_CASE("L2: nothing a run opened survives its runner: no descriptor is left") {
  uvrun_release_memory();
  int before = sk::count_fds();
  uvrun_server_t *server = nullptr;
  std::vector<uvrun_stream_t *> kept;  // left open: the runner's close aborts them
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    void *v = nullptr;
    switch (step) {
    case 0: return uvrun_task_await(task, uvrun_tcp_listen(loop, nullptr, 0, nullptr));
    case 1:
      REQUIRE(uvrun_task_resume(task, &v) == 0);
      server = uvrun_server_ref(static_cast<uvrun_server_t *>(v));
      return uvrun_task_await(task, uvrun_tcp_connect(loop, "127.0.0.1", uvrun_server_port(server), nullptr));
    case 2:
      REQUIRE(uvrun_task_resume(task, &v) == 0);
      kept.push_back(uvrun_stream_ref(static_cast<uvrun_stream_t *>(v)));
      return uvrun_task_await(task, uvrun_server_accept(server));
    case 3:
      REQUIRE(uvrun_task_resume(task, &v) == 0);
      kept.push_back(uvrun_stream_ref(static_cast<uvrun_stream_t *>(v)));
      return uvrun_task_await(task, uvrun_getaddrinfo(loop, "localhost", "80", 0, SOCK_STREAM));
    default: return uvrun_task_return(task, nullptr);
    }
  });
  CHECK(rc == 0);
  uvrun_release_memory();
  CHECK(sk::count_fds() == before);
  for (uvrun_stream_t *s : kept) CHECK(st::info(s).closed == 1);
  for (uvrun_stream_t *s : kept) uvrun_stream_unref(s);
  uvrun_server_unref(server);
}
