// TCP connect: numeric hosts and names, Happy Eyeballs (T1), options (T2),
// cancellation (T3), each failure with its code and address (T4), and bad
// input (E).
#include <doctest/doctest.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <uvrun.h>

#include <chrono>
#include <string>

#include "socket_support.h"
#include "stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("sockets");

namespace {

int sockopt(const uvrun_stream_t *stream, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  REQUIRE(getsockopt(st::info(stream).fd, level, name, &v, &len) == 0);
  return v;
}

// A listener made with the system calls on [::1] or 127.0.0.1 at `port` (0:
// any); `full`: its backlog is filled, so connects to it stay pending.
struct RawListener {
  int fd = -1, filler = -1, port = 0;
  RawListener(int family, int want_port, bool full) {
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_storage ss = {};
    socklen_t len = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    fill(&ss, family, want_port);
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&ss), len) == 0);
    REQUIRE(listen(fd, full ? 0 : 16) == 0);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0);
    port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port
                                    : reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
    if (!full) return;
    filler = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(connect(filler, reinterpret_cast<sockaddr *>(&ss), len) == 0);
  }
  static void fill(sockaddr_storage *ss, int family, int port) {
    if (family == AF_INET6) {
      auto *sa = reinterpret_cast<sockaddr_in6 *>(ss);
      sa->sin6_family = AF_INET6;
      sa->sin6_port = htons((uint16_t)port);
      sa->sin6_addr = in6addr_loopback;
    } else {
      auto *sa = reinterpret_cast<sockaddr_in *>(ss);
      sa->sin_family = AF_INET;
      sa->sin_port = htons((uint16_t)port);
      sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
  }
  ~RawListener() {
    if (filler >= 0) close(filler);
    close(fd);
  }
};

// A port on which nothing listens, on both loopback addresses.
int free_port() {
  RawListener probe(AF_INET6, 0, false);
  return probe.port;
}

}  // namespace

TEST_CASE("T1: a name is looked up, then connected") {
  uvrun_loop_t *loop = t::new_loop();
  RawListener server(AF_INET, 0, false);
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "localhost", server.port, nullptr));
    REQUIRE(w.rc == 0);
    CHECK(std::string(st::info(static_cast<uvrun_stream_t *>(w.value)).peer_host) == "127.0.0.1");
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

// In a child whose /etc/hosts gives he.test both loopback addresses: the
// first address getaddrinfo gives is made pending (a full backlog) or
// refusing, and the second accepts.
static void happy_eyeballs(bool first_pending) {
  t::check_child(sk::with_hosts("::1 he.test\n127.0.0.1 he.test\n", [first_pending]() -> int {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    int first_family;
    {
      sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, "he.test", "80", 0, SOCK_STREAM));
      CHILD_EXPECT(w.rc == 0, 2);
      auto *a = static_cast<const uvrun_address_t *>(w.value);
      CHILD_EXPECT(a->next != nullptr && a->next->family != a->family, 3);
      first_family = a->family;
    }
    int second_family = first_family == AF_INET ? AF_INET6 : AF_INET;
    RawListener good(second_family, 0, false);
    int fds_before = sk::count_fds();
    double elapsed;
    {
      // The first address: a full backlog (pending) on the same port, or
      // nothing there (refused).
      RawListener *slow = first_pending ? new RawListener(first_family, good.port, true) : nullptr;
      auto t0 = std::chrono::steady_clock::now();
      sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "he.test", good.port, nullptr));
      elapsed = t::since(t0);
      CHILD_EXPECT(w.rc == 0, 4);
      uvrun_stream_info_t info = st::info(static_cast<uvrun_stream_t *>(w.value));
      CHILD_EXPECT(std::string(info.peer_host) == (second_family == AF_INET ? "127.0.0.1" : "::1"), 5);
      delete slow;
    }
    st::spin(loop, 0.01);
    // The loser's socket is closed, as is the winner's (dropped above).
    CHILD_EXPECT(sk::count_fds() == fds_before, 6);
    if (first_pending) {
      CHILD_EXPECT(elapsed >= 0.24 && elapsed < 1.0, 7);
    } else {
      CHILD_EXPECT(elapsed < 0.2, 8);
    }
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 9);
    return 0;
  }));
}

