// connection.hpp -- one HTTP connection's coroutine, and the set of open
// connections a shutdown looks at.
#pragma once

#include <uvrun/uvrun.hpp>

#include <unordered_set>

namespace http_hello {

struct Connection;

// The open connections of one loop, and the requests they answered;
// stop() ends the idle ones and tells the others to end after the request
// they are in.
class Connections {
 public:
  void add(Connection *c) { open_.insert(c); }
  void remove(Connection *c) { open_.erase(c); }
  void answered(unsigned long n) { requests_ += n; }
  unsigned long requests() const { return requests_; }
  bool stopping() const { return stopping_; }
  void stop();

 private:
  std::unordered_set<Connection *> open_;
  unsigned long requests_ = 0;
  bool stopping_ = false;
};

uvrun::Task<void> handle(uvrun::Stream stream, Connections &connections);

}  // namespace http_hello
