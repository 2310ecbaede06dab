// http-asio -- an HTTP/1.1 hello server on standalone asio: C++20 coroutines
// (co_spawn, use_awaitable), one io_context on one thread. GET / answers
// "hello", anything else 404, a request that does not parse 400 and close.
// Requests are read by a small hand parser, as asio's own HTTP server example
// does: request line, Connection and Content-Length. Every read is parsed
// whole; its answers go out in one write (pipelined clients).
//
//   http-asio [--host HOST] [--port PORT]
//
// Port 0 picks a free port; the first line on stdout is "listening on
// HOST:PORT". SIGINT and SIGTERM end it (their default action).
#include <strings.h>

#include <asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxHead = 65536;

struct Request {
  bool hello = false;  // GET /
  bool keep_alive = false;
  size_t body_length = 0;
};

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Parses the head of a request (without its final empty line); false when
// it is not HTTP/1.x.
bool parse_head(std::string_view head, Request &r) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  std::string_view method = line.substr(0, sp1), version = line.substr(sp2 + 1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  r.hello = method == "GET" && path == "/";
  r.keep_alive = version == "HTTP/1.1";
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    std::string_view header = head.substr(0, eol);
    size_t colon = header.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = header.substr(0, colon), value = header.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (equal_nocase(name, "Connection")) {
      if (equal_nocase(value, "close")) r.keep_alive = false;
      if (equal_nocase(value, "keep-alive")) r.keep_alive = true;
    } else if (equal_nocase(name, "Content-Length")) {
      char *end;
      r.body_length = std::strtoul(std::string(value).c_str(), &end, 10);
      if (*end != '\0' || value.empty()) return false;
    }
  }
  return true;
}

void answer(std::string &out, const char *status, std::string_view body, bool keep_alive) {
  out += "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  out += body;
}

// Answers every complete request in `in` and removes it; false once the
// connection is to close.
bool answer_all(std::string &in, std::string &out) {
  for (;;) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (in.size() <= kMaxHead) return true;
      answer(out, "400 Bad Request", "bad request\n", false);
      return false;
    }
    Request r;
    if (!parse_head(std::string_view(in).substr(0, end), r)) {
      answer(out, "400 Bad Request", "bad request\n", false);
      return false;
    }
    size_t length = end + 4 + r.body_length;
    if (in.size() < length) return true;  // the body is still coming
    in.erase(0, length);
    if (r.hello) answer(out, "200 OK", "hello", r.keep_alive);
    else answer(out, "404 Not Found", "not found\n", r.keep_alive);
    if (!r.keep_alive) return false;
  }
}

awaitable<void> serve(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  std::string in, out;
  char buf[16384];
  asio::error_code ec;
  bool open = true;
  while (open) {
    size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // the client is done, or gone
    in.append(buf, n);
    open = answer_all(in, out);
    if (!out.empty()) co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    out.clear();
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> accept_all(tcp::acceptor &acceptor) {
  for (;;) {
    asio::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (!ec) co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

int usage() {
  std::fprintf(stderr, "usage: http-asio [--host HOST] [--port PORT]\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  std::string host = "127.0.0.1";
  long port = 0;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    if (std::strcmp(argv[i], "--host") == 0) {
      host = argv[i + 1];
    } else if (std::strcmp(argv[i], "--port") == 0) {
      char *end;
      port = std::strtol(argv[i + 1], &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) return usage();
    } else {
      return usage();
    }
  }
  try {
    asio::io_context context(1);
    tcp::endpoint endpoint = *tcp::resolver(context).resolve(host, std::to_string(port)).begin();
    tcp::acceptor acceptor(context);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(511);  // asyncio's, Node's and uvrun's backlog
    std::printf("listening on %s:%d\n", host.c_str(), acceptor.local_endpoint().port());
    std::fflush(stdout);
    co_spawn(context, accept_all(acceptor), asio::detached);
    context.run();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "http-asio: %s\n", e.what());
    return 1;
  }
}
