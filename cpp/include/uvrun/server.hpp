// uvrun/server.hpp -- Server: listen, accept, serve a coroutine per
// connection, shut down gracefully.
#pragma once

#include <uvrun.h>

#include <chrono>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "errors.hpp"
#include "future.hpp"
#include "stream.hpp"
#include "task.hpp"

namespace uvrun {

struct ServerOptions {
  int backlog = 0;  // 0: 511
  bool reuse_address = true;
  bool reuse_port = false;  // one server per thread on the same port
  StreamOptions stream;     // for the connections accepted
};

// What happens to the connections a graceful shutdown had to cancel.
enum class Then { close, abort };

// A connection handler: a coroutine given the connection.
using Handler = std::function<Task<void>(Stream)>;

namespace detail {

inline uvrun_server_opts_t server_opts(const ServerOptions &options) {
  uvrun_server_opts_t o;
  uvrun_server_opts_init(&o);
  o.backlog = options.backlog;
  o.reuse_address = options.reuse_address ? 1 : 0;
  o.reuse_port = options.reuse_port ? 1 : 0;
  o.stream = options.stream.c();
  return o;
}

// The C handler step of a served connection: its first step makes the
// coroutine (kept as the stream's data), every step drives it. The frame
// holds a Stream, so it is destroyed when the task ends, not with the
// stream: that would be a reference cycle. A handler left unfinished at
// loop close never ends: the server lets the data go then.
inline int serve_step(uvrun_task_t *task, uvrun_stream_t *stream, void *ud) noexcept {
  void *frame = uvrun_stream_data(stream);
  if (frame == nullptr) {
    try {
      Task<void> t = (*static_cast<Handler *>(ud))(Stream(uvrun_stream_ref(stream)));
      frame = t.take().address();
    } catch (...) {
      uvrun_error_t *err = error_from(std::current_exception());
      return err != nullptr ? uvrun_task_raise(task, err) : UVRUN_E_NOMEM;
    }
    uvrun_stream_set_data(stream, frame, destroy_frame);
  }
  int rc = step<void>(task, frame);
  if (rc != UVRUN_SUSPEND) uvrun_stream_set_data(stream, nullptr, nullptr);  // destroys the frame
  return rc;
}

inline void free_handler(void *p) { delete static_cast<Handler *>(p); }

}  // namespace detail

class Server {
 public:
  Server() noexcept = default;
  explicit Server(uvrun_server_t *adopted) noexcept : s_(adopted) {}
  Server(Server &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Server &operator=(Server o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  // The last reference closes it.
  ~Server() { uvrun_server_unref(s_); }

  int port() const { return detail::io_check(uvrun_server_port(checked())); }

  // One connection; a cancelled accept loses none.
  detail::StreamAwaiter accept() { return detail::StreamAwaiter(uvrun_server_accept(checked())); }

  // Runs handler(stream) as a task per connection, in a copy of the
  // current context. A handler that throws is reported to the loop's
  // exception handler and its connection closed; the server goes on.
  void serve(Handler handler) {
    auto *h = new Handler(std::move(handler));
    int rc = uvrun_server_serve(checked(), detail::serve_step, h, detail::free_handler);
    if (rc < 0) detail::throw_last(rc, detail::CodeSource::io);  // h is freed by the call
  }

  // Stops listening at once; connections are left alone.
  void close() { detail::io_check(uvrun_server_close(checked())); }

  // Stops listening, lets handlers finish for up to `grace`, then cancels
  // the rest and closes (or aborts) their connections.
  detail::IoVoidAwaiter shutdown(std::chrono::duration<double> grace, Then then = Then::close) {
    return detail::IoVoidAwaiter(uvrun_server_shutdown(checked(), grace.count(), then == Then::abort ? 1 : 0));
  }

  uvrun_server_info_t info() const {
    uvrun_server_info_t i;
    i.size = sizeof i;
    detail::io_check(uvrun_server_info(checked(), &i));
    return i;
  }

  uvrun_server_t *capi() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  uvrun_server_t *checked() const {
    if (s_ == nullptr) detail::throw_empty("uvrun::Server");
    return s_;
  }
  uvrun_server_t *s_ = nullptr;
};

namespace detail {

struct ServerAwaiter : IoAwaiter {
  using IoAwaiter::IoAwaiter;
  Server await_resume() { return Server(uvrun_server_ref(static_cast<uvrun_server_t *>(IoAwaiter::await_resume()))); }
};

}  // namespace detail

namespace tcp {
// Listens on every address host resolves to ("" for all interfaces); port 0
// picks a free port (Server::port()).
inline detail::ServerAwaiter listen(std::string_view host, int port, const ServerOptions &options) {
  std::string h(host);
  uvrun_server_opts_t o = detail::server_opts(options);
  return detail::ServerAwaiter(uvrun_tcp_listen(running_loop(), h.c_str(), port, &o));
}
inline detail::ServerAwaiter listen(std::string_view host, int port) { return listen(host, port, ServerOptions()); }
}  // namespace tcp

namespace unix_socket {
inline detail::ServerAwaiter listen(std::string_view path, const ServerOptions &options) {
  std::string p(path);
  uvrun_server_opts_t o = detail::server_opts(options);
  return detail::ServerAwaiter(uvrun_unix_listen(running_loop(), p.c_str(), &o));
}
inline detail::ServerAwaiter listen(std::string_view path) { return listen(path, ServerOptions()); }
}  // namespace unix_socket

}  // namespace uvrun
