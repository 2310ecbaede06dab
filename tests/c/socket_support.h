// Helpers shared by the socket suites (test_dns, test_tcp, test_server,
// test_unix): a future waited for on a standalone loop, raw sockets made
// with the system calls, open descriptors counted, and a child process that
// sees an /etc/hosts of its own.
#pragma once
#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <uvrun.h>

#include <cstdio>
#include <functional>
#include <string>

#include "support.h"

namespace sk {

// A future run to its end on its loop (uvrun_loop_run_until_complete): the
// code, the value and the message; the future is kept until the end of the
// scope, since it owns its value.
struct Waited {
  int rc = 1;
  void *value = nullptr;
  std::string message;
  uvrun_future_t *fut = nullptr;
  Waited() = default;
  Waited(const Waited &) = delete;
  Waited(Waited &&o) noexcept : rc(o.rc), value(o.value), message(std::move(o.message)), fut(o.fut) { o.fut = nullptr; }
  ~Waited() { uvrun_future_unref(fut); }
};
// Takes over fut; a NULL fut gives its recorded error.
inline Waited wait(uvrun_loop_t *loop, uvrun_future_t *fut) {
  Waited w;
  if (fut == nullptr) {
    w.rc = t::take_error().code;
    w.message = uvrun_errmsg();
    return w;
  }
  w.fut = fut;
  w.rc = uvrun_loop_run_until_complete(loop, fut, &w.value);
  if (w.rc < 0) w.message = uvrun_errmsg();
  return w;
}

// The entries of a /proc directory (descriptors, threads).
inline int count_entries(const char *dir) {
  int n = 0;
  DIR *d = opendir(dir);
  REQUIRE(d != nullptr);
  while (struct dirent *e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

// The descriptors this process has open.
inline int count_fds() { return count_entries("/proc/self/fd") - 1; }  // less the directory's own

// A TCP socket listening on 127.0.0.1 at a free port, with the system calls
// only (no libuv): *port gets the port.
inline int raw_listener(int backlog, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  REQUIRE(listen(fd, backlog) == 0);
  socklen_t len = sizeof sa;
  REQUIRE(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

// A port on 127.0.0.1 where nobody listens (bound, never listening: the
// kernel refuses connections to it, and no other test takes it meanwhile).
struct ClosedPort {
  int fd = -1;
  int port = 0;
  ClosedPort() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    socklen_t len = sizeof sa;
    REQUIRE(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    port = ntohs(sa.sin_port);
  }
  ~ClosedPort() { close(fd); }
};

// A listener whose backlog is full: a connect to it stays pending (the
// kernel drops its SYN), which is how a slow or silent peer looks.
struct FullListener {
  int fd = -1;
  int filler = -1;
  int port = 0;
  FullListener() {
    fd = raw_listener(0, &port);
    filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(filler, (struct sockaddr *)&sa, sizeof sa) == 0);
  }
  ~FullListener() {
    close(filler);
    close(fd);
  }
};

// Runs fn in a child process whose /etc/hosts holds `hosts` and whose names
// come from that file only (a mount namespace of its own), so that a name's
// addresses and an unknown name's failure do not depend on the network.
// `gai` (when not empty) replaces /etc/gai.conf, which orders the addresses.
inline t::ChildResult with_hosts(const std::string &hosts, std::function<int()> fn, const std::string &gai = "") {
  return t::in_child([&]() -> int {
    char dir[] = "/tmp/uvrun-hosts-XXXXXX";
    CHILD_EXPECT(mkdtemp(dir) != nullptr, 90);
    struct Replaced {
      std::string path, text;
    } files[] = {{"/etc/hosts", hosts}, {"/etc/nsswitch.conf", "hosts: files\n"}, {"/etc/gai.conf", gai}};
    CHILD_EXPECT(unshare(CLONE_NEWNS) == 0, 93);
    CHILD_EXPECT(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0, 94);
    for (const Replaced &f : files) {
      if (f.text.empty()) continue;
      std::string copy = std::string(dir) + "/" + std::to_string(&f - files);
      FILE *out = fopen(copy.c_str(), "w");
      CHILD_EXPECT(out != nullptr, 91);
      fputs(f.text.c_str(), out);
      fclose(out);
      CHILD_EXPECT(mount(copy.c_str(), f.path.c_str(), nullptr, MS_BIND, nullptr) == 0, 95);
      unlink(copy.c_str());  // the mount keeps it
    }
    int code = fn();
    for (const Replaced &f : files)
      if (!f.text.empty()) umount(f.path.c_str());
    rmdir(dir);
    return code;
  });
}

}  // namespace sk