TEST_CASE("T1: Happy Eyeballs: the next address starts 250 ms after a pending one, and the first to connect wins") {
  happy_eyeballs(true);
}

TEST_CASE("T1: Happy Eyeballs: the next address starts at once when one fails") { happy_eyeballs(false); }

TEST_CASE("T4: when every address fails, the first one's code stands and each is named") {
  t::check_child(sk::with_hosts("::1 he.test\n127.0.0.1 he.test\n", []() -> int {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    int port = free_port();
    {
      sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "he.test", port, nullptr));
      CHILD_EXPECT(w.rc == -ECONNREFUSED, 2);
      std::string p = std::to_string(port);
      CHILD_EXPECT(
          w.message == "connect to [::1]:" + p + ": connection refused; 127.0.0.1:" + p + ": connection refused" ||
              w.message == "connect to 127.0.0.1:" + p + ": connection refused; [::1]:" + p + ": connection refused",
          3);
    }
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 4);
    return 0;
  }));
}

// RFC 8305 section 4: the resolver gives IPv4, IPv4, IPv6 (gai.conf prefers
// IPv4 here); the attempts alternate the families.
TEST_CASE("T1: Happy Eyeballs takes the families in turn") {
  const char *prefer_ipv4 = "precedence ::ffff:0:0/96 100\nprecedence ::1/128 50\nprecedence ::/0 40\n";
  t::check_child(sk::with_hosts(
      "127.0.0.1 he.test\n127.0.0.2 he.test\n::1 he.test\n",
      []() -> int {
        uvrun_loop_t *loop = nullptr;
        CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
        int port = free_port();
        std::string p = std::to_string(port);
        {
          sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, "he.test", p.c_str(), 0, SOCK_STREAM));
          CHILD_EXPECT(w.rc == 0, 2);
          std::string order;
          for (auto *a = static_cast<const uvrun_address_t *>(w.value); a != nullptr; a = a->next)
            order += std::string(a->host) + " ";
          CHILD_EXPECT(order == "127.0.0.1 127.0.0.2 ::1 ", 3);
        }
        {
          sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "he.test", port, nullptr));
          CHILD_EXPECT(w.rc == -ECONNREFUSED, 4);
          CHILD_EXPECT(w.message == "connect to 127.0.0.1:" + p + ": connection refused; [::1]:" + p +
                                        ": connection refused; 127.0.0.2:" + p + ": connection refused",
                       5);
        }
        CHILD_EXPECT(uvrun_loop_free(loop) == 0, 6);
        return 0;
      },
      prefer_ipv4));
}

