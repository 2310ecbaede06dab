// Two connected C++ Streams over a Unix socket pair: what the stream tests
// read and write through.
#pragma once

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <uvrun/uvrun.hpp>

#include <utility>

namespace t {

inline std::pair<uvrun::Stream, uvrun::Stream> stream_pair() {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  return {uvrun::Stream::open(fds[0]), uvrun::Stream::open(fds[1])};
}

}  // namespace t
