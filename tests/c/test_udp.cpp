// UDP datagrams (G1): bind, connect, send_to, recv_from (cancel-safe),
// zero-length and too-long datagrams, multicast, closing, what a run leaves
// behind (L1-L3), and bad input (E).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <dlfcn.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "c/socket_support.h"
#include "c/stream_support.h"
#include "support.h"

// The next `sendmsg_eagain` calls of sendmsg() fail with EAGAIN, as on a
// socket whose send buffer is full (a loopback UDP socket's never is): the
// test binary's definition comes before libc's for libuv too.
static int sendmsg_eagain = 0;
extern "C" ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  using sendmsg_fn = ssize_t (*)(int, const struct msghdr *, int);
  static sendmsg_fn real = reinterpret_cast<sendmsg_fn>(dlsym(RTLD_NEXT, "sendmsg"));
  if (sendmsg_eagain > 0) {
    sendmsg_eagain--;
    errno = EAGAIN;
    return -1;
  }
  return real(fd, msg, flags);
}

TEST_SUITE_BEGIN("datagrams");

namespace {

uvrun_udp_t *bound(uvrun_loop_t *loop, const char *host = "127.0.0.1") {
  uvrun_udp_t *udp = nullptr;
  REQUIRE(uvrun_udp_bind(loop, host, 0, nullptr, &udp) == 0);
  REQUIRE(udp != nullptr);
  return udp;
}

uvrun_address_t local(const uvrun_udp_t *udp) {
  uvrun_address_t a;
  REQUIRE(uvrun_udp_sockname(udp, &a) == 0);
  return a;
}

uvrun_udp_info_t info(const uvrun_udp_t *udp) {
  uvrun_udp_info_t i;
  std::memset(&i, 0, sizeof i);
  i.size = sizeof i;
  REQUIRE(uvrun_udp_info(udp, &i) == 0);
  return i;
}

int send(uvrun_udp_t *from, const uvrun_udp_t *to, const std::string &data) {
  uvrun_address_t a = local(to);
  return uvrun_udp_send_to(from, data.data(), data.size(), &a);
}

// One datagram received within 5 s (REQUIRE): its bytes, and its sender's
// port.
std::string recv(uvrun_loop_t *loop, uvrun_udp_t *udp, int *from_port = nullptr) {
  char buf[2048];
  uvrun_future_t *fut = uvrun_udp_recv_from(udp, buf, sizeof buf);
  REQUIRE(fut != nullptr);
  uvrun_future_t *bounded = uvrun_wait_for(uvrun_future_ref(fut), 5);
  void *value = nullptr;
  int rc = uvrun_loop_run_until_complete(loop, bounded, &value);
  uvrun_future_unref(bounded);
  REQUIRE(rc == 0);
  uvrun_address_t from;
  REQUIRE(uvrun_udp_recv_address(fut, &from) == 0);
  if (from_port != nullptr) *from_port = from.port;
  uvrun_future_unref(fut);
  return std::string(buf, reinterpret_cast<uintptr_t>(value));
}

void close_all(uvrun_loop_t *loop, std::initializer_list<uvrun_udp_t *> socks) {
  for (uvrun_udp_t *u : socks) {
    uvrun_udp_close(u);
    uvrun_udp_unref(u);
  }
  st::spin(loop, 0.001);
}

void cancel_task(uvrun_future_t *, void *task) { uvrun_task_cancel(static_cast<uvrun_task_t *>(task), nullptr); }

}  // namespace

