// connection.cpp -- reads what the client sends, feeds it to http-parser,
// and answers every complete request; the answers to one read go out in one
// write (pipelined clients), and the connection reads again once they
// drained.
#include "connection.hpp"

#include <http_parser.h>

#include <string>
#include <string_view>

namespace http_hello {

struct Connection {
  uvrun::TaskHandle<> task = uvrun::current_task();
  bool idle = true;  // waiting for a request, nothing of one received
};

void Connections::stop() {
  stopping_ = true;
  for (Connection *c : open_)
    if (c->idle) c->task.cancel("server shutdown");
}

namespace {

// What the parser callbacks see.
struct Exchange {
  std::string path;
  std::string out;            // answers not yet written
  unsigned long answers = 0;  // in out
  bool in_message = false;
  bool close = false;
};

void answer(Exchange &x, const char *status, std::string_view body, bool keep_alive) {
  x.out += "HTTP/1.1 ";
  x.out += status;
  x.out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  x.out += std::to_string(body.size());
  x.out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  x.out += body;
  x.answers++;
  if (!keep_alive) x.close = true;
}

int on_message_begin(http_parser *p) {
  auto &x = *static_cast<Exchange *>(p->data);
  x.path.clear();
  x.in_message = true;
  return 0;
}

int on_url(http_parser *p, const char *at, size_t n) {
  static_cast<Exchange *>(p->data)->path.append(at, n);
  return 0;
}

int on_message_complete(http_parser *p) {
  auto &x = *static_cast<Exchange *>(p->data);
  x.in_message = false;
  std::string_view path = x.path;
  path = path.substr(0, path.find('?'));
  bool keep_alive = http_should_keep_alive(p) != 0;
  if (p->method != HTTP_GET) answer(x, "405 Method Not Allowed", "method not allowed\n", keep_alive);
  else if (path == "/") answer(x, "200 OK", "hello", keep_alive);
  else answer(x, "404 Not Found", "not found\n", keep_alive);
  // Stop after a request that ends the connection: what follows is not ours.
  return x.close ? 1 : 0;
}

const http_parser_settings kSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = on_message_begin;
  s.on_url = on_url;
  s.on_message_complete = on_message_complete;
  return s;
}();

}  // namespace

uvrun::Task<void> handle(uvrun::Stream stream, Connections &connections) {
  Connection self;
  connections.add(&self);
  struct Leave {
    Connections &all;
    Connection *c;
    ~Leave() { all.remove(c); }
  } leave{connections, &self};
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  Exchange x;
  parser.data = &x;
  try {
    while (!x.close && !connections.stopping()) {
      self.idle = !x.in_message;
      std::string data = co_await stream.read(16384);
      self.idle = false;
      if (data.empty()) break;  // the client is done
      size_t used = http_parser_execute(&parser, &kSettings, data.data(), data.size());
      if (!x.close && (HTTP_PARSER_ERRNO(&parser) != HPE_OK || parser.upgrade || used != data.size())) {
        answer(x, "400 Bad Request", "bad request\n", false);
      }
      if (!x.out.empty()) co_await stream.write(x.out);
      connections.answered(x.answers);
      x.out.clear();
      x.answers = 0;
    }
  } catch (const uvrun::ConnectionError &) {
    // A client that resets or goes away mid-answer is an everyday event for
    // a server, not an error to report: its connection just ends.
  }
  stream.close();
}

}  // namespace http_hello
