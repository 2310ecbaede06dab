// uvrun/udp.hpp -- DatagramSocket: a UDP socket, sent to and received from
// in coroutines (asyncio's DatagramTransport, awaited rather than called
// back). A receive is cancel-safe: one cancelled loses no datagram.
#pragma once

#include <uvrun.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "errors.hpp"
#include "future.hpp"
#include "stream.hpp"

namespace uvrun {

struct DatagramOptions {
  bool reuse_address = false;
  bool ipv6_only = false;
  bool broadcast = false;
  int family = 0;  // for an empty host: AF_INET (0) or AF_INET6

  uvrun_udp_opts_t c() const {
    uvrun_udp_opts_t o;
    uvrun_udp_opts_init(&o);
    o.reuse_address = reuse_address ? 1 : 0;
    o.ipv6_only = ipv6_only ? 1 : 0;
    o.broadcast = broadcast ? 1 : 0;
    if (family != 0) o.family = family;
    return o;
  }
};

// A datagram received: its bytes and its sender.
struct Datagram {
  std::string data;
  Address from;
};

// A datagram received into the caller's buffer: its length and sender.
struct Received {
  std::size_t size = 0;
  Address from;
};

namespace detail {

inline uvrun_address_t c_address(const Address &a) {
  uvrun_address_t out{};
  if (a.host.size() >= sizeof out.host) throw Error(UVRUN_E_INVAL, "address host \"" + a.host + "\" is too long");
  a.host.copy(out.host, a.host.size());
  out.port = a.port;
  return out;
}

// Awaits a recv_from. The task keeps the future it resumed from, so the
// sender is still there to read when the await resumes.
class RecvAwaiter : public IoAwaiter {
 public:
  explicit RecvAwaiter(uvrun_future_t *fut) : IoAwaiter(fut), recv_(fut) {}
  RecvAwaiter(RecvAwaiter &&) noexcept = default;

 protected:
  // The length; throws what the receive failed with.
  std::pair<std::size_t, Address> take() {
    std::size_t n = reinterpret_cast<std::uintptr_t>(IoAwaiter::await_resume());
    uvrun_address_t from;
    io_check(uvrun_udp_recv_address(recv_, &from));
    return {n, Address{from.host, from.port}};
  }

 private:
  const uvrun_future_t *recv_;
};

struct RecvIntoAwaiter : RecvAwaiter {
  using RecvAwaiter::RecvAwaiter;
  Received await_resume() {
    auto [n, from] = take();
    return {n, std::move(from)};
  }
};

// Receives into a buffer of its own, which moves with the awaiter without
// moving its bytes.
class RecvOwnAwaiter : public RecvAwaiter {
 public:
  RecvOwnAwaiter(uvrun_udp_t *u, std::size_t cap)
      : RecvOwnAwaiter(u, cap, std::unique_ptr<char[]>(new char[cap + 1])) {}
  Datagram await_resume() {
    auto [n, from] = take();
    return {std::string(buf_.get(), n), std::move(from)};
  }

 private:
  RecvOwnAwaiter(uvrun_udp_t *u, std::size_t cap, std::unique_ptr<char[]> buf)
      : RecvAwaiter(uvrun_udp_recv_from(u, buf.get(), cap)), buf_(std::move(buf)) {}
  std::unique_ptr<char[]> buf_;
};

}  // namespace detail

class DatagramSocket {
 public:
  DatagramSocket() noexcept = default;
  // Adopts a reference.
  explicit DatagramSocket(uvrun_udp_t *adopted) noexcept : u_(adopted) {}
  DatagramSocket(DatagramSocket &&o) noexcept : u_(std::exchange(o.u_, nullptr)) {}
  DatagramSocket &operator=(DatagramSocket o) noexcept {
    std::swap(u_, o.u_);
    return *this;
  }
  // Dropping the last reference to an open socket closes it.
  ~DatagramSocket() { uvrun_udp_unref(u_); }

  // Sends to and hears from this peer only (numeric host).
  void connect(std::string_view host, int port) {
    std::string h(host);
    detail::io_check(uvrun_udp_connect(checked(), h.c_str(), port));
  }