TEST_CASE("G1: port 0 picks a free port that sockname reports; send_to and recv_from carry a datagram and its sender") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  uvrun_address_t la = local(a);
  CHECK(la.family == AF_INET);
  CHECK(std::string(la.host) == "127.0.0.1");
  CHECK(la.port > 0);
  CHECK(la.port != local(b).port);
  REQUIRE(send(a, b, "hello") == 0);
  int from = 0;
  CHECK(recv(loop, b, &from) == "hello");
  CHECK(from == la.port);
  CHECK(info(a).sent == 1);
  CHECK(info(b).received == 1);
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: IPv6: bound to ::1, a datagram comes from ::1") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop, "::1"), *b = bound(loop, "::1");
  CHECK(local(a).family == AF_INET6);
  REQUIRE(send(a, b, "six") == 0);
  char buf[8];
  uvrun_future_t *fut = uvrun_udp_recv_from(b, buf, sizeof buf);
  CHECK(st::await(loop, uvrun_future_ref(fut)) == 0);
  uvrun_address_t from;
  REQUIRE(uvrun_udp_recv_address(fut, &from) == 0);
  CHECK(std::string(from.host) == "::1");
  CHECK(from.port == local(a).port);
  uvrun_future_unref(fut);
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: a connected socket sends without an address and hears its peer only") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop), *other = bound(loop);
  REQUIRE(uvrun_udp_connect(a, "127.0.0.1", local(b).port) == 0);
  uvrun_address_t peer;
  REQUIRE(uvrun_udp_peername(a, &peer) == 0);
  CHECK(peer.port == local(b).port);
  CHECK(info(a).connected == 1);
  REQUIRE(uvrun_udp_send(a, "to b", 4) == 0);
  CHECK(recv(loop, b) == "to b");
  REQUIRE(send(other, a, "stranger") == 0);  // the kernel drops it: not a's peer
  REQUIRE(send(b, a, "from b") == 0);
  CHECK(recv(loop, a) == "from b");
  // E: a connected socket's send_to, a second connect.
  uvrun_address_t to = local(b);
  CHECK(uvrun_udp_send_to(a, "x", 1, &to) == UV_EISCONN);
  CHECK(std::string(uvrun_errmsg()).find("connected") != std::string::npos);
  CHECK(uvrun_udp_connect(a, "127.0.0.1", local(other).port) == UVRUN_E_INVALID_STATE);
  close_all(loop, {a, b, other});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: a zero-length datagram is legal: sent with a NULL or empty buffer, received with length 0") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  uvrun_address_t to = local(b);
  REQUIRE(uvrun_udp_send_to(a, nullptr, 0, &to) == 0);
  REQUIRE(uvrun_udp_send_to(a, "", 0, &to) == 0);
  REQUIRE(send(a, b, "after") == 0);
  CHECK(recv(loop, b) == "");
  CHECK(recv(loop, b) == "");
  CHECK(recv(loop, b) == "after");
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: a datagram longer than the buffer fails its receive with EMSGSIZE; the next one arrives whole") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  REQUIRE(send(a, b, "much too long") == 0);
  REQUIRE(send(a, b, "fits") == 0);
  char buf[8];
  CHECK(st::await(loop, uvrun_udp_recv_from(b, buf, sizeof buf)) == UV_EMSGSIZE);
  CHECK(std::string(uvrun_errmsg()).find("datagram of 13 bytes does not fit in a buffer of 8 bytes") !=
        std::string::npos);
  uintptr_t n = 0;
  CHECK(st::await(loop, uvrun_udp_recv_from(b, buf, sizeof buf), &n) == 0);
  CHECK(std::string(buf, n) == "fits");
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: a receive cancelled or timed out before its datagram came loses none") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  char buf[16];
  uvrun_future_t *fut = uvrun_udp_recv_from(b, buf, sizeof buf);
  st::spin(loop, 0.01);
  CHECK(uvrun_future_cancel(fut, nullptr) == 1);
  uvrun_future_unref(fut);
  CHECK(st::await(loop, uvrun_wait_for(uvrun_udp_recv_from(b, buf, sizeof buf), 0.02)) == UVRUN_E_TIMEDOUT);
  // Nobody receives now: the datagrams wait in the kernel, in order.
  REQUIRE(send(a, b, "one") == 0);
  REQUIRE(send(a, b, "two") == 0);
  st::spin(loop, 0.01);
  CHECK(info(b).received == 0);
  CHECK(recv(loop, b) == "one");
  CHECK(recv(loop, b) == "two");
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: a receive cancelled in the iteration its datagram arrived loses none") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  char buf[16];
  int resumed = 1;
  bool under_wait_for = false;
  SUBCASE("awaited itself") {}
  SUBCASE("under wait_for") { under_wait_for = true; }
  uvrun_task_t *receiver = t::spawn(loop, [&](uvrun_task_t *task, int step) -> int {
    if (step > 0) return resumed = uvrun_task_resume(task, nullptr);
    uvrun_future_t *r = uvrun_udp_recv_from(b, buf, sizeof buf);
    uvrun_future_t *awaited = under_wait_for ? uvrun_wait_for(uvrun_future_ref(r), 10) : uvrun_future_ref(r);
    // Runs before the task's wake-up: the receive is done, its datagram in
    // buf, and the task is cancelled before it resumes.
    REQUIRE(uvrun_future_add_done_callback(r, cancel_task, task) == 0);
    uvrun_future_unref(r);
    return uvrun_task_await(task, awaited);
  });
  REQUIRE(receiver != nullptr);
  st::spin(loop, 0.01);
  REQUIRE(send(a, b, "first") == 0);
  REQUIRE(send(a, b, "second") == 0);
  CHECK(st::await(loop, uvrun_future_ref(uvrun_task_future(receiver))) == UVRUN_E_CANCELLED);
  CHECK(resumed == UVRUN_E_CANCELLED);
  CHECK(std::string(buf, 5) == "first");  // copied, not consumed
  uvrun_task_unref(receiver);
  CHECK(recv(loop, b) == "first");
  CHECK(recv(loop, b) == "second");
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: a done receive dropped untaken loses nothing; one taken consumed its datagram once") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  char buf[16];
  REQUIRE(send(a, b, "abc") == 0);
  REQUIRE(send(a, b, "def") == 0);
  uvrun_future_t *fut = uvrun_udp_recv_from(b, buf, sizeof buf);
  st::spin(loop, 0.02);
  REQUIRE(uvrun_future_done(fut));
  uvrun_future_unref(fut);  // never taken, after the cancel
  fut = uvrun_udp_recv_from(b, buf, sizeof buf);
  void *value = nullptr;
  CHECK(st::await(loop, uvrun_future_ref(fut)) == 0);
  CHECK(uvrun_future_result(fut, &value) == 0);  // taken twice
  CHECK(std::string(buf, reinterpret_cast<uintptr_t>(value)) == "abc");
  uvrun_future_unref(fut);
  CHECK(recv(loop, b) == "def");
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: sends never wait: what the socket does not take is queued in order, and drain waits for it") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  CHECK(st::await(loop, uvrun_udp_drain(a)) == 0);  // nothing queued
  sendmsg_eagain = 1;                               // the socket takes nothing now
  REQUIRE(send(a, b, "queued 1") == 0);
  REQUIRE(send(a, b, "queued 2") == 0);  // behind it, even though the socket would take it
  CHECK(sendmsg_eagain == 0);
  CHECK(info(a).send_queued == 16);
  CHECK(info(a).sent == 0);
  CHECK(st::await(loop, uvrun_udp_drain(a)) == 0);
  CHECK(info(a).send_queued == 0);
  CHECK(info(a).sent == 2);
  CHECK(recv(loop, b) == "queued 1");
  CHECK(recv(loop, b) == "queued 2");
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: close sends what is queued, then closes; a waiting receive fails with STREAM_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  char buf[16];
  uvrun_future_t *waiting = uvrun_udp_recv_from(a, buf, sizeof buf);
  sendmsg_eagain = 1;
  REQUIRE(send(a, b, "last words") == 0);
  int fd = info(a).fd;
  REQUIRE(uvrun_udp_close(a) == 0);
  CHECK(uvrun_udp_close(a) == 0);  // idempotent
  CHECK(uvrun_future_done(waiting));
  CHECK(st::await(loop, waiting) == UVRUN_E_STREAM_CLOSED);
  CHECK(recv(loop, b) == "last words");
  st::spin(loop, 0.001);
  CHECK(fcntl(fd, F_GETFD) == -1);
  CHECK(info(a).fd == -1);
  CHECK(info(a).closed == 1);
  close_all(loop, {a, b});
  uvrun_loop_free(loop);
}