TEST_CASE("T2: nodelay is on by default, off on request; keepalive sets its delay") {
  uvrun_loop_t *loop = t::new_loop();
  RawListener server(AF_INET, 0, false);
  uvrun_stream_opts_t opts;
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", server.port, nullptr));
    REQUIRE(w.rc == 0);
    CHECK(sockopt(static_cast<uvrun_stream_t *>(w.value), IPPROTO_TCP, TCP_NODELAY) == 1);
    CHECK(sockopt(static_cast<uvrun_stream_t *>(w.value), SOL_SOCKET, SO_KEEPALIVE) == 0);
  }
  uvrun_stream_opts_init(&opts);
  opts.nodelay = 0;
  opts.keepalive = 30;
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", server.port, &opts));
    REQUIRE(w.rc == 0);
    auto *s = static_cast<uvrun_stream_t *>(w.value);
    CHECK(sockopt(s, IPPROTO_TCP, TCP_NODELAY) == 0);
    CHECK(sockopt(s, SOL_SOCKET, SO_KEEPALIVE) == 1);
    CHECK(sockopt(s, IPPROTO_TCP, TCP_KEEPIDLE) == 30);
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("T2: the connection is made from the local address and port asked for") {
  uvrun_loop_t *loop = t::new_loop();
  RawListener server(AF_INET, 0, false);
  int local = free_port();
  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.local_host = "127.0.0.1";
  opts.local_port = local;
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", server.port, &opts));
    REQUIRE(w.rc == 0);
    CHECK(st::info(static_cast<uvrun_stream_t *>(w.value)).local_port == local);
  }
  // A local address of the other family matches no address to connect to.
  opts.local_host = "::1";
  opts.local_port = 0;
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", server.port, &opts));
    CHECK(w.rc == UV_EAFNOSUPPORT);
  }
  opts.local_host = "localhost";
  CHECK(uvrun_tcp_connect(loop, "127.0.0.1", server.port, &opts) == nullptr);
  CHECK(t::take_error().message == "local_host must be a numeric address, not \"localhost\"");
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("T2 T4: connect_timeout fails a pending connect with UVRUN_E_TIMEDOUT naming the address") {
  uvrun_loop_t *loop = t::new_loop();
  sk::FullListener silent;
  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.connect_timeout = 0.2;
  int fds_before = sk::count_fds();
  auto t0 = std::chrono::steady_clock::now();
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", silent.port, &opts));
    CHECK(w.rc == UVRUN_E_TIMEDOUT);
    CHECK(w.message == "connect to 127.0.0.1:" + std::to_string(silent.port) + ": timed out after 0.2 s");
  }
  CHECK(t::since(t0) >= 0.19);
  st::spin(loop, 0.01);
  CHECK(sk::count_fds() == fds_before);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("T3: a cancelled connect closes its sockets, also through wait_for") {
  uvrun_loop_t *loop = t::new_loop();
  sk::FullListener silent;
  int fds_before = sk::count_fds();
  uvrun_future_t *fut = uvrun_tcp_connect(loop, "127.0.0.1", silent.port, nullptr);
  REQUIRE(fut != nullptr);
  st::spin(loop, 0.05);
  CHECK(sk::count_fds() == fds_before + 1);  // its socket, connecting
  CHECK(uvrun_future_cancel(fut, nullptr) == 1);
  CHECK(sk::count_fds() == fds_before);
  uvrun_future_unref(fut);
  {
    sk::Waited w = sk::wait(loop, uvrun_wait_for(uvrun_tcp_connect(loop, "127.0.0.1", silent.port, nullptr), 0.05));
    CHECK(w.rc == UVRUN_E_TIMEDOUT);
  }
  CHECK(sk::count_fds() == fds_before);
  st::spin(loop, 0.01);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("T3: a connect cancelled with two attempts out closes both, and one dropped pending too") {
  t::check_child(sk::with_hosts("::1 he.test\n127.0.0.1 he.test\n", []() -> int {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    RawListener v6(AF_INET6, 0, true);
    RawListener v4(AF_INET, v6.port, true);
    int fds_before = sk::count_fds();
    uvrun_future_t *fut = uvrun_tcp_connect(loop, "he.test", v6.port, nullptr);
    CHILD_EXPECT(fut != nullptr, 2);
    st::spin(loop, 0.4);
    CHILD_EXPECT(sk::count_fds() == fds_before + 2, 3);
    CHILD_EXPECT(uvrun_future_cancel(fut, nullptr) == 1, 4);
    CHILD_EXPECT(sk::count_fds() == fds_before, 5);
    uvrun_future_unref(fut);
    fut = uvrun_tcp_connect(loop, "he.test", v6.port, nullptr);
    st::spin(loop, 0.05);
    CHILD_EXPECT(sk::count_fds() == fds_before + 1, 6);
    uvrun_future_unref(fut);
    CHILD_EXPECT(sk::count_fds() == fds_before, 7);
    st::spin(loop, 0.01);
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 8);
    return 0;
  }));
}

