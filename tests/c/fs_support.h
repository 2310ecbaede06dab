// Helpers shared by the file suites (test_fs, test_fs_cancel): a directory
// of the test's own, files made and read with the system calls, an executor
// held busy, and a FIFO that holds a job inside open() or read().
#pragma once
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uvrun.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace fsk {

// A fresh directory, removed with all it holds at the end of the scope.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/uvrun-fs-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  TempDir(const TempDir &) = delete;
  std::string at(const std::string &name) const { return path + "/" + name; }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline void put(const std::string &path, const std::string &bytes) { std::ofstream(path, std::ios::binary) << bytes; }
inline std::string get(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}
inline bool exists(const std::string &path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// The bytes of a future's uvrun_bytes_t value.
inline std::string bytes(void *value) {
  auto *b = static_cast<const uvrun_bytes_t *>(value);
  return b != nullptr ? std::string(b->data, b->len) : std::string("(null)");
}

// An executor job that holds its worker until *gate opens.
inline int wait_for_gate(void *ud, void **) {
  auto *gate = static_cast<std::atomic<bool> *>(ud);
  while (!gate->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 0;
}

inline uvrun_options_t one_worker() {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 1;
  return opts;
}

// A FIFO: a job that opens it for reading waits in open() until a writer
// comes; writer() tells whether that job is in there yet (a writer's open
// fails with ENXIO while no reader is).
// How many of this process's descriptors are open on path (a FIFO's ends):
// a count other tests' descriptors, closing late or opened lazily, leave
// alone.
inline int fds_on(const std::string &path) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (struct dirent *e = readdir(d)) {
    char link[4096];
    std::string at = std::string("/proc/self/fd/") + e->d_name;
    ssize_t k = readlink(at.c_str(), link, sizeof link);
    if (k > 0 && std::string(link, (size_t)k) == path) n++;
  }
  closedir(d);
  return n;
}

struct Fifo {
  std::string path;
  int wfd = -1;
  explicit Fifo(std::string p) : path(std::move(p)) { REQUIRE(mkfifo(path.c_str(), 0600) == 0); }
  bool reader_waiting() {
    if (wfd < 0) wfd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return wfd >= 0;
  }
  // Writes bytes and the end; the reader's job then finishes.
  void finish(const std::string &bytes) {
    REQUIRE(wfd >= 0);
    REQUIRE(write(wfd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    close(wfd);
    wfd = -1;
  }
  ~Fifo() {
    if (wfd >= 0) close(wfd);
  }
};

}  // namespace fsk