TEST_CASE("G1: multicast: a socket that joined a group hears what is sent to it, and leaves") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_opts_t opts;
  uvrun_udp_opts_init(&opts);
  opts.reuse_address = 1;
  uvrun_udp_t *member = nullptr, *sender = bound(loop);
  REQUIRE(uvrun_udp_bind(loop, "0.0.0.0", 0, &opts, &member) == 0);
  const char *iface = "127.0.0.1";
  int rc = uvrun_udp_join(member, "239.255.42.99", iface);
  if (rc == UV_ENODEV || rc == UV_EADDRNOTAVAIL) {  // no multicast on this machine's loopback
    MESSAGE("multicast join: " << uvrun_errmsg());
    rc = uvrun_udp_join(member, "239.255.42.99", iface = nullptr);
  }
  REQUIRE(rc == 0);
  REQUIRE(uvrun_udp_set_multicast_loop(sender, 1) == 0);
  REQUIRE(uvrun_udp_set_multicast_ttl(sender, 1) == 0);
  uvrun_address_t group = {};
  std::strcpy(group.host, "239.255.42.99");
  group.port = local(member).port;
  REQUIRE(uvrun_udp_send_to(sender, "to all", 6, &group) == 0);
  CHECK(recv(loop, member) == "to all");
  CHECK(uvrun_udp_leave(member, "239.255.42.99", iface) == 0);
  CHECK(uvrun_udp_leave(member, "239.255.42.99", iface) == UV_EADDRNOTAVAIL);  // not a member now
  // E: not a group, bad ttl.
  CHECK(uvrun_udp_join(member, "not a group", nullptr) < 0);
  CHECK(std::string(uvrun_errmsg()).find("not a group") != std::string::npos);
  CHECK(uvrun_udp_set_multicast_ttl(sender, 0) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_set_multicast_loop(sender, 2) == UVRUN_E_INVAL);
  close_all(loop, {member, sender});
  uvrun_loop_free(loop);
}