TEST_CASE("T4: refused, unreachable and unknown host each have their code and a message naming the address") {
  uvrun_loop_t *loop = t::new_loop();
  sk::ClosedPort closed;
  {
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", closed.port, nullptr));
    CHECK(w.rc == -ECONNREFUSED);
    CHECK(w.message == "connect to 127.0.0.1:" + std::to_string(closed.port) + ": connection refused");
  }
  {
    // The kernel does not route TCP to the broadcast address.
    sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "255.255.255.255", 80, nullptr));
    CHECK(w.rc == -ENETUNREACH);
    CHECK(w.message == "connect to 255.255.255.255:80: network is unreachable");
  }
  CHECK(uvrun_loop_free(loop) == 0);
  t::check_child(sk::with_hosts("127.0.0.1 localhost\n", []() -> int {
    uvrun_loop_t *child_loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&child_loop) == 0, 1);
    {
      sk::Waited w = sk::wait(child_loop, uvrun_tcp_connect(child_loop, "nope.invalid", 80, nullptr));
      CHILD_EXPECT(w.rc == UV_EAI_NONAME, 2);
      CHILD_EXPECT(w.message == "getaddrinfo(\"nope.invalid\"): unknown node or service", 3);
      // Not a numeric address: a name, which is unknown too.
      sk::Waited v = sk::wait(child_loop, uvrun_tcp_connect(child_loop, "1.2.3.4.5", 80, nullptr));
      CHILD_EXPECT(v.rc == UV_EAI_NONAME, 4);
    }
    CHILD_EXPECT(uvrun_loop_free(child_loop) == 0, 5);
    return 0;
  }));
}

TEST_CASE("E: connect needs a host and a port 1..65535, and sane options") {
  uvrun_loop_t *loop = t::new_loop();
  CHECK(uvrun_tcp_connect(loop, "127.0.0.1", 0, nullptr) == nullptr);
  CHECK(t::take_error().message == "tcp_connect: port must be 1..65535, not 0");
  CHECK(uvrun_tcp_connect(loop, "127.0.0.1", 65536, nullptr) == nullptr);
  CHECK(t::take_error().message == "tcp_connect: port must be 1..65535, not 65536");
  CHECK(uvrun_tcp_connect(loop, "", 80, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_tcp_connect(loop, nullptr, 80, nullptr) == nullptr);
  CHECK(t::take_error().message == "tcp_connect: a host is needed");
  CHECK(uvrun_tcp_connect(nullptr, "127.0.0.1", 80, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  uvrun_stream_opts_t opts;
  uvrun_stream_opts_init(&opts);
  opts.connect_timeout = -1;
  CHECK(uvrun_tcp_connect(loop, "127.0.0.1", 80, &opts) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: out of descriptors, a connect fails with -EMFILE and the loop goes on") {
  t::check_child(t::in_child([]() -> int {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    RawListener server(AF_INET, 0, false);
    struct rlimit lim = {64, 64};
    CHILD_EXPECT(setrlimit(RLIMIT_NOFILE, &lim) == 0, 2);
    std::vector<int> hogs;
    for (int fd; (fd = dup(0)) >= 0;) hogs.push_back(fd);
    {
      sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", server.port, nullptr));
      CHILD_EXPECT(w.rc == -EMFILE, 3);
      CHILD_EXPECT(w.message == "connect to 127.0.0.1:" + std::to_string(server.port) + ": too many open files", 4);
    }
    // Two free: libuv keeps one in reserve for its own accept loop.
    for (int i = 0; i < 2; i++) {
      close(hogs.back());
      hogs.pop_back();
    }
    {
      sk::Waited w = sk::wait(loop, uvrun_tcp_connect(loop, "127.0.0.1", server.port, nullptr));
      CHILD_EXPECT(w.rc == 0, 5);
    }
    for (int fd : hogs) close(fd);
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 6);
    return 0;
  }));
}
