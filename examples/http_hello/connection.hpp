// connection.hpp -- one HTTP connection's coroutine, and the set of open
// connections a shutdown looks at.
#pragma once

#include <uvrun/uvrun.hpp>

#include <unordered_set>

namespace http_hello {

struct Connection;

// The open connections; stop() ends the idle ones and tells the others to
// end after the request they are in.
class Connections {
 public:
  void add(Connection *c) { open_.insert(c); }
  void remove(Connection *c) { open_.erase(c); }
  bool stopping() const { return stopping_; }
  void stop();

 private:
  std::unordered_set<Connection *> open_;
  bool stopping_ = false;
};

uvrun::Task<void> handle(uvrun::Stream stream, Connections &connections);

}  // namespace http_hello