TEST_CASE("L1 L2 L3: a run that opened UDP sockets and dropped them, mid-receive or not, leaves no fd behind") {
  uvrun_release_memory();  // the idle libuv loops kept for reuse
  int before = sk::count_fds();
  uvrun_udp_t *kept = nullptr;
  char buf[16];
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    if (step > 0) return 0;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_udp_t *a = bound(loop), *b = bound(loop);
    uvrun_future_unref(uvrun_udp_recv_from(a, buf, sizeof buf));  // dropped waiting
    uvrun_udp_unref(a);
    sendmsg_eagain = 1;
    REQUIRE(send(b, b, "queued") == 0);
    uvrun_udp_unref(b);  // dropped with a send queued
    kept = bound(loop);
    // A task still receiving on `kept` when the run ends: it is cancelled,
    // then the runner's close closes `kept`, which the caller still holds.
    uvrun_task_unref(t::spawn(loop, [&](uvrun_task_t *receiver, int receiver_step) {
      if (receiver_step > 0) return uvrun_task_resume(receiver, nullptr);
      return uvrun_task_await(receiver, uvrun_udp_recv_from(kept, buf, sizeof buf));
    }));
    return uvrun_task_sleep(task, 0.02);
  });
  CHECK(rc == 0);
  CHECK(info(kept).closed == 1);
  CHECK(info(kept).fd == -1);
  CHECK(uvrun_udp_recv_from(kept, buf, sizeof buf) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_STREAM_CLOSED);
  uvrun_udp_unref(kept);
  uvrun_release_memory();
  CHECK(sk::count_fds() == before);
}