  // One datagram of at most max_size bytes (OSError EMSGSIZE if longer:
  // it is dropped, the next is not).
  detail::RecvOwnAwaiter recv_from(std::size_t max_size = 65536) { return {checked(), max_size}; }
  // Into buf, which must outlive the await.
  detail::RecvIntoAwaiter recv_from(std::span<char> buf) {
    return detail::RecvIntoAwaiter(uvrun_udp_recv_from(checked(), buf.data(), buf.size()));
  }

  // Queue, then wait until nothing is queued: backpressure by default.
  // Pass a named Address: GCC 12 destroys a braced temporary twice when
  // the call is the operand of co_await.
  detail::IoVoidAwaiter send_to(std::string_view bytes, const Address &to) {
    send_to_nowait(bytes, to);
    return drain();
  }
  detail::IoVoidAwaiter send(std::string_view bytes) {
    send_nowait(bytes);
    return drain();
  }
  // Never waits (asyncio's sendto).
  void send_to_nowait(std::string_view bytes, const Address &to) {
    uvrun_address_t a = detail::c_address(to);
    detail::io_check(uvrun_udp_send_to(checked(), bytes.data(), bytes.size(), &a));
  }
  void send_nowait(std::string_view bytes) { detail::io_check(uvrun_udp_send(checked(), bytes.data(), bytes.size())); }
  detail::IoVoidAwaiter drain() { return detail::IoVoidAwaiter(uvrun_udp_drain(checked())); }

  // Multicast: iface is the numeric address of the interface ("": any).
  void join_group(std::string_view group, std::string_view iface = {}) { membership(group, iface, true); }
  void leave_group(std::string_view group, std::string_view iface = {}) { membership(group, iface, false); }
  void set_multicast_loop(bool on) { detail::io_check(uvrun_udp_set_multicast_loop(checked(), on ? 1 : 0)); }
  void set_multicast_ttl(int ttl) { detail::io_check(uvrun_udp_set_multicast_ttl(checked(), ttl)); }

  // Sends what is queued, then closes; a waiting receive fails with
  // StreamClosedError. Idempotent.
  void close() { detail::io_check(uvrun_udp_close(checked())); }

  Address local_address() const { return name(uvrun_udp_sockname); }
  Address peer_address() const { return name(uvrun_udp_peername); }
  uvrun_udp_info_t info() const {
    uvrun_udp_info_t i;
    i.size = sizeof i;
    detail::io_check(uvrun_udp_info(checked(), &i));
    return i;
  }

  uvrun_udp_t *capi() const noexcept { return u_; }
  explicit operator bool() const noexcept { return u_ != nullptr; }

 private:
  uvrun_udp_t *checked() const {
    if (u_ == nullptr) detail::throw_empty("uvrun::DatagramSocket");
    return u_;
  }
  void membership(std::string_view group, std::string_view iface, bool join) {
    std::string g(group), i(iface);
    uvrun_udp_t *u = checked();
    const char *on = i.empty() ? nullptr : i.c_str();
    detail::io_check(join ? uvrun_udp_join(u, g.c_str(), on) : uvrun_udp_leave(u, g.c_str(), on));
  }
  Address name(int (*get)(const uvrun_udp_t *, uvrun_address_t *)) const {
    uvrun_address_t a;
    detail::io_check(get(checked(), &a));
    return {a.host, a.port};
  }
  uvrun_udp_t *u_ = nullptr;
};

namespace udp {
// A socket bound to host (numeric; "": any) and port (0: a free one, see
// local_address()), on the running loop.
inline DatagramSocket bind(std::string_view host, int port, const DatagramOptions &options) {
  std::string h(host);
  uvrun_udp_opts_t o = options.c();
  uvrun_udp_t *u = nullptr;
  detail::io_check(uvrun_udp_bind(running_loop(), h.c_str(), port, &o, &u));
  return DatagramSocket(u);
}
inline DatagramSocket bind(std::string_view host, int port) { return udp::bind(host, port, DatagramOptions()); }
}  // namespace udp

}  // namespace uvrun
