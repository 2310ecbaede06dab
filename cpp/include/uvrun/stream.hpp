// uvrun/stream.hpp -- Stream: a TCP connection, a Unix socket or an adopted
// descriptor, read and written from coroutines (asyncio's StreamReader and
// StreamWriter in one object).
#pragma once

#include <uvrun.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "errors.hpp"
#include "future.hpp"

namespace uvrun {

struct StreamOptions {
  std::size_t read_limit = 0;  // 0: 64 KiB buffered before reading stops
  std::size_t write_high = 0;  // 0: 64 KiB
  std::size_t write_low = 0;   // 0: 16 KiB
  bool nodelay = true;
  int keepalive = 0;  // seconds; 0: off
  std::string local_host;
  int local_port = 0;
  double connect_timeout = 0;  // seconds; 0: none

  // Valid while this object lives (local_host is borrowed).
  uvrun_stream_opts_t c() const {
    uvrun_stream_opts_t o;
    uvrun_stream_opts_init(&o);
    o.read_limit = read_limit;
    o.write_high = write_high;
    o.write_low = write_low;
    o.nodelay = nodelay ? 1 : 0;
    o.keepalive = keepalive;
    o.local_host = local_host.empty() ? nullptr : local_host.c_str();
    o.local_port = local_port;
    o.connect_timeout = connect_timeout;
    return o;
  }
};

struct Address {
  std::string host;  // numeric; empty for a pipe
  int port = 0;
};

namespace detail {

// The I/O calls' codes are libuv's: see CodeSource.
inline int io_check(int rc) {
  if (rc < 0) throw_last(rc, CodeSource::io);
  return rc;
}
inline uvrun_future_t *io_check(uvrun_future_t *fut) {
  if (fut == nullptr) throw_last(UVRUN_E_INVAL, CodeSource::io);
  return fut;
}

// Awaits the future of an I/O call.
class IoAwaiter : public FutureAwaiter {
 public:
  explicit IoAwaiter(uvrun_future_t *fut) : FutureAwaiter(io_check(fut)) {}
  void *await_resume() {
    void *value = nullptr;
    if (const uvrun_error_t *err = resume_raw(&value)) throw_error(err, CodeSource::io);
    return value;
  }
};

struct IoVoidAwaiter : IoAwaiter {
  using IoAwaiter::IoAwaiter;
  void await_resume() { IoAwaiter::await_resume(); }
};

// Reads into a buffer of its own, which moves with the awaiter without
// moving its bytes (the C read writes into it when it completes). The buffer
// is left uninitialized and only the bytes read are copied out: a
// std::string of n would zero all n bytes first, which cost more than the
// rest of an HTTP request's handling when 16 KiB was asked for.
class ReadAwaiter : public IoAwaiter {
 public:
  enum Kind { kSome, kExactly, kUntil };
  ReadAwaiter(uvrun_stream_t *s, Kind kind, std::size_t n, std::string_view delim = {})
      : ReadAwaiter(s, kind, n, delim, std::unique_ptr<char[]>(new char[std::max<std::size_t>(n, 1)])) {}

  std::string await_resume() {
    void *value = nullptr;
    if (const uvrun_error_t *err = resume_raw(&value)) {
      if (uvrun_error_code(err) != UVRUN_E_INCOMPLETE_READ) throw_error(err, CodeSource::io);
      throw IncompleteReadError(uvrun_error_message(err),
                                std::string(buf_.get(), reinterpret_cast<std::uintptr_t>(uvrun_error_payload(err))));
    }
    return std::string(buf_.get(), reinterpret_cast<std::uintptr_t>(value));
  }

 private:
  ReadAwaiter(uvrun_stream_t *s, Kind kind, std::size_t n, std::string_view delim, std::unique_ptr<char[]> buf)
      : IoAwaiter(start(s, kind, n, delim, buf.get())), buf_(std::move(buf)) {}
  static uvrun_future_t *start(uvrun_stream_t *s, Kind kind, std::size_t n, std::string_view delim, char *buf) {
    if (s == nullptr) throw_empty("uvrun::Stream");
    switch (kind) {
    case kExactly: return uvrun_stream_read_exactly(s, buf, n);
    case kUntil: return uvrun_stream_read_until(s, delim.data(), delim.size(), buf, n);
    default: return uvrun_stream_read(s, buf, n);
    }
  }
  std::unique_ptr<char[]> buf_;
};

// Reads into the caller's buffer: no allocation.
struct ReadIntoAwaiter : IoAwaiter {
  using IoAwaiter::IoAwaiter;
  std::size_t await_resume() { return reinterpret_cast<std::uintptr_t>(IoAwaiter::await_resume()); }
};

// write(): queue, then drain -- backpressure by default.
class WriteAwaiter : public IoVoidAwaiter {
 public:
  WriteAwaiter(uvrun_stream_t *s, std::string_view bytes) : IoVoidAwaiter(queue(s, bytes)) {}

