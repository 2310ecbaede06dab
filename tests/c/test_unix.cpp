// Unix-domain sockets (U1): paths and Linux's abstract names, adopting a
// pipe (U3), and their bad input (E).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uvrun.h>

#include <string>

#include "socket_support.h"
#include "stream_support.h"
#include "support.h"

TEST_SUITE_BEGIN("sockets");

namespace {

// A directory of its own for a test's socket files, removed at the end.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/uvrun-unix-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  std::string at(const char *name) const { return path + "/" + name; }
  ~TempDir() { rmdir(path.c_str()); }
};

bool is_socket(const std::string &path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Listens on `where`, connects to it, and checks both ways of the line.
void talk(uvrun_loop_t *loop, const std::string &where) {
  sk::Waited server = sk::wait(loop, uvrun_unix_listen(loop, where.c_str(), nullptr));
  INFO(server.message);
  REQUIRE(server.rc == 0);
  auto *srv = static_cast<uvrun_server_t *>(server.value);
  CHECK(uvrun_server_port(srv) == UVRUN_E_INVAL);
  CHECK(t::take_error().message == "a Unix server has no port");
  sk::Waited client = sk::wait(loop, uvrun_unix_connect(loop, where.c_str(), nullptr));
  REQUIRE(client.rc == 0);
  sk::Waited conn = sk::wait(loop, uvrun_server_accept(srv));
  REQUIRE(conn.rc == 0);
  auto *c = static_cast<uvrun_stream_t *>(client.value);
  auto *s = static_cast<uvrun_stream_t *>(conn.value);
  CHECK(uvrun_stream_write(c, "over unix", 9) == 0);
  CHECK(st::read_n(loop, s, 9) == "over unix");
  CHECK(uvrun_stream_write(s, "back", 4) == 0);
  CHECK(st::read_n(loop, c, 4) == "back");
  CHECK(std::string(st::info(c).peer_host) == "");  // no IP address on a pipe
}

}  // namespace

TEST_CASE("U1: a Unix server on a path talks both ways; its socket file goes with it") {
  uvrun_loop_t *loop = t::new_loop();
  TempDir dir;
  std::string path = dir.at("s.sock");
  talk(loop, path);
  CHECK_FALSE(is_socket(path));  // the server was dropped with its future
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("U1: an abstract name ('@' for the leading NUL) needs no file") {
  uvrun_loop_t *loop = t::new_loop();
  std::string name = "@uvrun-test-" + std::to_string(getpid());
  talk(loop, name);
  // The name is free again once its server is gone.
  sk::Waited again = sk::wait(loop, uvrun_unix_listen(loop, name.c_str(), nullptr));
  CHECK(again.rc == 0);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("U1: a socket file left by an earlier run is replaced; any other file stays and listen fails") {
  uvrun_loop_t *loop = t::new_loop();
  TempDir dir;
  std::string path = dir.at("stale.sock");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&sun), sizeof sun) == 0);
  close(fd);  // the file stays behind
  REQUIRE(is_socket(path));
  {
    sk::Waited w = sk::wait(loop, uvrun_unix_listen(loop, path.c_str(), nullptr));
    CHECK(w.rc == 0);
  }
  std::string plain = dir.at("plain");
  FILE *f = fopen(plain.c_str(), "w");
  REQUIRE(f != nullptr);
  fclose(f);
  {
    sk::Waited w = sk::wait(loop, uvrun_unix_listen(loop, plain.c_str(), nullptr));
    CHECK(w.rc == -EADDRINUSE);
    CHECK(w.message == "listen on " + plain + ": address already in use");
  }
  unlink(plain.c_str());
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: a Unix path longer than sun_path, or none, fails at once with UVRUN_E_INVAL") {
  uvrun_loop_t *loop = t::new_loop();
  std::string too_long = "/tmp/" + std::string(sizeof(sockaddr_un{}.sun_path), 'x');
  std::string expected = "Unix socket path \"" + too_long + "\" is longer than 107 bytes";
  CHECK(uvrun_unix_listen(loop, too_long.c_str(), nullptr) == nullptr);
  CHECK(t::take_error().message == expected);
  CHECK(uvrun_unix_connect(loop, too_long.c_str(), nullptr) == nullptr);
  CHECK(t::take_error().message == expected);
  // An abstract name may use all of sun_path: no NUL ends it.
  std::string longest = "@" + std::string(sizeof(sockaddr_un{}.sun_path) - 1, 'y');
  {
    sk::Waited w = sk::wait(loop, uvrun_unix_listen(loop, longest.c_str(), nullptr));
    CHECK(w.rc == 0);
  }
  CHECK(uvrun_unix_listen(loop, (longest + "y").c_str(), nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  for (const char *bad : {"", "@"}) {
    CHECK(uvrun_unix_connect(loop, bad, nullptr) == nullptr);
    CHECK(t::take_error().message == "a Unix socket needs a path or an @name, not \"" + std::string(bad) + "\"");
  }
  CHECK(uvrun_unix_listen(loop, nullptr, nullptr) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: connecting to a missing path, or one nobody listens on, names the path") {
  uvrun_loop_t *loop = t::new_loop();
  TempDir dir;
  std::string missing = dir.at("missing.sock");
  CHECK(uvrun_unix_connect(loop, missing.c_str(), nullptr) == nullptr);
  t::TakenError e = t::take_error();
  CHECK(e.code == -ENOENT);
  CHECK(e.message == "connect to " + missing + ": no such file or directory");
  std::string name = "@uvrun-nobody-" + std::to_string(getpid());
  CHECK(uvrun_unix_connect(loop, name.c_str(), nullptr) == nullptr);
  e = t::take_error();
  CHECK(e.code == -ECONNREFUSED);
  CHECK(e.message == "connect to " + name + ": connection refused");
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("U3: a stream adopts the write end of a pipe") {
  uvrun_loop_t *loop = t::new_loop();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  uvrun_stream_t *out = nullptr;
  REQUIRE(uvrun_stream_open(loop, fds[1], nullptr, &out) == 0);
  CHECK(uvrun_stream_write(out, "piped", 5) == 0);
  CHECK(st::await(loop, uvrun_stream_drain(out)) == 0);
  char buf[8] = {};
  CHECK(read(fds[0], buf, sizeof buf) == 5);
  CHECK(std::string(buf) == "piped");
  CHECK(uvrun_stream_close(out) == 0);
  CHECK(st::await(loop, uvrun_stream_wait_closed(out)) == 0);
  uvrun_stream_unref(out);
  CHECK(read(fds[0], buf, sizeof buf) == 0);  // the stream closed its end
  close(fds[0]);
  CHECK(uvrun_loop_free(loop) == 0);
}