TEST_CASE("E: bad addresses and ports, a busy receive, NULL buffers, options: clear errors, nothing leaked") {
  uvrun_loop_t *loop = t::new_loop();
  int before = sk::count_fds();
  uvrun_udp_t *u = nullptr;
  CHECK(uvrun_udp_bind(loop, "127.0.0.1", 65536, nullptr, &u) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("65536") != std::string::npos);
  CHECK(uvrun_udp_bind(loop, "127.0.0.1", -1, nullptr, &u) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_bind(loop, "localhost", 0, nullptr, &u) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("\"localhost\" is not a numeric") != std::string::npos);
  CHECK(uvrun_udp_bind(loop, "300.1.2.3", 0, nullptr, &u) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_bind(nullptr, nullptr, 0, nullptr, &u) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_bind(loop, nullptr, 0, nullptr, nullptr) == UVRUN_E_INVAL);
  uvrun_udp_opts_t opts;
  uvrun_udp_opts_init(&opts);
  opts.family = AF_UNIX;
  CHECK(uvrun_udp_bind(loop, nullptr, 0, &opts, &u) == UVRUN_E_INVAL);
  opts.size = 0;
  CHECK(uvrun_udp_bind(loop, nullptr, 0, &opts, &u) == UVRUN_E_INVAL);
  CHECK(u == nullptr);

  // Address in use: a second socket on a port taken without reuse_address.
  uvrun_udp_t *a = bound(loop), *b = bound(loop);
  CHECK(uvrun_udp_bind(loop, "127.0.0.1", local(a).port, nullptr, &u) == UV_EADDRINUSE);
  CHECK(std::string(uvrun_errmsg()).find("cannot bind a UDP socket to 127.0.0.1:") != std::string::npos);

  uvrun_address_t to = local(b);
  CHECK(uvrun_udp_connect(a, "127.0.0.1", 0) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_connect(a, "127.0.0.1", 70000) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_connect(a, nullptr, 1234) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_connect(a, "example.com", 1234) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_send(a, "x", 1) == UV_EDESTADDRREQ);  // not connected
  CHECK(uvrun_udp_send_to(a, nullptr, 1, &to) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_send_to(a, "x", 1, nullptr) == UVRUN_E_INVAL);
  to.port = 0;
  CHECK(uvrun_udp_send_to(a, "x", 1, &to) == UVRUN_E_INVAL);
  to.port = 99999;
  CHECK(uvrun_udp_send_to(a, "x", 1, &to) == UVRUN_E_INVAL);
  std::string huge(70000, 'h');  // more than a UDP datagram holds
  to = local(b);
  CHECK(uvrun_udp_send_to(a, huge.data(), huge.size(), &to) == UV_EMSGSIZE);
  CHECK(std::string(uvrun_errmsg()).find("send failed") != std::string::npos);
  CHECK(uvrun_udp_recv_from(a, nullptr, 16) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_udp_recv_address(nullptr, &to) == UVRUN_E_INVAL);

  // Two receives at once: the second fails, the first goes on.
  char buf1[16], buf2[16];
  uvrun_future_t *first = uvrun_udp_recv_from(b, buf1, sizeof buf1);
  REQUIRE(first != nullptr);
  CHECK(uvrun_udp_recv_from(b, buf2, sizeof buf2) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_READ_BUSY);
  uvrun_future_t *plain = t::new_future(loop);
  CHECK(uvrun_udp_recv_address(first, &to) == UVRUN_E_INVALID_STATE);  // still pending
  CHECK(uvrun_udp_recv_address(plain, &to) == UVRUN_E_INVAL);          // not a receive
  uvrun_future_unref(plain);
  REQUIRE(send(a, b, "ok") == 0);
  uintptr_t n = 0;
  CHECK(st::await(loop, first, &n) == 0);
  CHECK(std::string(buf1, n) == "ok");

  // After close, everything but info fails with STREAM_CLOSED.
  REQUIRE(uvrun_udp_close(a) == 0);
  CHECK(uvrun_udp_send_to(a, "x", 1, &to) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_send(a, "x", 1) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_recv_from(a, buf1, sizeof buf1) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_drain(a) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_connect(a, "127.0.0.1", 9) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_join(a, "239.1.1.1", nullptr) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_sockname(a, &to) == UVRUN_E_STREAM_CLOSED);
  // NULL sockets.
  CHECK(uvrun_udp_close(nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_send(nullptr, "x", 1) == UVRUN_E_INVAL);
  CHECK(uvrun_udp_info(nullptr, nullptr) == UVRUN_E_INVAL);
  uvrun_udp_unref(nullptr);
  close_all(loop, {a, b});
  CHECK(sk::count_fds() == before);
  uvrun_loop_free(loop);
}

TEST_CASE("E: a UDP socket on a closed loop: bind fails with LOOP_CLOSED, an open one's calls with STREAM_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_udp_t *u = bound(loop), *v = nullptr;
  REQUIRE(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_udp_bind(loop, "127.0.0.1", 0, nullptr, &v) == UVRUN_E_LOOP_CLOSED);
  CHECK(v == nullptr);
  char buf[4];
  CHECK(uvrun_udp_send(u, "x", 1) == UVRUN_E_STREAM_CLOSED);
  CHECK(uvrun_udp_recv_from(u, buf, sizeof buf) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_STREAM_CLOSED);
  CHECK(info(u).closed == 1);
  uvrun_udp_unref(u);
  uvrun_loop_free(loop);
}

TEST_SUITE_END();