 private:
  static uvrun_future_t *queue(uvrun_stream_t *s, std::string_view bytes) {
    if (s == nullptr) throw_empty("uvrun::Stream");
    io_check(uvrun_stream_write(s, bytes.data(), bytes.size()));
    return uvrun_stream_drain(s);
  }
};

}  // namespace detail

class Stream {
 public:
  Stream() noexcept = default;
  // Adopts a reference.
  explicit Stream(uvrun_stream_t *adopted) noexcept : s_(adopted) {}
  Stream(Stream &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream &operator=(Stream o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  // Dropping the last reference to an open stream aborts it.
  ~Stream() { uvrun_stream_unref(s_); }

  // Adopts a connected socket or a pipe; the stream owns fd from now on.
  static Stream open(int fd) { return open(fd, StreamOptions()); }
  static Stream open(int fd, const StreamOptions &options) {
    uvrun_stream_opts_t o = options.c();
    uvrun_stream_t *s = nullptr;
    detail::io_check(uvrun_stream_open(running_loop(), fd, &o, &s));
    return Stream(s);
  }

  // U2: fd as a stream whatever it is (TTY, pipe, socket, file). Fds above
  // 2 are the stream's; 0, 1 and 2 are never closed (uvrun_stdio_open).
  static Stream open_stdio(int fd) {
    uvrun_stream_t *s = nullptr;
    detail::io_check(uvrun_stdio_open(running_loop(), fd, &s));
    return Stream(s);
  }
  // A TTY's raw mode on or off; closing the stream turns it off.
  void set_raw(bool raw) { detail::io_check(uvrun_stdio_set_raw(checked(), raw ? 1 : 0)); }

  // Up to n bytes as soon as any are there; "" at the end of the stream.
  detail::ReadAwaiter read(std::size_t n = 65536) { return {checked(), detail::ReadAwaiter::kSome, n}; }
  // Into buf; 0 at the end of the stream. buf must outlive the await.
  detail::ReadIntoAwaiter read_into(std::span<char> buf) {
    return detail::ReadIntoAwaiter(uvrun_stream_read(checked(), buf.data(), buf.size()));
  }
  // Exactly n bytes, or IncompleteReadError with what arrived.
  detail::ReadAwaiter read_exactly(std::size_t n) { return {checked(), detail::ReadAwaiter::kExactly, n}; }
  // Through the separator, at most limit bytes (LimitOverrunError).
  detail::ReadAwaiter read_until(std::string_view separator = "\n", std::size_t limit = 65536) {
    return {checked(), detail::ReadAwaiter::kUntil, limit, separator};
  }

  // Queues bytes and waits until the queue drains to the low-water mark.
  detail::WriteAwaiter write(std::string_view bytes) { return {checked(), bytes}; }
  // Queues bytes, never waits (asyncio's writer.write).
  void write_nowait(std::string_view bytes) {
    detail::io_check(uvrun_stream_write(checked(), bytes.data(), bytes.size()));
  }
  detail::IoVoidAwaiter drain() { return detail::IoVoidAwaiter(uvrun_stream_drain(checked())); }
  // Sends the end of stream after what is queued; reading goes on.
  detail::IoVoidAwaiter shutdown() { return detail::IoVoidAwaiter(uvrun_stream_shutdown(checked())); }
  void close() { detail::io_check(uvrun_stream_close(checked())); }
  void abort() { detail::io_check(uvrun_stream_abort(checked())); }
  detail::IoVoidAwaiter wait_closed() { return detail::IoVoidAwaiter(uvrun_stream_wait_closed(checked())); }

  uvrun_stream_info_t info() const {
    uvrun_stream_info_t i;
    i.size = sizeof i;
    detail::io_check(uvrun_stream_info(checked(), &i));
    return i;
  }
  Address local_address() const {
    uvrun_stream_info_t i = info();
    return {i.local_host, i.local_port};
  }
  Address peer_address() const {
    uvrun_stream_info_t i = info();
    return {i.peer_host, i.peer_port};
  }

  uvrun_stream_t *capi() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  uvrun_stream_t *checked() const {
    if (s_ == nullptr) detail::throw_empty("uvrun::Stream");
    return s_;
  }
  uvrun_stream_t *s_ = nullptr;
};

namespace detail {

// A future whose value is a stream the future owns: the awaiter takes a
// reference of its own.
struct StreamAwaiter : IoAwaiter {
  using IoAwaiter::IoAwaiter;
  Stream await_resume() { return Stream(uvrun_stream_ref(static_cast<uvrun_stream_t *>(IoAwaiter::await_resume()))); }
};

}  // namespace detail

// Options and names are taken by value or view, never as a default-argument
// temporary: GCC 12 destroys such a temporary twice when the call is the
// operand of co_await.
namespace tcp {
// Connects to host:port (a name is looked up; Happy Eyeballs among its
// addresses).
inline detail::StreamAwaiter connect(std::string_view host, int port, const StreamOptions &options) {
  std::string h(host);
  uvrun_stream_opts_t o = options.c();
  return detail::StreamAwaiter(uvrun_tcp_connect(running_loop(), h.c_str(), port, &o));
}
inline detail::StreamAwaiter connect(std::string_view host, int port) { return connect(host, port, StreamOptions()); }
}  // namespace tcp

// The running loop's view of the process's standard streams (U2).
inline Stream open_stdio(int fd) { return Stream::open_stdio(fd); }
namespace stdio {
inline Stream in() { return Stream::open_stdio(0); }
inline Stream out() { return Stream::open_stdio(1); }
inline Stream err() { return Stream::open_stdio(2); }
}  // namespace stdio

namespace unix_socket {
// A path starting with '@' names an abstract socket (Linux).
inline detail::StreamAwaiter connect(std::string_view path, const StreamOptions &options) {
  std::string p(path);
  uvrun_stream_opts_t o = options.c();
  return detail::StreamAwaiter(uvrun_unix_connect(running_loop(), p.c_str(), &o));
}
inline detail::StreamAwaiter connect(std::string_view path) { return connect(path, StreamOptions()); }
}  // namespace unix_socket

}  // namespace uvrun
